"""Input gradients: how a neuron's or class's pre-activation changes with every input pixel,
by carrying a delta down through ``digitlens.nn.backprop`` to the input. Attribution, integrated
gradients, dreams and nudges all read the network through these two."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from digitlens.nn import backprop
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
