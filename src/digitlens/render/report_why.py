"""The report's "why this answer and not that one" section: circuits by mean-ablation for the
network's most common rivalries, and the circuit's neurons patched in from a digit of the
rival class (``digitlens.analysis.patching``); with an atlas of the last hidden layer, the
feature that pushes each gap most (``analysis.feature_gap``). Tables only: the numbers are
the point."""

from __future__ import annotations

from collections import Counter

import numpy as np

from digitlens.analysis import sae as S
from digitlens.analysis.feature_gap import gap_in_features
from digitlens.analysis.patching import circuit, hidden_means, patch
from digitlens.nn.mlp import MLP
from digitlens.numbering import layer_name, neuron_name
from digitlens.render.report_html import table

ROWS, MEDIAN_OVER, SCAN = 6, 40, 2000


def rivalries(model: MLP, x: np.ndarray, y: np.ndarray) -> list[tuple[int, int, int]]:
    """(test digit, its class, the runner-up) for the most common (class, runner-up) pairs
    among digits read correctly, the first digit of each pair."""
    n = min(len(y), SCAN)
    z = model.trace(x[:n]).zs[-1]
    order = np.argsort(-z, axis=1)
    right = np.flatnonzero(order[:, 0] == y[:n])
    pairs = Counter((int(y[i]), int(order[i, 1])) for i in right)
    first: dict[tuple[int, int], int] = {}
    for i in right:
        first.setdefault((int(y[i]), int(order[i, 1])), int(i))
    return [(first[p], *p) for p, _ in pairs.most_common(ROWS)]


def why_section(model: MLP, x: np.ndarray, y: np.ndarray, names: list[str],
                atlases: dict[int, S.SAE] | None = None) -> tuple[str, list[str]]:
    """The section's HTML and its finding ("" when the network has no hidden layer); with an
    atlas of the last hidden layer among ``atlases``, a column of the feature that pushes each
    gap most."""
    if model.n_layers < 2:
        return "", []
    means = hidden_means(model, x)
    last = model.n_layers - 2
    sae = (atlases or {}).get(last)
    rows = []
    for i, target, rival in rivalries(model, x, y):
        c = circuit(model, x[i], means, target, rival)
        in_features = []
        if sae is not None:
            g = gap_in_features(model, sae, x[i], target, rival)
            j, _, e = g.terms[0] if g.terms else (None, 0.0, 0.0)
            in_features = ["none fire" if j is None else f"feature {j} ({e:+.2f})"]
        per_layer = Counter(layer for layer, _, _ in c.nodes)
        layer = max(per_layer, key=lambda ly: (per_layer[ly], ly))
        donors = np.flatnonzero(y == rival)
        donor = next((int(j) for j in donors[:200]
                      if int(model.predict(x[j])[0]) == rival), None)
        moved = "no digit of that class read as it"
        if donor is not None:
            p = patch(model, x[donor], x[i], layer,
                      [j for ly, j, _ in c.nodes if ly == layer])
            moved = (f"digit {donor}, {per_layer[layer]} neurons of layer {layer}: read as "
                     f"{names[p.prediction_after]} "
                     f"({p.probabilities_after.max():.0%})")
        lead = ", ".join(neuron_name(ly, j) for ly, j, _ in c.nodes[:3])
        rows.append([str(i), names[target], names[rival], f"{c.gap:.2f}",
                     f"{c.restored:.0%}", f"{c.removed:.0%}", lead, *in_features, moved])
    stats = [circuit(model, x[i], means) for i in range(min(MEDIAN_OVER, len(y)))]
    restored = float(np.median([c.restored for c in stats]))
    removed = float(np.median([c.removed for c in stats]))
    intro = ("<p>For one digit, the <em>gap</em> is the winning class's score minus a rival's "
             "(before the softmax). A neuron is removed by giving it its mean over the test "
             "set; the circuit is the 30 hidden neurons whose removal alone lowers the gap "
             "most. <em>Restored</em>: the gap with every other hidden neuron removed, over the "
             "full gap; <em>removed</em>: the share of the gap gone with the circuit removed. "
             "Last, the circuit's neurons of its busiest layer take the values a digit of the "
             "rival class gives them (patching): does the answer follow?</p>")
    if sae is not None:
        intro += ("<p>The column <em>in features</em> names the feature of the atlas of "
                  f"{layer_name(last)} that pushes the gap most: the gap is exactly the sum of "
                  "one term per firing feature, the atlas's bias, what it misses and the output "
                  "biases.</p>")
    head = ["test digit", "read as", "not", "gap", "restored", "removed", "led by",
            *(["in features"] if sae is not None else []), "patched from a rival digit"]
    body = intro + table(head, rows)
    body += (f"<p class='note'>Over the first {len(stats)} test digits (rival: the "
             f"runner-up), the median circuit restores {restored:.0%} of the gap and its "
             f"removal takes away {removed:.0%}. Definitions and limits: docs/why.md.</p>")
    finding = (f"Removing 30 of the hidden neurons takes away a median <b>{removed:.0%}</b> "
               f"of the gap between the answer and the runner-up; those 30 alone restore "
               f"<b>{restored:.0%}</b> of it.")
    return body, [finding]
