"""The picture of one gradient step: the digit taught, each class's probability before (grey)
and after (the accent colour), and the loss, so a learner sees which answers the step moved."""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.nn.onestep import OneStep
from digitlens.render.draw import digit_tile
from digitlens.render.image import Picture
from digitlens.render.tiles import Canvas, text_width

SCALE = 6
BAR = 220  # pixels for a probability of 1
ROW = 22


def step_view(s: OneStep, x: np.ndarray, shape: tuple[int, int], names: list[str],
              label: int, lr: float, optimizer: str) -> Picture:
    """The digit on the left; on the right one row per class with two bars (before, after)."""
    side = shape[1] * SCALE * 28 // max(shape)
    name_w = max(text_width(n, 13, True) for n in names) + 8
    left = side + 30
    height = max(side + 60, 40 + ROW * len(names) + 40)
    width = left + name_w + BAR + 150
    cv = Canvas(height, width)
    cv.text(4, 10, f"taught: {names[label]}", 13, True)
    cv.rect(23, 9, side + 2, side + 2, C.INDEX["frame"])
    cv.paste(24, 10, digit_tile(x, SCALE * 28 // max(shape), shape))
    cv.text(side + 30, 10, f"reads {names[s.prediction_before]} → {names[s.prediction_after]}",
            13, True, "text" if s.prediction_after == label else "wrong")
    cv.text(4, left, "probability of each class: before (grey) / after (blue) the step", 12,
            colour="muted")
    pb, pa = s.probabilities_before, s.probabilities_after
    for c, name in enumerate(names):
        y = 28 + c * ROW
        cv.text(y + 2, left, name, 13, c == label, "wrong" if c == label else "text")
        x0 = left + name_w
        cv.rect(y + 2, x0, 7, max(1, int(round(BAR * pb[c]))), C.INDEX["frame"])
        cv.rect(y + 10, x0, 7, max(1, int(round(BAR * pa[c]))), C.INDEX["accent"])
        cv.text(y + 2, x0 + BAR + 8, f"{pb[c]:.1%} → {pa[c]:.1%}", 12, colour="muted")
    y = 36 + ROW * len(names)
    # the cost of a certain answer rounds to −0.0 (−log(1 + 1e-12)): shown as 0
    cv.text(y, left, f"loss {max(s.loss_before, 0):.4f} → {max(s.loss_after, 0):.4f} "
                     f"({optimizer}, learning rate {lr:g})", 13, True)
    caption = (f"One {optimizer} step with learning rate {lr:g}, teaching {names[label]}: "
               f"p({names[label]}) went from {pb[label]:.1%} to {pa[label]:.1%}, the loss from "
               f"{max(s.loss_before, 0):.4f} to {max(s.loss_after, 0):.4f}; the network now "
               f"reads {names[s.prediction_after]}"
               + (" (it read the same before)." if s.prediction_after == s.prediction_before
                  else f" (it read {names[s.prediction_before]} before)."))
    return Picture(cv.idx, "step", caption,
                   {"label": label, "loss_before": s.loss_before, "loss_after": s.loss_after})
