"""What a convolutional network looks for and what it sees: every convolution's kernels as small
images (``filters``), and every channel's feature map for one digit (``feature_maps``).

Kernels are drawn red/blue around zero with one scale per layer (the colour bar says it), so two
kernels of a layer compare by colour; a layer reading several channels shows one row per kernel
and one column per channel it reads. Feature maps are black (0) to white (the layer's largest
value for this digit), one tile per channel, after the layer's nonlinearity or pooling: the
maps the next layer reads.
"""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN, Conv, Pool
from digitlens.render.draw import digit_tile
from digitlens.render.image import Picture
from digitlens.render.tiles import colorbar, framed, mosaic, stack, titled, upscale
from digitlens.wording import count

TILE = 56  # px: the side a kernel or a map is scaled up towards


def _scale(side: int) -> int:
    return max(1, TILE // side)


def filters(model: CNN) -> Picture:
    """Each convolution's kernels: a row for a one-channel input, else kernels × channels."""
    parts, data = [], {}
    p = 0
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Pool):
            continue
        if not isinstance(layer, Conv):
            p += 1
            continue
        w = np.asarray(model.weights[p], np.float64)       # (out, in, k, k)
        p += 1
        vmax = C.symmetric_limit(w)
        o, c, k, _ = w.shape
        tiles = framed(upscale(C.diverging(w.reshape(o * c, k, k), vmax), _scale(k)),
                       C.INDEX["frame"])  # a near-zero kernel is white: the frame keeps it seen
        grid = mosaic(tiles, cols=o if c == 1 else c, gap=5)
        what = (f"{count(o, 'kernel')} of {k}×{k}" if c == 1 else
                f"{count(o, 'kernel')} (rows) × the {c} channels each reads (columns)")
        bar = colorbar("div", (f"−{vmax:.2g}", "0", f"+{vmax:.2g}"), "weight", 160)
        parts.append(titled(stack([grid, bar], axis=1, gap=12, align="centre"),
                            f"layer {i}: {layer.describe()}", subtitle=what))
        data[f"layer {i}"] = {"kernels": o, "channels": c, "size": k, "limit": vmax}
    caption = ("each convolution's kernels, red where ink raises the map and blue where it "
               "lowers it (one colour scale per layer)")
    return Picture(stack(parts, gap=18), "filters", caption, data)


def feature_maps(model: CNN, image: np.ndarray, label: int | None = None) -> Picture:
    """One digit and every convolution's and pooling's maps for it, then the answer."""
    x = model.as_input(image)[:1]
    p = K.forward(model, x)
    h, w = model.input_shape[1:]
    shown = digit_tile(x[0, 0], _scale(max(h, w)), (h, w))
    parts = [titled(shown, "the digit", subtitle="" if label is None else f"label {label}")]
    data: dict[str, object] = {}
    for i, layer in enumerate(model.layers):
        if not isinstance(layer, Conv | Pool):
            continue
        maps = p.outputs[i + 1][0]                          # (h, w, channels)
        peak = float(maps.max()) if maps.size else 0.0
        tiles = C.grey(np.moveaxis(maps, -1, 0).astype(np.float64), 0.0, peak or 1.0)
        tiles = upscale(tiles, _scale(maps.shape[0]))
        grid = mosaic(tiles, cols=min(len(tiles), 8), gap=3)
        lit = int((maps.reshape(-1, maps.shape[-1]).max(axis=0) > 0).sum())
        parts.append(titled(grid, f"layer {i}: {layer.describe()}",
                            subtitle=f"{count(maps.shape[-1], 'map')} of {maps.shape[0]}×"
                                     f"{maps.shape[1]}; {lit} light up; white = {peak:.3g}"))
        data[f"layer {i}"] = {"maps": int(maps.shape[-1]), "size": list(maps.shape[:2]),
                              "peak": peak, "lit": lit}
    probs = p.output[0]
    best = int(np.argmax(probs))
    name = model.class_names[best]
    data.update(prediction=best, probability=float(probs[best]))
    caption = (f"what each channel sees of this digit, layer by layer; the network answers "
               f"{name} ({probs[best]:.1%})")
    return Picture(stack(parts, gap=16), "feature-maps", caption, data)
