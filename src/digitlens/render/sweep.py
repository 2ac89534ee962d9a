"""A sweep as a chart: final test accuracy against one grid key, mean ± spread over seeds,
one line per value of the other keys; and the report's sweep section."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from digitlens.errors import ParameterError
from digitlens.palette import hex_of
from digitlens.render import charts
from digitlens.render.image import Picture
from digitlens.render.report_html import table
from digitlens.wording import count

LINE_COLOURS = ("accent", "wrong", "true", "dup", "dead", "muted")
AXIS = {"hidden": "hidden neurons (per hidden layer)", "train_size": "training images",
        "lr": "learning rate", "l2": "L2 strength", "batch_size": "batch size"}


def grid_keys(results: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(k for r in results["points"] for k in r["settings"]))


def label(value: Any) -> str:
    return "all" if value is None else str(value)


def summarise(results: dict[str, Any], x: str, hue: str | None = None) -> list[dict[str, Any]]:
    """One group per combination of the keys other than ``x`` (``hue`` first): for each x
    value the finished seeds' accuracies, their mean and sample standard deviation."""
    keys = grid_keys(results)
    for name, key in (("x", x), ("hue", hue)):
        if key is not None and key not in keys:
            raise ParameterError(f"--{name} {key!r} is not a key of this sweep; its keys are "
                                 f"{', '.join(keys)}")
    if hue == x:
        raise ParameterError("--hue must differ from --x")
    others = ([hue] if hue else []) + [k for k in keys if k not in (x, hue)]
    groups: dict[tuple[str, ...], dict[str, list[float]]] = {}
    order: list[str] = []
    for r in results["points"]:
        xv = label(r["settings"].get(x))
        if xv not in order:
            order.append(xv)
        g = groups.setdefault(tuple(f"{k}={label(r['settings'].get(k))}" for k in others), {})
        if r["status"] == "done" and r["test_accuracy"] is not None:
            g.setdefault(xv, []).append(float(r["test_accuracy"]))
    out = []
    for parts, cells in groups.items():
        xs = [v for v in order if v in cells]
        accs = [cells[v] for v in xs]
        out.append({"label": ", ".join(parts), "x": xs, "values": accs,
                    "mean": [float(np.mean(a)) for a in accs],
                    "std": [float(np.std(a, ddof=1)) if len(a) > 1 else 0.0 for a in accs],
                    "n": [len(a) for a in accs]})
    return out


def numeric(values: list[str]) -> list[float] | None:
    try:
        nums = [float(v) for v in values]
    except ValueError:
        return None
    return nums if all(math.isfinite(n) for n in nums) else None


def sweep_chart(results: dict[str, Any], x: str, hue: str | None = None, width: int = 760,
                height: int = 420) -> Picture:
    """Final test accuracy against ``x``: a line through the means over seeds, a band of ±1
    standard deviation, each seed a dot. A log axis where the values span doublings."""
    groups = summarise(results, x, hue)
    all_x = list(dict.fromkeys(v for g in groups for v in g["x"]))
    nums = numeric(all_x)
    log = bool(nums) and min(nums or [0]) > 0 and max(nums or [0]) / min(nums or [1]) >= 4
    pos = {v: (float(v) if nums else i) for i, v in enumerate(all_x)}
    fig = charts.figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    for i, g in enumerate(groups):
        if not g["x"]:
            continue
        colour = hex_of(LINE_COLOURS[i % len(LINE_COLOURS)])
        px = np.array([pos[v] for v in g["x"]])
        mean, std = np.array(g["mean"]), np.array(g["std"])
        ax.plot(px, mean, color=colour, marker="o", ms=4, label=g["label"] or "mean")
        ax.fill_between(px, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
        for xv, vals in zip(px, g["values"], strict=True):
            ax.scatter([xv] * len(vals), vals, s=9, color=colour, alpha=0.5, linewidths=0)
    if log:
        ax.set_xscale("log", base=2)
    ax.set_xticks(list(pos.values()), all_x)
    ax.minorticks_off()
    charts.percent_axis(ax)
    n_seeds = max((n for g in groups for n in g["n"]), default=0)
    name = AXIS.get(x, x)
    charts.style(ax, f"Test accuracy against {name}", name + (" (log scale)" if log else ""),
                 "final test accuracy")
    if any(g["label"] for g in groups):
        ax.legend(fontsize=8, frameon=False)
    caption = (f"Each dot is one network's final test accuracy; the line joins the means over "
               f"up to {count(n_seeds, 'seed')} and the band spans one standard deviation "
               f"either side.")
    return Picture(charts.to_rgb(fig), "sweep", caption, {"groups": groups, "x": x, "log": log})


def sweep_section(w: Any, results: dict[str, Any], x: str | None = None) -> str:
    """The report's sweep section: the chart against the first grid key, then the table."""
    keys = grid_keys(results)
    body = w.figure(sweep_chart(results, x or keys[0]), "sweep.png")
    head = [*keys, "seed", "status", "final", "best", "epochs", "parameters"]
    rows = []
    for r in results["points"]:
        acc, best = r.get("test_accuracy"), r.get("best_test_accuracy")
        rows.append([*(label(r["settings"].get(k)) for k in keys), str(r["seed"]), r["status"],
                     f"{acc:.2%}" if acc is not None else "", f"{best:.2%}" if best else "",
                     str(r["epochs"]), f"{r['params']:,}"])
    return body + table(head, rows)
