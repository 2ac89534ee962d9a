"""The forward pass and the backward pass, written to be read: the textbook.

``forward`` runs a batch through the layers, ``backward`` takes the cost's gradient at the
output back through them. Analysis, attribution, the workbook's float64 check and the gradient
checks all call these two. Training runs the same arithmetic over preallocated arrays and fused
loops (``digitlens.nn.step``, the fast path), and tests/nn/test_backprop.py holds its gradient
bit-equal to this file's.

Notation: layer l computes z = a_in @ W[l] + b[l] and a = f(z); weights are stored (n_in, n_out).
"delta" is dCost/dz of a layer, a (batch, n_out) array. Layers are counted from 0 (the first
weight layer) to ``n_layers - 1`` (the output). Each nonlinearity f and its derivative f' are
a record of ``digitlens.nn.functions`` (``NONLINEARITIES``); f' is written from a = f(z), so the
backward pass needs only the activations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from digitlens.nn.functions import EPS, NONLINEARITIES, cost

Array = np.ndarray
Masks = Mapping[int, Array]


class Network(Protocol):
    """What the passes read of a model (``digitlens.nn.mlp.MLP`` is one)."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    cost: str
    params: Array
    weights: list[Array]
    biases: list[Array]
    w_slices: list[tuple[int, int]]
    b_slices: list[tuple[int, int]]

    @property
    def n_layers(self) -> int: ...

    @property
    def output_activation(self) -> str: ...


@dataclass
class Pass:
    """What ``forward`` computed: ``activations[0]`` is the input x, ``activations[l + 1]`` and
    ``zs[l]`` are layer l's output and pre-activation (counted from ``start``)."""

    zs: list[Array]
    activations: list[Array]

    @property
    def output(self) -> Array:
        return self.activations[-1]


def forward(model: Network, x: Array, *, start: int = 0, masks: Masks | None = None,
            dtype: type[np.floating] = np.float32) -> Pass:
    """Run ``x`` (n, sizes[start]) through layers ``start``..output.

    ``start`` > 0 continues from what layer ``start - 1`` gave (ablation edits a hidden layer's
    activations, then carries on). ``masks[l]`` (0/1 per neuron) knocks neurons of layer l out:
    their activation is forced to 0. ``dtype``: float32 is the model's own precision; float64
    recomputes exactly what a spreadsheet shows."""
    a = np.asarray(x, dtype)
    zs, acts = [], [a]
    with np.errstate(over="ignore", under="ignore"):
        for layer in range(start, model.n_layers):
            w = np.asarray(model.weights[layer], dtype)  # (n_in, n_out)
            b = np.asarray(model.biases[layer], dtype)   # (n_out,)
            z = a @ w + b                                # (n, n_in) @ (n_in, n_out) -> (n, n_out)
            a = NONLINEARITIES[model.activations[layer]].function(z)
            if masks is not None and layer in masks:
                a = a * np.asarray(masks[layer], dtype)  # (n, n_out) * (n_out,)
            zs.append(z)
            acts.append(a)
    return Pass(zs, acts)


def delta_below(model: Network, layer: int, delta: Array, a_in: Array, *,
                masks: Masks | None = None, dtype: type[np.floating] = np.float32) -> Array:
    """dCost/dz of layer ``layer - 1`` from ``delta`` (n, n_out), that of ``layer``:
    (delta @ W[layer]ᵀ) · f'(z), f' written from ``a_in`` = f(z), layer ``layer``'s input.
    A knocked-out neuron (``masks``) passes no gradient."""
    w = np.asarray(model.weights[layer], dtype)
    below = delta @ w.T                          # (n, n_out) @ (n_out, n_in) -> (n, n_in)
    below *= NONLINEARITIES[model.activations[layer - 1]].derivative(a_in)
    if masks is not None and layer - 1 in masks:
        below *= np.asarray(masks[layer - 1], dtype)
    return below


def backward(model: Network, acts: Sequence[Array], delta: Array, *,
             masks: Masks | None = None, dtype: type[np.floating] = np.float32) -> Array:
    """The cost's gradient with respect to every parameter, as one flat vector laid out like
    ``model.params`` (weights, then biases).

    ``acts``: ``forward(...).activations`` (acts[l] is layer l's input). ``delta``: the output
    layer's dCost/dz, (n, n_out) (``digitlens.nn.functions.output_delta``). Going down, each
    layer's weight gradient is its input's transpose times its delta, its bias gradient the
    delta summed over the batch, and the delta below comes from ``delta_below``."""
    dw: list[Array] = [np.empty(0, dtype)] * model.n_layers
    db: list[Array] = [np.empty(0, dtype)] * model.n_layers
    for layer in range(model.n_layers - 1, -1, -1):
        # delta: (n, n_out), dCost/dz of this layer
        a_in = acts[layer]                                   # (n, n_in)
        dw[layer] = a_in.T @ delta                           # (n_in, n) @ (n, n_out)
        db[layer] = np.sum(delta, axis=0)                    # (n_out,)
        if layer > 0:
            delta = delta_below(model, layer, delta, a_in, masks=masks, dtype=dtype)
    return flat(model, dw, db, dtype)


