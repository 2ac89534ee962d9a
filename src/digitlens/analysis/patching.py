"""Why this answer and not that one: activation patching between two drawings, and the circuit
behind one answer, measured by mean-ablation.

Patching runs drawing B, and at hidden layer L puts in the activations drawing A gives there
(for the chosen neurons), then lets the network carry on: if the answer moves to A's, those
neurons carried the difference.

A circuit is the few hidden neurons that make the gap between two output scores,
``gap = z_target − z_contrast`` (the scores before the softmax). A neuron is "removed" by
giving it its mean activation over the test set (mean-ablation: the network sees an average
value, not an impossible zero). Each neuron's effect is the drop in the gap when it alone is
removed; the circuit is the K neurons with the largest effects, and two honest measures say
how much of the answer it holds:

* ``restored``: the gap with every hidden neuron outside the circuit removed, over the full gap;
* ``removed``: one minus the gap with the circuit's neurons removed, over the full gap.

In the last hidden layer the gap is linear, so a neuron's effect there is exactly
``(a − mean) · (W[:, target] − W[:, contrast])``; the decomposition ``gap = Σ a·ΔW + Δb``
(``direct``) is the sum every such effect rests on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError, bad_param
from digitlens.nn.backprop import forward, probabilities
from digitlens.nn.backprop import hidden_means as hidden_means  # what mean-ablation puts in
from digitlens.nn.functions import NONLINEARITIES
from digitlens.nn.mlp import MLP
from digitlens.numbering import check_hidden_layer

MAX_NODES = 30


@dataclass
class Patch:
    """Drawing B's answer before and after layer ``layer``'s ``patched`` neurons took the
    values drawing A gives them."""

    layer: int
    patched: list[int]
    prediction_before: int
    prediction_after: int
    source_prediction: int
    probabilities_before: np.ndarray
    probabilities_after: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "patched": self.patched,
                "prediction_before": self.prediction_before,
                "prediction_after": self.prediction_after,
                "source_prediction": self.source_prediction,
                "probabilities_before": np.round(self.probabilities_before, 6).tolist(),
                "probabilities_after": np.round(self.probabilities_after, 6).tolist()}


def check_neurons(model: MLP, layer: int, neurons: Sequence[int] | None) -> list[int]:
    """The neurons of hidden layer ``layer`` to patch (all of them when None), checked."""
    width = model.sizes[layer + 1]
    if neurons is None:
        return list(range(width))
    chosen = list(neurons)
    bad = [n for n in chosen if not (isinstance(n, int | np.integer) and not isinstance(n, bool)
                                     and 0 <= n < width)]
    if bad or not chosen:
        raise bad_param("neurons", f"neurons of layer {layer} (0..{width - 1})",
                        bad[0] if bad else "none")
    if len(set(chosen)) != len(chosen):
        raise bad_param("neurons", "each neuron once", sorted(chosen))
    return [int(n) for n in chosen]


def patch(model: MLP, source: np.ndarray, into: np.ndarray, layer: int,
          neurons: Sequence[int] | None = None) -> Patch:
    """Run ``into``; at hidden ``layer`` give ``neurons`` the activations ``source`` makes
    there; continue to the output."""
    check_hidden_layer(model.sizes, layer)
    chosen = check_neurons(model, layer, neurons)
    xs = model.as_input(np.stack([np.ravel(source), np.ravel(into)]))
    full = forward(model, xs)
    hidden = full.activations[layer + 1][1:2].copy()      # (1, width): B's layer
    hidden[:, chosen] = full.activations[layer + 1][0, chosen]
    after = forward(model, hidden, start=layer + 1).output
    p_src, p_before = probabilities(model, full.output)
    p_after = probabilities(model, after)[0]
    return Patch(layer, chosen, int(np.argmax(p_before)), int(np.argmax(p_after)),
                 int(np.argmax(p_src)), p_before.astype(np.float64),
                 p_after.astype(np.float64))


@dataclass
class Circuit:
    """The neurons behind ``target`` beating ``contrast`` for one input."""

    target: int
    contrast: int
    gap: float                       # z_target − z_contrast
    nodes: list[tuple[int, int, float]]   # (layer, neuron, effect), largest effect first
    edges: list[tuple[int, int, int, float]]  # (layer, from neuron, to neuron, w·a)
    restored: float
    removed: float
    direct: np.ndarray               # last hidden layer: a·(W[:, t] − W[:, c]) per neuron
    bias_difference: float           # b_t − b_c

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "contrast": self.contrast, "gap": self.gap,
                "nodes": [{"layer": ly, "neuron": n, "effect": round(e, 6)}
                          for ly, n, e in self.nodes],
                "edges": [{"layer": ly, "from": a, "to": b, "value": round(v, 6)}
                          for ly, a, b, v in self.edges],
                "restored": self.restored, "removed": self.removed,
                "decomposition": {"direct_sum": float(self.direct.sum()),
                                  "bias_difference": self.bias_difference,
                                  "gap": self.gap}}


def gaps_with(model: MLP, x: np.ndarray, keep: list[np.ndarray], means: list[np.ndarray],
              target: int, contrast: int) -> np.ndarray:
    """The gap for each row of ``keep`` (per layer, (rows, width) 0/1: 1 keeps the neuron's
    own activation, 0 gives it its mean), layer by layer in float64."""
    rows = len(keep[0])
    a = np.repeat(np.asarray(x, np.float64)[None], rows, axis=0)
    for layer in range(model.n_layers):
        w = model.weights[layer].astype(np.float64)
        b = model.biases[layer].astype(np.float64)
        z = a @ w + b
        if layer == model.n_layers - 1:
            return z[:, target] - z[:, contrast]
        a = NONLINEARITIES[model.activations[layer]].function(z)
        a = np.where(keep[layer] > 0, a, means[layer])
    raise DigitlensError("a circuit needs a hidden layer")


def circuit(model: MLP, x: np.ndarray, means: list[np.ndarray], target: int | None = None,
            contrast: int | None = None, max_nodes: int = MAX_NODES) -> Circuit:
    """The ``max_nodes`` hidden neurons whose removal lowers the gap most, and how much of
    the gap they hold (``restored``, ``removed``)."""
    if model.n_layers < 2:
        raise DigitlensError("this network has no hidden layer: its answer is the weights "
                             "times the pixels (see the evidence view)")
    if not (isinstance(max_nodes, int) and not isinstance(max_nodes, bool) and max_nodes >= 1):
        raise bad_param("max-nodes", "an int >= 1", max_nodes)
    x1 = model.as_input(x)[0].astype(np.float64)
    n = model.sizes[-1]
    t = model.trace(x1[None])
    z = t.zs[-1][0].astype(np.float64)
    order = [int(i) for i in np.argsort(-z)]
    target = order[0] if target is None else target
    contrast = next(c for c in order if c != target) if contrast is None else contrast
    for name, c in (("target", target), ("contrast", contrast)):
        if not (isinstance(c, int | np.integer) and 0 <= c < n):
            raise bad_param(name, f"a class in 0..{n - 1}", c)
    if target == contrast:
        raise bad_param("contrast", "a class other than the target", contrast)
    widths = model.sizes[1:-1]
    ones = [np.ones((1, w)) for w in widths]
    full = float(gaps_with(model, x1, ones, means, target, contrast)[0])
    effects: list[tuple[int, int, float]] = []
    for layer, w in enumerate(widths):  # one neuron removed per row
        keep = [np.ones((w, v)) for v in widths]
        keep[layer] = 1 - np.eye(w)
        drop = full - gaps_with(model, x1, keep, means, target, contrast)
        effects += [(layer, j, float(drop[j])) for j in range(w)]
    effects.sort(key=lambda e: -e[2])
    nodes = effects[:max_nodes]
    chosen = [np.zeros((1, w)) for w in widths]
    for layer, j, _ in nodes:
        chosen[layer][0, j] = 1
    kept = float(gaps_with(model, x1, chosen, means, target, contrast)[0])
    gone = float(gaps_with(model, x1, [1 - c for c in chosen], means, target, contrast)[0])
    scale = full if abs(full) > 1e-12 else 1e-12
    acts = [a[0].astype(np.float64) for a in t.activations]
    edges = [(layer, a, b, float(acts[layer][a] * model.weights[layer][a, b]))
             for layer in range(1, len(widths))
             for (la, a, _) in nodes if la == layer - 1
             for (lb, b, _) in nodes if lb == layer]
    last = model.weights[-1].astype(np.float64)
    direct = acts[-2] * (last[:, target] - last[:, contrast])
    bias = float(model.biases[-1][target]) - float(model.biases[-1][contrast])
    return Circuit(int(target), int(contrast), full, nodes, edges, kept / scale,
                   1 - gone / scale, direct, bias)
