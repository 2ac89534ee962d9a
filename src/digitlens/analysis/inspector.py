"""One neuron up close: what it looks at, how its current value is computed, what excites it,
and what the network loses without it.

Layers and neurons are numbered as everywhere (``digitlens.numbering``): layer ``l`` maps
``sizes[l]`` inputs to ``sizes[l+1]`` neurons, layer 0 is the first hidden layer and
``n_layers - 1`` the output. Only hidden
neurons can be knocked out (``MLP.trace``'s masks); an output neuron *is* a class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.errors import bad_param
from digitlens.layout import grid_shape
from digitlens.nn import functions as F
from digitlens.nn.compose import composed_weights
from digitlens.nn.mlp import MLP
from digitlens.numbering import check_address, layer_rule

Masks = Mapping[int, np.ndarray]


def check_neuron(model: MLP, layer: int, index: int) -> None:
    """One message shape for a neuron address that does not exist."""
    if not isinstance(layer, int):
        raise bad_param("layer", layer_rule(model.n_layers), layer)
    if not isinstance(index, int):
        raise bad_param("neuron", "an int", index)
    check_address(model.sizes, layer, index)


def knockout_masks(model: MLP, knockouts: Mapping[int, list[int]] | None) -> dict[int, np.ndarray]:
    """0/1 masks per hidden layer from ``{layer: [neuron indices to switch off]}``."""
    masks: dict[int, np.ndarray] = {}
    if knockouts and model.n_layers == 1:
        raise bad_param("knockout", "empty: this network has no hidden layer", knockouts)
    for layer, neurons in (knockouts or {}).items():
        if not (isinstance(layer, int) and 0 <= layer < model.n_layers - 1):
            raise bad_param("knockout layer", f"a hidden layer in 0..{model.n_layers - 2}", layer)
        if not neurons:
            continue
        n = model.sizes[layer + 1]
        idx = np.asarray(neurons, dtype=np.int64)
        if idx.min() < 0 or idx.max() >= n:
            raise bad_param("knockout neuron", f"an int in 0..{n - 1}", neurons)
        mask = np.ones(n, np.float32)
        mask[idx] = 0
        masks[layer] = mask
    return masks


@dataclass
class Arithmetic:
    """S4's formula with the real numbers: z = Σ inputs × weights + bias, value = f(z)."""

    inputs: np.ndarray     # (n_in,) the previous layer's values for this input
    weights: np.ndarray    # (n_in,) this neuron's incoming weights
    terms: np.ndarray      # (n_in,) inputs × weights
    bias: float
    z: float
    activation: str
    value: float
    knocked_out: bool

    def to_dict(self, top: int = 8) -> dict[str, Any]:
        order = np.argsort(-self.terms, kind="stable")
        pos = [int(i) for i in order[:top] if self.terms[i] > 0]
        neg = [int(i) for i in order[::-1][:top] if self.terms[i] < 0]

        def row(i: int) -> dict[str, float | int]:
            return {"index": i, "input": float(self.inputs[i]), "weight": float(self.weights[i]),
                    "product": float(self.terms[i])}
        t = self.terms
        return {"n_inputs": int(t.size), "n_active": int(np.count_nonzero(self.inputs)),
                "sum": float(t.sum()), "positive_sum": float(t[t > 0].sum()),
                "negative_sum": float(t[t < 0].sum()), "bias": self.bias,
                "z": self.z, "activation": self.activation, "value": self.value,
                "knocked_out": self.knocked_out, "top_positive": [row(i) for i in pos],
                "top_negative": [row(i) for i in neg]}


def arithmetic(model: MLP, layer: int, index: int, x: np.ndarray,
               masks: Masks | None = None) -> Arithmetic:
    """Recompute one neuron's value term by term, in float64, from the previous layer's values."""
    check_neuron(model, layer, index)
    t = model.trace(x, masks=masks)
    inputs = t.activations[layer][0].astype(np.float64)
    w = model.weights[layer][:, index].astype(np.float64)
    terms = inputs * w  # (n_in,) * (n_in,) -> (n_in,)
    bias = float(model.biases[layer][index])
    z = float(terms.sum() + bias)
    act = model.activations[layer]
    if act == "softmax":  # the value depends on every output neuron's z
        zs = t.zs[layer][0].astype(np.float64)
        value = float(np.exp(z - zs.max()) / np.exp(zs - zs.max()).sum())
    else:
        value = float(F.ACTIVATIONS[act](np.array([z]))[0])
    off = masks is not None and layer in masks and masks[layer][index] == 0
    return Arithmetic(inputs, w, terms, bias, z, act, 0.0 if off else value, bool(off))


def top_exciting(values: np.ndarray, k: int = 8) -> np.ndarray:
    """Indices of the ``k`` largest values, largest first (ties broken by index)."""
    k = min(k, len(values))
    return np.argsort(-values, kind="stable")[:k]


def neuron_detail(model: MLP, layer: int, index: int, x: np.ndarray | None = None,
                  masks: Masks | None = None) -> dict[str, Any]:
    """Everything about one neuron that does not need the test set (see ``neuron_on_test``)."""
    check_neuron(model, layer, index)
    incoming = model.weights[layer][:, index].astype(np.float64)
    composed = composed_weights(model, layer)[:, index]
    out: dict[str, Any] = {
        "layer": layer, "neuron": index, "n_layers": model.n_layers,
        "kind": "output" if layer == model.n_layers - 1 else "hidden",
        "activation": model.activations[layer], "bias": float(model.biases[layer][index]),
        "incoming": incoming,
        "incoming_shape": model.input_shape if layer == 0 else grid_shape(model.sizes[layer]),
        "composed": composed, "outgoing": None,
    }
    if layer < model.n_layers - 1:
        out["outgoing"] = model.weights[layer + 1][index].astype(np.float64)
    if x is not None:
        out["arithmetic"] = arithmetic(model, layer, index, x, masks).to_dict()
    return out