def flat(model: Network, dw: Sequence[Array], db: Sequence[Array],
         dtype: type[np.floating] = np.float32) -> Array:
    """Per-layer weight and bias gradients as one vector laid out like ``model.params``."""
    grad = np.empty(model.params.size, dtype)
    for (i, j), g in zip(model.w_slices, dw, strict=True):
        grad[i:j] = g.ravel()
    for (i, j), g in zip(model.b_slices, db, strict=True):
        grad[i:j] = g
    return grad


def input_gradient(model: Network, acts: Sequence[Array], delta: Array, top: int, *,
                   masks: Masks | None = None, rows: Array | None = None) -> Array:
    """d(Σ delta·z_top)/dx: ``delta`` (k, n_out) weighs layer ``top``'s pre-activations, and is
    carried down through every layer to the input, (k, n_in) (float32). ``acts`` as for
    ``backward`` (a single input's rows broadcast against k deltas). ``rows``: only these inputs
    (the first layer's product is the largest; the others are not computed)."""
    for layer in range(top, 0, -1):
        delta = delta_below(model, layer, delta, acts[layer], masks=masks)  # (k, n_in)
    w = model.weights[0] if rows is None else model.weights[0][rows]
    return delta @ w.T                        # (k, n_out) @ (n_out, n_in) -> (k, n_in)


class HasOutput(Protocol):
    """Any network with an output nonlinearity (an MLP, a convolutional network)."""

    @property
    def output_activation(self) -> str: ...


def probabilities(model: HasOutput, output: Array) -> Array:
    """The output normalised to sum to 1 per row (softmax outputs already do)."""
    if model.output_activation == "softmax":
        return output
    return output / np.maximum(output.sum(axis=1, keepdims=True), EPS)


def accuracy(output: Array, labels: Array) -> float:
    """The share of rows whose largest output is their label."""
    return float(np.mean(np.argmax(output, axis=1) == labels))


@dataclass
class Scores:
    """A model on a labelled set: per-row ``output``, ``probabilities`` and ``predictions``,
    the ``accuracy`` and the mean ``cost`` (without L2)."""

    output: Array
    probabilities: Array
    predictions: Array
    accuracy: float
    cost: float


def evaluate(model: Network, x: Array, labels: Array, *, masks: Masks | None = None,
             chunk: int = 4096, first: list[Pass] | None = None) -> Scores:
    """The one evaluation: forward ``x`` (n, n_in) float32 in chunks, then score it.
    ``first`` receives the pass over the first chunk (the neuron monitor reads it)."""
    outs = []
    for i in range(0, len(x), chunk):
        p = forward(model, x[i:i + chunk], masks=masks)
        if i == 0 and first is not None:
            first.append(p)
        outs.append(p.output)
    out = np.concatenate(outs) if outs else np.zeros((0, model.sizes[-1]), np.float32)
    labels = np.asarray(labels).astype(np.int64)
    return Scores(out, probabilities(model, out), np.argmax(out, axis=1), accuracy(out, labels),
                  cost(model.cost, model.output_activation, out, labels) if len(out) else 0.0)


def layer_activations(model: Network, x: Array, *, masks: Masks | None = None,
                      chunk: int = 2048) -> list[Array]:
    """Every layer's activations for many inputs, computed in chunks: element l is layer l's
    (n, sizes[l + 1]) output (the last is the output layer)."""
    parts = [forward(model, x[i:i + chunk], masks=masks).activations[1:]
             for i in range(0, len(x), chunk)]
    if not parts:
        return [np.zeros((0, n), np.float32) for n in model.sizes[1:]]
    return [np.concatenate(layer) for layer in zip(*parts, strict=True)]


class Model(Network, Protocol):
    """A network that also reads images as its input (``MLP.as_input``)."""

    def as_input(self, x: Array) -> Array: ...


def hidden_means(model: Model, images: Array) -> list[Array]:
    """Each hidden layer's mean activation over ``images`` (float64): what a circuit's
    mean-ablation puts in (``analysis.patching``), here so that the single-file explorer can
    carry them too."""
    acts = layer_activations(model, model.as_input(images))[:-1]
    return [a.astype(np.float64).mean(axis=0) for a in acts]
