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

from digitlens.analysis.gradients import Network, input_jacobian, read
from digitlens.analysis.integrated import class_path_gradients
from digitlens.errors import bad_param
from digitlens.nn.compose import composed_weights
from digitlens.nn.mlp import MLP, Trace

METHODS = ("auto", "weights", "composed", "gradient", "integrated-gradients")
IG_NOTE = "integrated gradients from black: they add up to score − black's score"


@dataclass
class Evidence:
    method: str              # what "class_weights" are: weights, composed or gradient
    class_weights: np.ndarray  # (784, n_classes)
    contributions: np.ndarray  # (784, n_classes) = x[:, None] * class_weights
    scores: np.ndarray         # (n_classes,) pre-softmax output scores z (from trace)
    probabilities: np.ndarray
    prediction: int
    note: str


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
        cw, note = class_path_gradients(model, x1[0]), IG_NOTE
    else:
        cw = input_jacobian(model, x1, t, masks, np.flatnonzero(x1[0]) if ink_only else None)
        note = "gradient × input: each pixel's first-order effect on the class score"
    contrib = x1[0].astype(np.float64)[:, None] * cw
    return Evidence(method, cw, contrib, t.zs[-1][0].astype(np.float64),
                    t.probabilities[0].astype(np.float64), int(t.prediction[0]), note)


def integrated_evidence(model: Network, x: np.ndarray) -> Evidence:
    """Every class's integrated gradients from black for one input ``x`` (the values the
    network reads, flat), for either kind of network: they read only the class scores."""
    r = read(model, x[None])
    cw = class_path_gradients(model, x)
    return Evidence("integrated-gradients", cw, x.astype(np.float64).ravel()[:, None] * cw,
                    r.z[0], r.probabilities[0].astype(np.float64), int(r.prediction[0]),
                    IG_NOTE)
