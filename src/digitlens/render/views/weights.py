"""View 3 (S2, S3): what each neuron looks for, as weight images of the input's shape.

First-layer weights directly, in S2's min-max grey or S3's diverging red/blue with a bias bar;
deeper neurons through weights composed across layers (W0·W1, W0·W1·W2), output neurons
included; and S2's comparison of the same net trained on 500 images vs all 60,000.
"""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.errors import bad_param
from digitlens.nn.compose import all_composed
from digitlens.nn.mlp import MLP
from digitlens.numbering import layer_name, weights_name
from digitlens.render.draw import MNIST_SHAPE, labelled_row, scale_for
from digitlens.render.image import Picture
from digitlens.render.tiles import (
    colorbar,
    grid_shape,
    mosaic,
    stack,
    titled,
    upscale,
    with_bias_bars,
)
from digitlens.wording import count

STYLES = ("diverging", "grey")
MAX_TILES = 256


def check_style(style: str) -> None:
    if style not in STYLES:
        raise bad_param("style", f"one of {', '.join(STYLES)}", style)


def tiles_of(w: np.ndarray, style: str, per_tile: bool, scale: int,
             shape: tuple[int, int] = MNIST_SHAPE) -> tuple[np.ndarray, float]:
    """(pixels, n) weights -> (n, h·s, w·s) tiles of the input ``shape`` (s: ``scale`` for
    28×28, matched in size otherwise) and the shared limit (0 if per tile).
    Diverging tiles are centred on zero: shared ±limit, or each tile its own max |w|."""
    imgs = np.asarray(w, np.float64).T.reshape(-1, *shape)
    scale = scale_for(shape, scale)
    if style == "grey":
        return upscale(C.grey_minmax(imgs), scale), 0.0
    if per_tile:
        lim = np.abs(imgs).reshape(len(imgs), -1).max(axis=1)
        lim = np.where(lim > 0, lim, 1.0)
        return upscale(C.diverging(imgs / lim[:, None, None], 1.0), scale), 0.0
    vmax = C.symmetric_limit(imgs)
    return upscale(C.diverging(imgs, vmax), scale), vmax


def legend_for(style: str, vmax: float, what: str) -> np.ndarray:
    if style == "grey":
        return colorbar("grey", ("min", "", "max"), f"{what}: each tile min-max on its own", 160)
    if vmax:
        return colorbar("div", (f"−{vmax:.2g}", "0", f"+{vmax:.2g}"), what, 160)
    return colorbar("div", ("−max|w|", "0", "+max|w|"), f"{what}: each tile its own ±max", 160)


def first_layer(model: MLP, style: str = "diverging", max_neurons: int = MAX_TILES) -> Picture:
    """Every first-layer neuron's weights as an image (the first ``max_neurons``)."""
    check_style(style)
    n = min(model.sizes[1], max_neurons)
    w = model.weights[0][:, :n]
    scale = 2 if n <= MAX_TILES else 1
    tiles, vmax = tiles_of(w, style, False, scale, model.input_shape)
    parts = []
    if style == "diverging":
        b = model.biases[0][:n]
        bmax = C.symmetric_limit(b, 100)
        tiles = with_bias_bars(tiles, C.bias(b, bmax), 2 + scale_for(model.input_shape, scale))
        legends = stack([legend_for(style, vmax, "weight"),
                         colorbar("bias", (f"−{bmax:.2g}", "0", f"+{bmax:.2g}"), "bias", 100)],
                        axis=1, gap=30)
    else:
        legends = legend_for(style, vmax, "weight")
    if model.n_layers == 1:  # no hidden layer: these are the output neurons, label them
        parts.append(labelled_row(tiles, list(model.class_names)[:n], 8, 13, bold=True))
    else:
        parts.append(mosaic(tiles, grid_shape(n)[1], 3))
    parts.append(legends)
    what = "an output neuron" if model.n_layers == 1 else "a first-layer neuron"
    shown = f" (first {n} of {model.sizes[1]})" if n < model.sizes[1] else ""
    sub = (f"{C.hue('pos')}: a bright pixel there excites the neuron, {C.hue('neg')}: "
           "inhibits; bar: bias"
           if style == "diverging" else "black = its lowest weight, white = its highest (S2)")
    img = titled(stack(parts, gap=14), f"Each tile is {what}'s {model.sizes[0]} input weights"
                 f"{shown}",
                 subtitle=sub)
    return Picture(img, "weights", "These are the patterns the first layer compares each digit "
                   "with. Some look like strokes, many look like noise that only the next layer "
                   "makes sense of.", {"style": style, "n": n, "vmax": vmax, "scale": scale})


