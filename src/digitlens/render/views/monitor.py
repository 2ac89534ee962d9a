"""Dying and dim neurons while training, as lines per epoch (``digitlens.analysis.monitor``'s
numbers from a run's history): drawn under the evolution video and in the neurons view."""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlens.numbering import layer_name
from digitlens.palette import CLASS_COLOURS
from digitlens.render import charts

STYLES = (("dead", "-"), ("dim", "--"), ("duplicates", ":"))


def neuron_history_chart(counts: dict[str, Any], width: int = 640, height: int = 300
                         ) -> np.ndarray:
    """Dead (solid), dim (dashed) and near-duplicate (dotted) neurons per epoch, one colour
    per hidden layer, as a share of the layer."""
    fig = charts.figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    ep = counts["epochs"]
    for layer in counts["layers"]:
        colour = CLASS_COLOURS[layer["layer"] % len(CLASS_COLOURS)]
        n = max(1, layer["n"])
        for key, dash in STYLES:
            ax.plot(ep, np.asarray(layer[key]) / n, dash, color=colour, linewidth=1.8,
                    marker="o" if len(ep) <= 30 else None, markersize=3,
                    label=f"{layer_name(layer['layer'])} ({layer['n']}): {key}")
    ax.set_ylim(0, max(0.05, ax.get_ylim()[1]))
    charts.style(ax, "Dead, dim, near-duplicate neurons", "epoch", "share of the layer")
    charts.percent_axis(ax)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.legend(fontsize=7, ncol=len(counts["layers"]), loc="outside lower center",
               frameon=False)
    return charts.to_rgb(fig)


def history_sentence(counts: dict[str, Any]) -> str:
    """The last epoch's numbers in words."""
    parts = []
    for layer in counts["layers"]:
        parts.append(f"{layer_name(layer['layer'])}: {layer['dead'][-1]} dead, "
                     f"{layer['dim'][-1]} dim, {layer['duplicates'][-1]} near-duplicate "
                     f"of {layer['n']}")
    return (f"After epoch {counts['epochs'][-1]}, on 1,000 fixed test digits: "
            + "; ".join(parts) + ".")
