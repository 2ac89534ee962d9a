"""View 5 (S3): which hidden neurons matter, drawn and measured.

The mosaic shows the layer's neurons from most to least important (first-layer weights, or
composed weights for deeper layers), framed purple if dead, grey if dim, teal if a
near-duplicate; the charts prove it with ablations (``digitlens.analysis.neurons``). The key
and the sentences are measured and worded for any layer size, one neuron to thousands.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlens import palette as C
from digitlens.analysis.neurons import TOLERANCE, NeuronReport
from digitlens.nn.compose import composed_weights
from digitlens.nn.mlp import MLP
from digitlens.numbering import layer_name
from digitlens.render import charts
from digitlens.render.draw import weight_tiles
from digitlens.render.image import Picture
from digitlens.render.tiles import framed, grid_shape, mosaic, stack, swatch_legend, titled
from digitlens.wording import count

MAX_TILES = 1024  # more neurons than this: the most and the least important half each
SCALE_UP_TO = 256  # layers up to this size get tiles at twice the size
KEY = (("dead", "dead (output never changes)"), ("dim", "dim"),
       ("dup", "near-duplicate of another neuron"))


def status_colours(rep: NeuronReport) -> np.ndarray:
    dup = np.zeros(rep.n, bool)
    for i, j, _ in rep.duplicates:
        dup[i] = dup[j] = True
    out = np.full(rep.n, C.WHITE, np.uint8)
    out[dup] = C.INDEX["dup"]
    out[rep.dim] = C.INDEX["dim"]
    out[rep.dead] = C.INDEX["dead"]
    return out


def shown_neurons(rep: NeuronReport) -> np.ndarray:
    """The neurons drawn, most important first: all of them, or for a layer wider than
    ``MAX_TILES`` the most and the least important half each (the flagged ones are last)."""
    order = rep.order[::-1]
    if len(order) <= MAX_TILES:
        return order
    half = MAX_TILES // 2
    return np.concatenate([order[:half], order[-half:]])


def neuron_mosaic(model: MLP, rep: NeuronReport, width: int = 0) -> np.ndarray:
    """The layer's neurons ranked most → least important, each framed by its status, over a
    colour key that wraps to fit ``width`` (or the mosaic's width if wider)."""
    w = composed_weights(model, rep.layer)  # (pixels, n)
    order = shown_neurons(rep)
    scale = 2 if len(order) <= SCALE_UP_TO else 1
    tiles = weight_tiles(w[:, order], C.symmetric_limit(w), scale, model.input_shape)
    tiles = framed(tiles, status_colours(rep)[order], 2)
    cols = grid_shape(len(order))[1]
    img = mosaic(tiles, cols, 4)
    key = swatch_legend([(C.INDEX[c], text) for c, text in KEY], max(width, img.shape[1]))
    return stack([img, key], gap=6)


def redundancy_sentence(rep: NeuronReport, bold: bool = False) -> str:
    """How many of the least important neurons can go together within ``TOLERANCE``, in words
    that agree with the count (``bold``: the count in HTML <b>). The count is measured with the
    neurons frozen at their mean output, which is what pruning them (the mean folded into the
    next layer's bias) computes; the words say so, because outputting 0 instead costs more."""
    k, n = rep.redundant, rep.n
    cost = f"{TOLERANCE * 100:.1f} points of accuracy"
    if k == 0:
        if n == 1:
            return (f"The layer's only neuron is needed: freezing it at its mean output costs "
                    f"more than {cost}.")
        tried = next((j for j in rep.ks if j > 0), 1)
        which = ("the least important one" if tried == 1
                 else f"the {tried} least important together")
        return f"None of the {n} neurons is redundant: freezing even {which} at their mean " \
               f"output costs more than {cost}."
    if k == 1:
        return (f"Freezing the least important neuron of {n} at its mean output (pruning it) "
                f"costs at most {cost}.")
    num = f"<b>{k}</b>" if bold else str(k)
    return (f"Freezing the {num} least important neurons of {n} together at their mean outputs "
            f"(pruning them) costs at most {cost}.")


def neurons_view(model: MLP, rep: NeuronReport, history: dict[str, Any] | None = None
                 ) -> Picture:
    """Mosaic and charts for one layer's neuron report; with ``history`` (the run's per-epoch
    counts, ``digitlens.analysis.monitor.history_counts``) a chart of them underneath."""
    what = "first-layer weights" if rep.layer == 0 else "composed weights"
    shown = len(shown_neurons(rep))
    title = f"{layer_name(rep.layer).capitalize()}: {count(rep.n, 'neuron')}, most important first"
    if shown < rep.n:
        title += f" (the {shown // 2} most and {shown // 2} least important)"
    chart = charts.neuron_charts(rep)
    if history is not None:
        from digitlens.render.views.monitor import neuron_history_chart
        line = neuron_history_chart(history, chart.shape[1], 300)
        chart = np.concatenate([chart, np.full((8, chart.shape[1], 3), 255, np.uint8), line])
    top = titled(neuron_mosaic(model, rep, chart.shape[1]), title,
                 subtitle=f"each tile is a neuron's {what} ({C.hue('pos')} +, {C.hue('neg')} −, "
                          "one shared scale); "
                          f"{int(rep.dead.sum())} dead, {int(rep.dim.sum())} dim, "
                          f"{count(len(rep.duplicates), 'near-duplicate pair')}")
    rgb_top = C.to_rgb(top)
    width = max(rgb_top.shape[1], chart.shape[1])
    rgb = np.full((rgb_top.shape[0] + 16 + chart.shape[0], width, 3), 255, np.uint8)
    rgb[: rgb_top.shape[0], : rgb_top.shape[1]] = rgb_top
    rgb[rgb_top.shape[0] + 16:, : chart.shape[1]] = chart
    verdict = {0: "", 1: " It is redundant, as S3 suspected from the pale tiles."}.get(
        rep.redundant, " They are redundant, as S3 suspected from the pale tiles.")
    if model.input_shape != (28, 28) or model.meta.get("imported_from"):
        # S3's story is about MNIST nets trained here; an import's tiles were not S3's
        verdict = verdict.split(",")[0] + "." if verdict else ""
    return Picture(rgb, "neurons", redundancy_sentence(rep) + verdict, rep.to_dict())
