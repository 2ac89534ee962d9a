"""Feature cards: for each of a hidden layer's sparse-autoencoder features, its decoder direction
carried back to the pixels (as composed weights carry a neuron), the test digits that make it
fire most, and how often it fires."""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.analysis.atlas import decoder_pixels
from digitlens.analysis.sae import SAE
from digitlens.nn.mlp import MLP
from digitlens.render.draw import digit_tile, weight_tiles
from digitlens.render.image import Picture
from digitlens.render.tiles import Canvas, colorbar, stack

TOP = 5
SCALE = 2


def feature_cards(model: MLP, layer: int, sae: SAE, f: np.ndarray, images: np.ndarray,
                  labels: np.ndarray, names: list[str], count: int = 24) -> Picture:
    """The ``count`` most often firing features of hidden ``layer`` (``f``: the test set's
    feature activations, (n, F)), one card per row."""
    freq = (f > 0).mean(axis=0)
    shown = [int(j) for j in np.argsort(-freq)[:count] if freq[j] > 0]
    pixels = decoder_pixels(model, layer, sae, shown)  # (px, len(shown))
    vmax = C.symmetric_limit(pixels)
    shape = model.input_shape
    side = digit_tile(images[0], SCALE, shape).shape[0]
    row_h, card_w = side + 26, side * (TOP + 1) + 12 * TOP + 230
    cv = Canvas(row_h * len(shown) + 10, card_w)
    dirs = weight_tiles(pixels, vmax, SCALE, shape)
    for r, j in enumerate(shown):
        y0 = r * row_h + 4
        top = np.argsort(-f[:, j])[:TOP]
        top = top[f[top, j] > 0]
        common = np.bincount(labels[top], minlength=len(names)).argmax() if top.size else 0
        cv.text(y0, 4, f"feature {j}", 12, True)
        cv.text(y0 + 15, 4, f"fires on {freq[j]:.1%}", 12, colour="muted")
        cv.paste(y0, 120, dirs[r])
        for i, t in enumerate(top):
            cv.paste(y0, 120 + (i + 1) * (side + 12), digit_tile(images[t], SCALE, shape))
        if top.size:
            cv.text(y0 + side + 4, 120 + side + 12,
                    f"top digits: mostly {names[common]} "
                    f"({int(np.sum(labels[top] == common))} of {top.size})", 12, colour="muted")
    legend = colorbar("div", (f"−{vmax:.2g}", "0", f"+{vmax:.2g}"),
                      "direction in pixels: red raises the feature, blue lowers it", 220)
    caption = (f"The {len(shown)} most frequent of {sae.n_features} features of hidden layer "
               f"{layer} (a sparse autoencoder keeps {sae.k} per digit). Each row: the "
               "feature's direction carried back to the pixels through the weights, then the "
               "test digits that make it fire most.")
    return Picture(stack([cv.idx, legend], gap=6), f"features-{layer}", caption,
                   {"features": shown, "frequency": [float(freq[j]) for j in shown]})
