"""Input gradients: how a neuron's or class's pre-activation changes with every input pixel,
by carrying a delta down through ``digitlens.nn.backprop`` to the input. Attribution, integrated
gradients, dreams and nudges all read the network through these two; the class scores of a
convolutional network too (``read``, ``score_gradient``, ``score_jacobian``), through
``digitlens.nn.cnn``'s backward pass carried on to the pixels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.nn import backprop
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP, Trace


def input_jacobian(model: MLP, x: np.ndarray, trace: Trace | None = None,
                   masks: Mapping[int, np.ndarray] | None = None,
                   pixels: np.ndarray | None = None) -> np.ndarray:
    """d z_out / d x for one input: (784, n_classes), by backpropagating each class.

    In float32, the model's own precision: the live page asks for this on every pointer move,
    and a float64 copy of a big first layer costs more than the whole backward pass.
    ``masks`` (as in ``MLP.trace``): knocked-out neurons pass no gradient. ``pixels``: only
    these inputs' rows are computed (the others stay 0), as the first layer's product, the
    largest, then costs only those rows."""
    t = trace if trace is not None else model.trace(x, masks=masks)
    n_out = model.sizes[-1]
    every_class = np.eye(n_out, dtype=np.float32)  # (classes, n_out): every class at once
    acts = [a[:1] for a in t.activations]  # one input's rows, broadcast against the classes
    grad = backprop.input_gradient(model, acts, every_class, model.n_layers - 1, masks=masks,
                                   rows=pixels)  # (classes, n_in or len(pixels))
    if pixels is None:
        return grad.T.astype(np.float64)
    out = np.zeros((model.sizes[0], n_out))
    out[pixels] = grad.T
    return out


def input_gradient(model: MLP, x: np.ndarray, layer: int, coef: np.ndarray,
                   trace: Trace | None = None) -> np.ndarray:
    """d (Σ_j coef_j · z_j) / d x for every input of a batch, z being weight layer ``layer``'s
    pre-activations (``n_layers - 1``: the output scores): (n, 784), float64.

    The batched, any-neuron sibling of ``input_jacobian``: integrated gradients need one class
    at many points of a path, a dream one hidden neuron. ``coef``: (n_out,) for every input
    alike, or (n, n_out) per input."""
    t = trace if trace is not None else model.trace(x)
    n = len(t.activations[0])
    delta = np.array(np.broadcast_to(np.asarray(coef, np.float32), (n, model.sizes[layer + 1])))
    return backprop.input_gradient(model, t.activations, delta, layer).astype(np.float64)


# The class scores of either kind of network, and their input gradients: what attributions,
# nudges and class dreams read (a convolutional network has no hidden "neurons" in the MLP's
# numbering, but it has class scores, and a gradient of them for every pixel).
Network = MLP | CNN


@dataclass
class Reading:
    """A batch's class scores ``z`` (before the output nonlinearity), ``probabilities`` and
    ``prediction``; ``trace`` the network's own record of the pass, reused for its gradient."""

    z: np.ndarray
    probabilities: np.ndarray
    prediction: np.ndarray
    trace: Any


def pixels(model: Network, x: np.ndarray) -> np.ndarray:
    """(n, P) float32 rows of the P input values, from any shape the network reads."""
    rows = model.as_input(x)
    return rows.reshape(len(rows), -1)


def output_layer(model: Network) -> int:
    """The output layer's number, as dreams and neurons are addressed: an MLP's weight layers
    counted from 0, a convolutional network's layers (pooling included)."""
    return len(model.layers) - 1 if isinstance(model, CNN) else model.n_layers - 1


def _reading(model: CNN, p: K.Pass) -> Reading:
    assert p.scores is not None  # the last layer is dense: it has scores
    return Reading(p.scores.astype(np.float64), backprop.probabilities(model, p.output),
                   np.argmax(p.output, axis=1), p)


def read(model: Network, x: np.ndarray) -> Reading:
    """One forward pass over ``x``: the class scores and what the network answers."""
    if isinstance(model, CNN):
        return _reading(model, K.forward(model, model.as_input(x)))
    t = model.trace(x)
    return Reading(t.zs[-1].astype(np.float64), t.probabilities, t.prediction, t)


def score_gradient(model: Network, x: np.ndarray, coef: np.ndarray,
                   reading: Reading | None = None) -> tuple[np.ndarray, Reading]:
    """d(Σ_j coef_j · z_j)/dx of the class scores for every image of ``x``: (n, P) float64,
    and the reading it came from. ``coef``: (classes,) for all alike, or (n, classes)."""
    if isinstance(model, CNN):
        g, p = K.input_gradient(model, x, coef)
        return g.astype(np.float64), _reading(model, p)
    r = reading or read(model, x)
    return input_gradient(model, x, model.n_layers - 1, coef, r.trace), r


def score_jacobian(model: Network, x: np.ndarray, reading: Reading | None = None
                   ) -> np.ndarray:
    """d z / d x for one image: (P, classes), every class's gradient at once."""
    if isinstance(model, CNN):
        c = model.n_classes
        one = pixels(model, x)[:1]
        return score_gradient(model, np.repeat(one, c, axis=0), np.eye(c))[0].T
    return input_jacobian(model, x, reading.trace if reading else None)
