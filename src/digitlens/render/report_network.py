"""Report sections about the whole network: hidden-space maps with their separation per layer,
two models side by side (S2's 500 vs 60,000 images), and the neurons that died or dimmed
while training. Each returns HTML for ``digitlens.render.report`` and saves its figures through
the report's writer."""

from __future__ import annotations

from typing import Any

from digitlens.analysis.compare import compare_models
from digitlens.analysis.maps import hidden_maps
from digitlens.analysis.monitor import history_counts
from digitlens.data.sources import Dataset
from digitlens.nn.mlp import MLP
from digitlens.render.image import Picture
from digitlens.render.report_html import table
from digitlens.render.views import model_label
from digitlens.render.views.compare import compare_view
from digitlens.render.views.maps import map_view
from digitlens.render.views.monitor import history_sentence, neuron_history_chart


def maps_section(w: Any, model: MLP, ds: Dataset) -> tuple[str, str]:
    """The PCA map of every hidden layer and the linear-probe table; (body, finding)."""
    maps = hidden_maps(model, ds.test_images, ds.test_labels)
    body = w.figure(map_view(maps, ds.test_labels, list(ds.class_names)), "maps.png")
    body += table(["layer", "linear-probe accuracy", "variance on the map (PC1 + PC2)"],
                  [[m.name, f"{m.separation:.2%}",
                    f"{float(m.pca.explained_ratio.sum()) if m.pca else 0:.0%}"] for m in maps])
    body += ("<p>The probe is a ridge-regression classifier fitted on the first half of the "
             "test digits and scored on the other half: how well a straight cut through the "
             "layer separates the classes.</p>")
    first, last = maps[0], maps[-1]
    finding = (f"A straight cut separates <b>{first.separation:.1%}</b> of the test digits by "
               f"class on the raw pixels and <b>{last.separation:.1%}</b> in "
               f"{last.name.split(' (')[0]}: the layers untangle the digits.")
    return body, finding


def twin_comparison(w: Any, few: MLP, many: MLP, ds: Dataset) -> str:
    """The same net trained on few images (A) and on many (B), side by side."""
    n = len(ds.train_labels)
    c = compare_models(few, many, ds.test_images, ds.test_labels)
    view = compare_view(c, few, many, ds.test_images, list(ds.class_names),
                        model_label(few, n), model_label(many, n))
    return w.figure(view, "compare-few-many.png")


def monitor_figure(w: Any, history: list[dict[str, Any]], model: MLP) -> str:
    """Dead, dim and near-duplicate neurons per epoch, when the run recorded them."""
    counts = history_counts(history)
    if counts is None:
        return ""
    pic = Picture(neuron_history_chart(counts), "neurons-history")
    if "relu" in model.activations[:-1]:
        why = ("Solid lines are dead neurons: with a learning rate that is too high, ReLU "
               "neurons die early and these lines climb and stay up.")
    else:  # a sigmoid or tanh neuron never outputs exactly 0: "dead" means it stopped moving
        why = ("Solid lines are dead neurons: in this net's "
               f"{model.activations[0]} layers a neuron is dead when it gives nearly the same "
               "value for every digit, so it tells the next layer nothing.")
    return w.figure(pic, "neurons-history.png", f"{history_sentence(counts)} {why}")
