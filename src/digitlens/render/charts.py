"""Charts drawn with matplotlib (curves, matrices, bars) in the views' colours, as RGB arrays.

Only charts use matplotlib; tiles and mosaics are NumPy (``tiles.py``). We use the object API
(``Figure`` + Agg canvas), never pyplot, so nothing global changes and nothing opens a window.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlens import palette as C
from digitlens.errors import DigitlensError
from digitlens.palette import hex_of

ACCENT, MUTED = hex_of("accent"), hex_of("muted")  # the same in every scheme
DPI = 100


def as_text(names: list[str]) -> list[str]:
    """Names (class names, from files) shown as the characters they are: matplotlib reads
    text between two ``$`` as maths (and fails on what is not), so each ``$`` is escaped."""
    return [str(n).replace("$", r"\$") for n in names]


def figure(width: float, height: float) -> Any:
    """A matplotlib Figure of ``width``×``height`` pixels with our defaults."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise DigitlensError("charts need matplotlib: pip install 'digitlens[render]'") from None
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def style(ax: Any, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
    ax.set_title(title, fontsize=11, loc="left", fontweight="bold")
    ax.set_xlabel(xlabel, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def to_rgb(fig: Any) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def percent_axis(ax: Any) -> None:
    """Percent ticks at round steps (0.1, 0.2, 0.5, 1, 2, 5, 10, 20 or 25 points, at most 8
    ticks), each labelled with as many decimals as its step needs, so every label is exactly
    the value at its tick (never 2.5-point steps printed as whole percents)."""
    from matplotlib.ticker import MultipleLocator, PercentFormatter
    lo, hi = ax.get_ylim()
    span = abs(hi - lo) * 100
    step = next((s for s in PERCENT_STEPS if span / s <= 8), PERCENT_STEPS[-1])
    ax.yaxis.set_major_locator(MultipleLocator(step / 100))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if step >= 1 else 1))


PERCENT_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 25)


def accuracy_curve(history: list[dict[str, Any]], width: int = 760, height: int = 300
                   ) -> np.ndarray:
    """Test accuracy and training loss per epoch on the full 0–100% axis, and beside it a
    panel that zooms into the later epochs and says so (a zoomed axis alone makes noise look
    like a dip)."""
    fig = figure(width, height)
    ax, zoom = fig.subplots(1, 2, width_ratios=[1.35, 1])
    ep = [h["epoch"] for h in history]
    acc = [h["test_accuracy"] for h in history]
    ax.plot(ep, acc, color=ACCENT, marker="o" if len(ep) <= 30 else None, ms=3,
            label="test accuracy")
    ax.set_ylim(0, 1.0)
    percent_axis(ax)
    style(ax, "Test accuracy after each epoch", "epoch", "test accuracy (0–100%)")
    if acc:
        ax.annotate(f"{acc[-1]:.2%}", (ep[-1], acc[-1]), textcoords="offset points",
                    xytext=(-4, -16), ha="right", fontsize=10, color=ACCENT)
    ax2 = ax.twinx()
    ax2.plot(ep, [h["loss"] for h in history], color=MUTED, linestyle="--", linewidth=1,
             label="training loss")
    ax2.set_ylabel("training loss (dashed)", fontsize=10, color=MUTED)
    ax2.tick_params(labelsize=9, colors=MUTED)
    ax2.spines["top"].set_visible(False)
    later = max(0, len(ep) // 3) if len(ep) > 3 else 0
    zep, zacc = ep[later:], acc[later:]
    zoom.plot(zep, zacc, color=ACCENT, marker="o" if len(zep) <= 30 else None, ms=3)
    if zacc:
        lo, hi = min(zacc), max(zacc)
        pad = max((hi - lo) * 0.15, 0.002)
        zoom.set_ylim(lo - pad, min(1.0, hi + pad))
    percent_axis(zoom)
    lo_pct = zoom.get_ylim()[0]
    style(zoom, f"Zoom: y-axis starts at {lo_pct:.1%}", "epoch", "test accuracy (zoomed)")
    zoom.title.set_color(hex_of("wrong"))
    for side in ("left", "bottom"):
        zoom.spines[side].set_color(hex_of("wrong"))
    return to_rgb(fig)


def confusion(cm: np.ndarray, names: list[str], width: int = 460, height: int = 420) -> np.ndarray:
    """Confusion matrix, counts in the cells, the diagonal (right answers) in the true class's
    colour, mistakes in shades of the wrong answer's so that the common confusions stand out."""
    from matplotlib.colors import LinearSegmentedColormap
    grow = max(0, 28 * (len(cm) - 12))  # beyond a dozen classes each needs room of its own
    fig = figure(width + grow, height + grow)
    ax = fig.add_subplot(1, 1, 1)
    off = cm.astype(np.float64).copy()
    np.fill_diagonal(off, np.nan)
    cmap = LinearSegmentedColormap.from_list("wrong", ["#ffffff", hex_of("wrong")])
    vmax = max(1.0, float(np.nanmax(off)) if np.isfinite(off).any() else 1.0)
    im = ax.imshow(off, cmap=cmap, vmin=0, vmax=vmax)
    n = len(cm)
    for i in range(n):
        ax.add_patch(_square(i, i, hex_of("true")))
        for j in range(n):
            v = int(cm[i, j])
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7 if v > 999 else 8,
                        color="white" if i == j or off[i, j] > 0.6 * vmax else "#222222")
    digits = all(len(name) <= 2 for name in names)
    ax.set_xticks(range(n), as_text(names), rotation=0 if digits else 45,
                  ha="center" if digits else "right", rotation_mode="anchor")
    ax.set_yticks(range(n), as_text(names))
    ax.set_xlabel(f"predicted (right answers on the {C.hue('true')} diagonal)", fontsize=9)
    ax.set_ylabel("true digit" if all(n.isdigit() for n in names) else "true class", fontsize=9)
    ax.tick_params(labelsize=8, length=0)
    ax.set_title("Confusion matrix", fontsize=11, loc="left", fontweight="bold")
    bar = fig.colorbar(im, ax=ax, shrink=0.8)
    bar.set_label("mistakes in a cell", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return to_rgb(fig)


def _square(i: int, j: int, colour: str) -> Any:
    from matplotlib.patches import Rectangle
    return Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=colour, edgecolor="none", zorder=0.5)