def composed(model: MLP, style: str = "diverging", max_neurons: int = MAX_TILES,
             class_names: list[str] | None = None) -> Picture:
    """Composed weights W0·…·Wl for every layer after the first, output neurons included; each
    tile on its own scale, since composed magnitudes differ wildly between neurons."""
    check_style(style)
    names = class_names or list(model.class_names)
    ih, iw = model.input_shape
    comps = all_composed(model)
    sections = []
    for layer in range(1 if model.n_layers > 1 else 0, model.n_layers):
        w = comps[layer]
        n = min(w.shape[1], max_neurons)
        product = "·".join(weights_name(k) for k in range(layer + 1))
        out = layer == model.n_layers - 1
        if out:
            tiles, _ = tiles_of(w, style, True, 3, model.input_shape)
            body = labelled_row(tiles, names[: len(tiles)], 8, 14, bold=True)
            title = f"{layer_name(layer, model.n_layers).capitalize()}, the outputs: {product}"
        else:
            scale = 2 if n <= MAX_TILES else 1
            tiles, _ = tiles_of(w[:, :n], style, True, scale, model.input_shape)
            body = mosaic(tiles, grid_shape(n)[1], 3)
            more = f", first {n} of {w.shape[1]}" if n < w.shape[1] else ""
            title = (f"{layer_name(layer).capitalize()}, {count(w.shape[1], 'neuron')}{more}: "
                     f"{product}")
        sections.append(titled(body, title, 13))
    sections.append(legend_for(style, 0.0, "composed weight"))
    img = titled(stack(sections, gap=22), "What deeper neurons look for: weights composed "
                 "through the layers", subtitle="a linear picture: biases and activations are "
                 "left out, so read it as 'roughly what this neuron wants to see'")
    return Picture(img, "composed", "Multiply the weight matrices together and each deeper "
                   f"neuron gets a {ih}×{iw} picture too. With strong L2 (S3) the output neurons' "
                   "pictures are smooth and some trace their digit's strokes; in a big net "
                   "trained without it they look like noise, because each output relies on "
                   "many features at once.",
                   {"style": style, "layers": [c.shape[1] for c in comps]})


def compare_training(small: MLP, full: MLP, small_label: str = "500 images",
                     full_label: str = "60,000 images",
                     class_names: list[str] | None = None) -> Picture:
    """S2's comparison: the output neurons' composed weights of two nets with the same shape,
    trained on few vs all images, in grey (as S2) and diverging."""
    if small.sizes != full.sizes:
        raise bad_param("compare", f"a run with the same layer sizes {list(full.sizes)}",
                        list(small.sizes))
    names = class_names or list(full.class_names)
    rows = []
    for label, m in ((small_label, small), (full_label, full)):
        w = all_composed(m)[-1]
        for style in STYLES:
            tiles, _ = tiles_of(w, style, True, 3, m.input_shape)
            how = f"{C.hue('pos')}/{C.hue('neg')}" if style == "diverging" else "min-max grey"
            rows.append(titled(labelled_row(tiles, names, 8, 13, bold=True),
                               f"Trained on {label} ({how})", 13))
    legends = stack([legend_for("diverging", 0.0, "composed weight"),
                     legend_for("grey", 0.0, "composed weight")], axis=1, gap=30)
    img = titled(stack([*rows, legends], gap=18), "Output neurons, composed through every "
                 "layer: few training images vs many")
    return Picture(img, "weights-compare", "Trained on 500 images the output neurons look like "
                   "blurry digits; with 60,000 they learn where only one or two digits ever put "
                   "ink (S2's observation).", {"small": list(small.sizes)})
