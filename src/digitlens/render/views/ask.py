"""Views of asking the net about one drawing: the nudge (original, nudged, the change in
red/blue, both predictions) and dreams (what a neuron likes most, beside its composed weights,
the linear picture of the same wish)."""

from __future__ import annotations

import numpy as np

from digitlens import numbering
from digitlens import palette as C
from digitlens.analysis.dream import Dream
from digitlens.analysis.integrated import Attribution
from digitlens.analysis.nudge import Nudge
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP
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
             (f"L2 {nudge.l2:.2g} · largest {nudge.linf:.2g}", "text")]
    for i, (tile, head, (line, colour)) in enumerate(zip(tiles, heads, lines, strict=True)):
        x = 10 + i * (side + gap)
        cv.text(4, x, head, 12, True)
        cv.rect(23, x - 1, side + 2, side + 2, C.INDEX["frame"])
        cv.paste(24, x, tile)
        cv.text(side + 32, x, line, 13, True, colour)
    x2 = 10 + 2 * (side + gap)
    changed = (f"{nudge.changed_pixels} pixels changed" if nudge.changed_pixels else
               "no pixel changed by a grey level")
    cv.text(side + 52, x2, changed, 12, colour="muted")
    if label is not None:
        cv.text(side + 52, 10, f"true {names[label]}", 11, colour="muted")
    cv.paste(side + 76, x2 - 30, colorbar("div", (f"−{vmax:.2g}", "0", f"+{vmax:.2g}"),
                                          "pixel change", 150))
    want = (f"asked for {names[nudge.target]}" if nudge.target is not None
            else "the nearest other class")
    caption = (f"The smallest change ({nudge.method}, {want}) that makes the network read "
               f"{names[nudge.to]} instead of {names[nudge.source]}: an L2 distance of "
               f"{nudge.l2:.2g} in pixel units (0..1), barely visible to a person.")
    if not nudge.changed_pixels:  # the digit sat on the border between the two answers
        caption += (f" This digit was already on the edge ({names[nudge.source]} "
                    f"{p0[nudge.source]:.0%}, {names[nudge.to]} {p0[nudge.to]:.0%}): no pixel "
                    "had to change by even one grey level.")
    return Picture(cv.idx, "nudge", caption,
                   {"from": nudge.source, "to": nudge.to, "l2": nudge.l2, "linf": nudge.linf,
                    "changed_pixels": nudge.changed_pixels, "method": nudge.method})


def dreams_view(dreams: list[Dream], composed: np.ndarray | None, labels: list[str],
                title: str) -> Picture:
    """A row of dreams (each stretched black..white) over the same neurons' composed weights
    (``composed``: (pixels, n), red/blue; None: a network without them, a convolutional one),
    labelled with the dream's value and the best digit's; ``title`` names the picture
    (``dreams-<title>``)."""
    shape = dreams[0].shape if dreams else (28, 28)
    imgs = np.stack([d.image.reshape(shape) for d in dreams])
    tiles = upscale(C.grey_minmax(imgs), scale_for(shape, 3))
    names = [f"{lab}: {d.activation:.3g}" for lab, d in zip(labels, dreams, strict=True)]
    best = [f"best digit {d.max_train_activation:.3g}" if d.max_train_activation is not None
            else "" for d in dreams]
    top = labelled_row(tiles, names, size=11, bold=True)
    mid = labelled_row(np.zeros((len(dreams), 0, tiles.shape[2]), np.uint8), best, size=10)
    caption = ("Top: the input each neuron likes most, found by gradient ascent from the mean "
               "digit (pixels kept in 0..1, smoothed); the number is what it reaches, beside "
               "the highest any training digit gives.")
    parts = [titled(top, "dream (the input it likes most)"), mid]
    if composed is not None:
        w = weight_tiles(composed, C.symmetric_limit(composed), 3, shape)
        parts.append(titled(labelled_row(w, [""] * len(dreams), size=4),
                            "composed weights (the linear picture)", 12))
        caption += (" Bottom: its composed weights, a linear approximation that ignores the "
                    "activations; the dream is the network's real optimum.")
    body = stack(parts, gap=4)
    return Picture(pad(body, 8), f"dreams-{title}", caption,
                   {"activations": [d.activation for d in dreams],
                    "max_train": [d.max_train_activation for d in dreams]})


def attribution_view(a: Attribution, x: np.ndarray, shape: tuple[int, int],
                     names: list[str]) -> Picture:
    """The input beside each pixel's share of the class score (red raises it, blue lowers it)."""
    vmax = max(float(np.abs(a.attributions).max()), 1e-9)
    tiles = np.stack([digit_tile(x, SCALE, shape),
                      upscale(C.diverging(a.attributions.reshape(shape), vmax),
                              scale_for(shape, SCALE))])
    heads = ["input", f"pixels for / against {names[a.target]}"]
    body = labelled_row(tiles, heads, size=13, bold=True)
    bar = colorbar("div", (f"−{vmax:.2g}", "0", f"+{vmax:.2g}"), "red raises, blue lowers", 150)
    caption = (f"{a.method}: how much each pixel adds to the score of {names[a.target]} "
               f"({a.score:.2f}) compared with a {a.baseline} image ({a.baseline_score:.2f}); "
               f"the shares add up to the difference within {a.completeness_error:.1%}.")
    return Picture(stack([body, pad(bar, 4)], gap=6), "attribution", caption,
                   {"target": a.target, "score": a.score, "method": a.method})


def dream_view(d: Dream, title: str) -> Picture:
    """One dream, stretched black..white, beside the training digit that excites the neuron most
    (each with the value it reaches), so the picture answers "more or less than a real digit?"."""
    images = [d.image] + ([d.best_train_image] if d.best_train_image is not None else [])
    tiles = upscale(np.concatenate([C.grey_minmax(im.reshape(1, *d.shape)) for im in images]),
                    scale_for(d.shape, SCALE))
    labels = [f"dream: {d.activation:.3g}"]
    if d.max_train_activation is not None:
        labels.append(f"best training digit: {d.max_train_activation:.3g}")
    head = labelled_row(np.zeros((1, 0, tiles.shape[2]), np.uint8), [title], size=14, bold=True)
    body = labelled_row(tiles[:len(labels)], labels, gap=18, size=13)
    caption = (f"The input {title} likes most, found by gradient ascent from the mean digit "
               f"(pixels kept in 0..1, smoothed): it reaches {d.activation:.3g}"
               + (f", against {d.max_train_activation:.3g} for the best training digit."
                  if d.max_train_activation is not None else "."))
    if d.max_train_activation is not None and d.activation < d.max_train_activation:
        caption += (" It stays below the best training digit: try more steps (steps=1000) "
                    "or another seed.")
    return Picture(stack([head, body], gap=4, align="center"), f"dream-{title}", caption,
                   {"layer": d.layer, "neuron": d.neuron, "activation": d.activation})


def dream_title(model: MLP | CNN, layer: int, neuron: int) -> str:
    """'class 3' for an output neuron (by its name), 'neuron 0:5' for a hidden one."""
    return (f"class {model.class_names[neuron]}"
            if isinstance(model, CNN) or layer == model.n_layers - 1
            else numbering.neuron_name(layer, neuron))
