"""Chart axes say what they show: every percent tick label is exactly the value at its tick."""

from __future__ import annotations

import pytest

from digitlens.render import charts


@pytest.mark.parametrize(("lo", "hi"), [(0.33, 0.38), (0.9, 1.0), (0.0, 1.0), (0.975, 0.985),
                                        (0.5, 0.75), (0.3, 0.45)])
def test_percent_ticks_are_round_and_labelled_truly(lo: float, hi: float) -> None:
    fig = charts.figure(400, 300)
    ax = fig.add_subplot()
    ax.plot([0, 1], [lo, hi])
    ax.set_ylim(lo, hi)
    charts.percent_axis(ax)
    fig.canvas.draw()
    ticks = [(t.get_loc(), t.label1.get_text()) for t in ax.yaxis.get_major_ticks()
             if lo - 1e-12 <= t.get_loc() <= hi + 1e-12]
    assert 2 <= len(ticks) <= 9
    steps = {round((b[0] - a[0]) * 100, 6) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() in charts.PERCENT_STEPS
    for loc, label in ticks:  # the oracle: the tick's own value, printed with its decimals
        shown = float(label.rstrip("%").replace("\u2212", "-"))
        # the label prints the float64 tick exactly at its decimals: only its rounding differs
        assert shown == pytest.approx(loc * 100, abs=1e-9), (loc, label)
