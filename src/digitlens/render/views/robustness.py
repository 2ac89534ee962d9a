"""View 7 (S3's centring story): accuracy when digits are moved or resized, fed as drawn and
after MNIST's preprocessing, with examples of what the network is shown."""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.analysis.robustness import Robustness
from digitlens.render import charts
from digitlens.render.draw import digit_tile, outlined
from digitlens.render.image import Picture
from digitlens.render.tiles import Canvas, titled
from digitlens.wording import count


def examples_strip(res: Robustness) -> np.ndarray:
    """One digit at each setting: as drawn (top) and after preprocessing (bottom)."""
    keys = list(res.examples)
    cell = 72
    cv = Canvas(2 * (cell + 6) + 22, 130 + len(keys) * cell)
    cv.text(22 + 20, 0, "as drawn", 11, True)
    cv.text(22 + cell + 26, 0, "preprocessed", 11, True)
    for k, key in enumerate(keys):
        kind, v = key.split(":")
        x = 130 + k * cell
        cv.text(0, x + 32, f"{v} px" if kind == "shift" else f"×{v}", 12, colour="muted",
                align="centre")
        for r in range(2):
            cv.paste(22 + r * (cell + 6), x, outlined(digit_tile(res.examples[key][r], 2)))
    return cv.idx


def robustness_view(res: Robustness) -> Picture:
    chart = charts.robustness(res)
    strip = C.to_rgb(titled(examples_strip(res), "What the network is shown",
                            subtitle="the same test digit moved (left) and resized (right)"))
    w = max(chart.shape[1], strip.shape[1])
    rgb = np.full((chart.shape[0] + 16 + strip.shape[0], w, 3), 255, np.uint8)
    rgb[: chart.shape[0], : chart.shape[1]] = chart
    rgb[chart.shape[0] + 16:, : strip.shape[1]] = strip
    i0 = res.shifts.index(max(res.shifts))
    moved = count(res.shifts[i0], "pixel", fmt="g")
    return Picture(rgb, "robustness", f"Moved {moved}, raw digits drop to "
                   f"{res.shift_raw[i0]:.0%} accuracy; centring them first as MNIST did brings "
                   f"it back to {res.shift_preprocessed[i0]:.0%}. This is why S3's drawing "
                   "canvas failed until it centred the drawing.", res.to_dict())
