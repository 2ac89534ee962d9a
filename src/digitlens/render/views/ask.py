"""Views of asking the net about one drawing: the nudge (original, nudged, the change in
red/blue, both predictions) and dreams (what a neuron likes most, beside its composed weights,
the linear picture of the same wish)."""

from __future__ import annotations

import numpy as np

from digitlens.analysis.dream import Dream
from digitlens.analysis.nudge import Nudge
from digitlens.render import colors as C
from digitlens.render.draw import digit_tile, labelled_row, scale_for, weight_tiles
from digitlens.render.image import Picture
from digitlens.render.tiles import Canvas, colorbar, pad, stack, titled, upscale

SCALE = 6  # 28×28 -> 168×168 (other sizes: as large, see draw.scale_for)


def nudge_view(nudge: Nudge, names: list[str], label: int | None = None) -> Picture:
    """Original and nudged digits with their predictions, and the change between them."""
    side = 28 * SCALE
    gap = 36
    cv = Canvas(side + 130, 3 * side + 2 * gap + 40)
    shape = nudge.shape
    diff = nudge.difference.reshape(shape)
    vmax = max(nudge.linf, 1e-6)
    tiles = [digit_tile(nudge.original, SCALE, shape), digit_tile(nudge.adversarial, SCALE, shape),
             upscale(C.diverging(diff, vmax), scale_for(shape, SCALE))]
    heads = ["original", f"nudged ({nudge.method})", f"change ({C.hue('pos')} +, {C.hue('neg')} −)"]
    p0 = nudge.original_probabilities
    lines = [(f"reads {names[nudge.source]} ({p0[nudge.source]:.0%})", "text"),
             (f"reads {names[nudge.to]} ({nudge.probabilities[nudge.to]:.0%})",
              "wrong" if nudge.flipped else "text"),
             (f"L2 {nudge.l2:.2f} · largest {nudge.linf:.2f}", "text")]
    for i, (tile, head, (line, colour)) in enumerate(zip(tiles, heads, lines, strict=True)):
        x = 10 + i * (side + gap)
        cv.text(4, x, head, 12, True)
        cv.rect(23, x - 1, side + 2, side + 2, C.INDEX["frame"])
        cv.paste(24, x, tile)
        cv.text(side + 32, x, line, 13, True, colour)
    x2 = 10 + 2 * (side + gap)
    cv.text(side + 52, x2, f"{nudge.changed_pixels} pixels changed", 11,
            colour="muted")
    if label is not None:
        cv.text(side + 52, 10, f"true {names[label]}", 11, colour="muted")
    cv.paste(side + 76, x2 - 30, colorbar("div", (f"−{vmax:.2f}", "0", f"+{vmax:.2f}"),
                                          "pixel change", 150))
    want = (f"asked for {names[nudge.target]}" if nudge.target is not None
            else "the nearest other class")
    caption = (f"The smallest change ({nudge.method}, {want}) that makes the network read "
               f"{names[nudge.to]} instead of {names[nudge.source]}: an L2 distance of "
               f"{nudge.l2:.2f} in pixel units (0..1), barely visible to a person.")
    return Picture(cv.idx, "nudge", caption,
                   {"from": nudge.source, "to": nudge.to, "l2": nudge.l2, "linf": nudge.linf,
                    "changed_pixels": nudge.changed_pixels, "method": nudge.method})


def dreams_view(dreams: list[Dream], composed: np.ndarray, labels: list[str],
                title: str) -> Picture:
    """A row of dreams (each stretched black..white) over the same neurons' composed weights
    (``composed``: (pixels, n), red/blue), labelled with the dream's value and the best digit's;
    ``title`` names the picture (``dreams-<title>``)."""
    shape = dreams[0].shape if dreams else (28, 28)
    imgs = np.stack([d.image.reshape(shape) for d in dreams])
    tiles = upscale(C.grey_minmax(imgs), scale_for(shape, 3))
    vmax = C.symmetric_limit(composed)
    w = weight_tiles(composed, vmax, 3, shape)
    names = [f"{lab}: {d.activation:.3g}" for lab, d in zip(labels, dreams, strict=True)]
    best = [f"best digit {d.max_train_activation:.3g}" if d.max_train_activation is not None
            else "" for d in dreams]
    top = labelled_row(tiles, names, size=11, bold=True)
    mid = labelled_row(np.zeros((len(dreams), 0, tiles.shape[2]), np.uint8), best, size=10)
    low = labelled_row(w, [""] * len(dreams), size=4)
    body = stack([titled(top, "dream (the input it likes most)"), mid,
                  titled(low, "composed weights (the linear picture)", 12)], gap=4)
    caption = ("Top: the input each neuron likes most, found by gradient ascent from the mean "
               "digit (pixels kept in 0..1, smoothed); the number is what it reaches, beside "
               "the highest any training digit gives. Bottom: its composed weights, a linear "
               "approximation that ignores the activations; the dream is the network's real "
               "optimum.")
    return Picture(pad(body, 8), f"dreams-{title}", caption,
                   {"activations": [d.activation for d in dreams],
                    "max_train": [d.max_train_activation for d in dreams]})