def neuron_charts(rep: Any, width: int = 980, height: int = 370) -> np.ndarray:
    """Importance (sorted, flagged), accuracy with the k least important switched off, and the
    cost of switching off each neuron alone."""
    fig = figure(width, height)
    a1, a2, a3 = fig.subplots(1, 3, width_ratios=[1, 1.3, 1])
    order = rep.order[::-1]
    colours = [hex_of("dead") if rep.dead[j] else hex_of("dim") if rep.dim[j] else ACCENT
               for j in order]
    a1.bar(range(rep.n), rep.importance[order], color=colours, width=1.0)
    style(a1, "Importance, most to least", "neurons (ranked)", "|outgoing w| × activity spread")
    a1.text(0.98, 0.95, "purple: dead\ngrey: dim", transform=a1.transAxes, ha="right", va="top",
            fontsize=8, color=MUTED)
    ks = rep.ks
    a2.plot(ks, rep.dimmest_mean, color=ACCENT, label="k least important, frozen at mean")
    a2.plot(ks, rep.dimmest_zero, color=hex_of("wrong"), label="k least important, output 0")
    a2.plot(ks, rep.random_mean, color=MUTED, linestyle=":", label="k random, frozen at mean")
    if rep.pruning:
        a2.scatter([p["k"] for p in rep.pruning], [p["finetuned"] for p in rep.pruning],
                   color=hex_of("true"), zorder=3, s=30, label="pruned + fine-tuned")
    a2.axhline(rep.base_accuracy - 0.005, color="#bbbbbb", linewidth=0.8)
    a2.axvline(rep.redundant, color=ACCENT, linewidth=0.8, linestyle="--")
    a2.text(rep.redundant, 0.02, f" {rep.redundant} redundant", transform=a2.get_xaxis_transform(),
            fontsize=8, color=ACCENT)
    percent_axis(a2)
    style(a2, "Switch off the k least important", "k neurons switched off", "test accuracy")
    # below the axes: inside, it would cover the curves wherever they happen to run
    a2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2,
              frameon=False, handlelength=1.5, columnspacing=1.0)
    drop = rep.base_accuracy - rep.single_mean
    a3.scatter(rep.importance, drop * 100, s=10, color=ACCENT)
    style(a3, "One neuron off at a time", "importance", "accuracy lost (points)")
    return to_rgb(fig)


def robustness(res: Any, width: int = 900, height: int = 300) -> np.ndarray:
    fig = figure(width, height)
    a1, a2 = fig.subplots(1, 2)
    for ax, kind, xs, xl in ((a1, "shift", res.shifts, "shift (pixels, random direction)"),
                             (a2, "scale", res.scales, "scale factor (1 = MNIST size)")):
        ax.plot(xs, getattr(res, f"{kind}_raw"), color=hex_of("wrong"), marker="o", ms=4,
                label="fed as drawn")
        ax.plot(xs, getattr(res, f"{kind}_preprocessed"), color=hex_of("true"), marker="o", ms=4,
                label="after MNIST preprocessing")
        ax.set_ylim(0, 1.02)
        percent_axis(ax)
        style(ax, f"Digits {'moved' if kind == 'shift' else 'resized'}", xl, "accuracy")
        ax.legend(fontsize=8, loc="lower left", frameon=False)
    return to_rgb(fig)


def mosaic_matplotlib(axes: list[Any], tiles: np.ndarray, vmax: float) -> list[Any]:
    """The benchmark's reference: one imshow per tile on the axes of a reused figure (what a
    notebook would do)."""
    from matplotlib.colors import LinearSegmentedColormap
    blue = tuple(v / 255 for v in C.BLUE)
    red = tuple(v / 255 for v in C.RED)
    cmap = LinearSegmentedColormap.from_list("div", [blue, (1.0, 1.0, 1.0), red])
    out = []
    for ax, t in zip(axes, tiles, strict=False):
        ax.set_axis_off()
        out.append(ax.imshow(t, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest"))
    return out
