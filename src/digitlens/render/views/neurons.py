"""View 5 (S3): which hidden neurons matter, drawn and measured.

The mosaic shows the layer's neurons from most to least important (first-layer weights, or
composed weights for deeper layers), framed purple if dead, grey if dim, teal if a
near-duplicate; the charts prove it with ablations (``digitlens.analysis.neurons``).
"""

from __future__ import annotations

import numpy as np

from digitlens.analysis.compose import composed_weights
from digitlens.analysis.neurons import NeuronReport
from digitlens.nn.mlp import MLP
from digitlens.render import charts
from digitlens.render import colors as C
from digitlens.render.draw import weight_tiles
from digitlens.render.image import Picture
from digitlens.render.tiles import Canvas, framed, grid_shape, mosaic, stack, titled

MAX_TILES = 256


def status_colours(rep: NeuronReport) -> np.ndarray:
    dup = np.zeros(rep.n, bool)
    for i, j, _ in rep.duplicates:
        dup[i] = dup[j] = True
    out = np.full(rep.n, C.WHITE, np.uint8)
    out[dup] = C.INDEX["dup"]
    out[rep.dim] = C.INDEX["dim"]
    out[rep.dead] = C.INDEX["dead"]
    return out


def neuron_mosaic(model: MLP, rep: NeuronReport) -> np.ndarray:
    """The layer's neurons ranked most → least important, each framed by its status."""
    w = composed_weights(model, rep.layer)  # (784, n)
    order = rep.order[::-1][:MAX_TILES]
    scale = 2 if len(order) <= MAX_TILES else 1
    tiles = weight_tiles(w[:, order], C.symmetric_limit(w), scale)
    tiles = framed(tiles, status_colours(rep)[order], 2)
    cols = grid_shape(len(order))[1]
    img = mosaic(tiles, cols, 4)
    key = Canvas(20, img.shape[1])
    x = 0
    for colour, text in (("dead", "dead (output never changes)"), ("dim", "dim"),
                         ("dup", "near-duplicate of another neuron")):
        key.rect(4, x, 12, 12, C.INDEX[colour])
        x += 18 + key.text(2, x + 18, text, 11) + 18
    return stack([img, key.idx], gap=6)


def neurons_view(model: MLP, rep: NeuronReport) -> Picture:
    """Mosaic and charts for one layer's neuron report."""
    what = "first-layer weights" if rep.layer == 0 else "composed weights"
    top = titled(neuron_mosaic(model, rep),
                 f"Hidden layer {rep.layer + 1}: {rep.n} neurons, most important first",
                 subtitle=f"each tile is a neuron's {what} (red +, blue −, one shared scale); "
                          f"{int(rep.dead.sum())} dead, {int(rep.dim.sum())} dim, "
                          f"{len(rep.duplicates)} near-duplicate pairs")
    chart = charts.neuron_charts(rep)
    rgb_top = C.to_rgb(np.pad(top, ((0, 0), (0, max(0, chart.shape[1] - top.shape[1]))),
                              constant_values=C.WHITE))
    width = max(rgb_top.shape[1], chart.shape[1])
    rgb = np.full((rgb_top.shape[0] + 16 + chart.shape[0], width, 3), 255, np.uint8)
    rgb[: rgb_top.shape[0], : rgb_top.shape[1]] = rgb_top
    rgb[rgb_top.shape[0] + 16:, : chart.shape[1]] = chart
    return Picture(rgb, "neurons", f"Switching off the {rep.redundant} least important neurons "
                   f"of {rep.n} costs at most half a point of accuracy: they are redundant, as "
                   "S3 suspected from the pale tiles.", rep.to_dict())
