"""Hidden-space maps: each layer's test activations projected to 2-D, one colour per class,
with the layer's linear-probe separation beside its name (``digitlens.analysis.maps``)."""

from __future__ import annotations

import numpy as np

from digitlens.analysis.maps import LayerMap
from digitlens.palette import CLASS_COLOURS
from digitlens.render import charts
from digitlens.render.image import Picture

PANEL = 340


def maps_chart(maps: list[LayerMap], labels: np.ndarray, names: list[str]) -> np.ndarray:
    """One scatter panel per map, side by side, a shared class legend underneath."""
    fig = charts.figure(PANEL * len(maps), PANEL + 60)
    y = np.asarray(labels, np.int64)
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    for ax, m in zip(axes, maps, strict=True):
        order = np.random.default_rng(0).permutation(len(y))  # no class painted over the rest
        colours = np.array(CLASS_COLOURS * (1 + len(names) // len(CLASS_COLOURS)))[y[order]]
        ax.scatter(m.points[order, 0], m.points[order, 1], s=2, c=colours, linewidths=0,
                   alpha=0.7, rasterized=True)
        if m.pca is not None:
            r = m.pca.explained_ratio
            charts.style(ax, m.name, f"PC1 ({r[0]:.0%} of the variance)", f"PC2 ({r[1]:.0%})")
        else:
            charts.style(ax, m.name, "UMAP 1", "UMAP 2")
        ax.set_title(f"linear probe {m.separation:.1%}", fontsize=9, loc="right",
                     color=charts.ACCENT)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [charts_marker(CLASS_COLOURS[k % len(CLASS_COLOURS)]) for k in range(len(names))]
    fig.legend(handles, charts.as_text(names), loc="outside lower center", ncol=min(len(names), 10),
               fontsize=8, frameon=False, markerscale=1.5)
    return charts.to_rgb(fig)


def charts_marker(colour: str) -> object:
    from matplotlib.lines import Line2D
    return Line2D([], [], marker="o", linestyle="", color=colour, markersize=5)


def map_view(maps: list[LayerMap], labels: np.ndarray, names: list[str]) -> Picture:
    """The maps as a picture; its data holds each layer's separation."""
    rgb = maps_chart(maps, labels, names)
    first, last = maps[0], maps[-1]
    if len(maps) > 1:
        caption = (f"Each dot is a test digit, coloured by its class. A straight line through "
                   f"the {first.name.split(' (')[0]} separates {first.separation:.1%} of the "
                   f"digits by class; through {last.name.split(' (')[0]}, "
                   f"{last.separation:.1%}: the layers untangle the digits.")
    else:
        caption = (f"Each dot is a test digit of {first.name}, coloured by its class; a linear "
                   f"probe separates {first.separation:.1%} of them.")
    return Picture(rgb, "map", caption, {"maps": [m.to_dict() for m in maps]})
