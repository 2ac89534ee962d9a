"""Pictures of "why this answer": a patch (the two digits and the answer before and after) and
a circuit (the neurons that carry the gap, as signed bars, with how much of it they hold)."""

from __future__ import annotations

import numpy as np

from digitlens import numbering
from digitlens import palette as C
from digitlens.analysis.patching import Circuit, Patch
from digitlens.render.draw import digit_tile
from digitlens.render.image import Picture
from digitlens.render.tiles import Canvas, text_width

SCALE = 5
BAR = 200  # pixels for the largest effect


def patch_view(p: Patch, source: np.ndarray, into: np.ndarray, shape: tuple[int, int],
               names: list[str]) -> Picture:
    """Source and target digits side by side, the patched layer between, both answers below."""
    k = SCALE * 28 // max(shape)
    side = shape[1] * k
    cv = Canvas(side + 84, max(2 * side + 180, 40 + text_width(
        f"the second digit now reads {names[p.prediction_after]} (100%)", 14, True)))
    what = (f"all {len(p.patched)} neurons" if len(p.patched) > 8
            else ", ".join(numbering.spell(p.layer, n) for n in p.patched))
    for i, (x, head) in enumerate(((source, f"source: reads {names[p.source_prediction]}"),
                                   (into, f"into: reads {names[p.prediction_before]}"))):
        x0 = 10 + i * (side + 160)
        cv.text(4, x0, head, 13, True)
        cv.rect(23, x0 - 1, side + 2, side + 2, C.INDEX["frame"])
        cv.paste(24, x0, digit_tile(x, k, shape))
    mid = 10 + side + 80
    cv.text(24 + side // 2 - 20, mid, f"layer {p.layer}", 12, colour="muted", align="centre")
    cv.text(24 + side // 2 - 4, mid, "→ copied →", 13, True, align="centre")
    flipped = p.prediction_after != p.prediction_before
    pa = p.probabilities_after
    cv.text(side + 34, 10, f"patched: {what} of layer {p.layer}", 12, colour="muted")
    cv.text(side + 54, 10, f"the second digit now reads {names[p.prediction_after]} "
            f"({pa[p.prediction_after]:.0%})", 14, True, "wrong" if flipped else "text")
    caption = (f"Layer {p.layer}'s {what} in the second digit took the values the first digit "
               f"gives them; the rest of the network ran on. The answer went from "
               f"{names[p.prediction_before]} to {names[p.prediction_after]}"
               + (": those neurons carry the difference." if flipped
                  else ": those neurons alone do not decide it."))
    return Picture(cv.idx, "patch", caption, p.to_dict())


def circuit_view(c: Circuit, names: list[str], top: int = 12) -> Picture:
    """The ``top`` nodes by effect as signed bars (positive: for the target), and the measures."""
    nodes = c.nodes[:top]
    label_w = max([text_width(numbering.neuron_name(ly, n), 12) for ly, n, _ in nodes] + [60])
    vmax = max([abs(e) for _, _, e in nodes] + [1e-9])
    zero = 16 + label_w + BAR
    cv = Canvas(70 + 20 * len(nodes) + 40, zero + BAR + 90)
    cv.text(4, 10, f"Why {names[c.target]} and not {names[c.contrast]}: the gap is {c.gap:.2f}",
            14, True)
    cv.text(24, 10, f"each neuron's effect on the gap ({C.hue('pos')}: for "
                    f"{names[c.target]}, {C.hue('neg')}: for {names[c.contrast]})", 12,
            colour="muted")
    for i, (ly, n, e) in enumerate(nodes):
        y = 48 + 20 * i
        cv.text(y, 10, numbering.neuron_name(ly, n), 12)
        w = max(1, int(round(BAR * abs(e) / vmax)))
        cv.rect(y + 3, zero if e >= 0 else zero - w, 12, w, int(C.diverging(np.sign(e), 1.0)))
        cv.text(y, zero + (w + 6 if e >= 0 else 6), f"{e:+.2f}", 11, colour="muted")
    cv.rect(44, zero, 20 * len(nodes) + 4, 1, C.INDEX["text"])
    y = 56 + 20 * len(nodes)
    cv.text(y, 10, f"{len(c.nodes)} neurons alone keep {c.restored:.0%} of the gap; "
                   f"taking them out removes {c.removed:.0%} of it", 13, True)
    caption = (f"The circuit behind {names[c.target]} beating {names[c.contrast]} "
               f"(gap {c.gap:.2f} in output scores): with every other hidden neuron set to its "
               f"mean the {len(c.nodes)} neurons keep {c.restored:.0%} of the gap, and setting "
               f"them to their means removes {c.removed:.0%}.")
    return Picture(cv.idx, "circuit", caption, c.to_dict())
