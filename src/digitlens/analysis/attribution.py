"""Class evidence for one input: which pixels push each class score up or down (S1's panels).

For a single-layer net the evidence is exact: score_c = Σ_i x_i·W[i, c] + b_c, so input×weights
is each pixel's contribution. For deeper nets we offer two readings and always say which:
``composed`` (input × composed weights: the linear picture of S2) and ``gradient`` (gradient of
the class's pre-softmax score with respect to the input, times the input: exact to first order
around this input).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from digitlens.analysis.compose import composed_weights
from digitlens.errors import bad_param
from digitlens.nn import backprop
from digitlens.nn.mlp import MLP, Trace

METHODS = ("auto", "weights", "composed", "gradient", "integrated-gradients")


@dataclass
class Evidence:
    method: str              # what "class_weights" are: weights, composed or gradient
    class_weights: np.ndarray  # (784, n_classes)
    contributions: np.ndarray  # (784, n_classes) = x[:, None] * class_weights
    scores: np.ndarray         # (n_classes,) pre-softmax output scores z (from trace)
    probabilities: np.ndarray
    prediction: int
    note: str


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


def evidence(model: MLP, x: np.ndarray, method: str = "auto", trace: Trace | None = None,
             masks: Mapping[int, np.ndarray] | None = None, ink_only: bool = False) -> Evidence:
    """Per-class evidence for one input; see the module docstring for the methods.
    ``trace``: this input's trace when the caller already has it (made with the same
    ``masks``); ``masks`` knock hidden neurons out, as in ``MLP.trace``. ``ink_only``: for
    callers that only show the contributions (the live page): the gradient is computed only
    where the input is not 0 (elsewhere its contribution is 0 whatever the gradient), and
    ``class_weights`` are 0 there."""
    if method not in METHODS:
        raise bad_param("method", f"one of {', '.join(METHODS)}", method)
    x1 = model.as_input(x)
    if len(x1) != 1:
        raise bad_param("x", "a single input", x1.shape)
    if method == "auto":
        method = "weights" if model.n_layers == 1 else "gradient"
    if method == "weights" and model.n_layers != 1:
        raise bad_param("method", "'composed' or 'gradient' for a net with hidden layers",
                        method)
    t = trace if trace is not None else model.trace(x1, masks=masks)
    if method == "weights":
        cw, note = model.weights[0].astype(np.float64), "input × weights: exact contributions"
    elif method == "composed":
        cw = composed_weights(model, model.n_layers - 1, masks)
        note = "input × composed weights W1·…·WL: a linear picture that ignores activations"
    elif method == "integrated-gradients":
        from digitlens.analysis.integrated import class_path_gradients
        cw = class_path_gradients(model, x1[0])
        note = "integrated gradients from black: they add up to score − black's score"
    else:
        cw = input_jacobian(model, x1, t, masks, np.flatnonzero(x1[0]) if ink_only else None)
        note = "gradient × input: each pixel's first-order effect on the class score"
    contrib = x1[0].astype(np.float64)[:, None] * cw
    return Evidence(method, cw, contrib, t.zs[-1][0].astype(np.float64),
                    t.probabilities[0].astype(np.float64), int(t.prediction[0]), note)
