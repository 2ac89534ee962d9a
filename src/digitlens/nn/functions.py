"""Activations, their derivatives and costs: small pure functions looked up by name.

Derivatives are written in terms of the activation's *output* ``a`` (sigmoid: a(1-a), tanh:
1-a², ReLU: a>0), so the training loop keeps only activations, not pre-activations.
In-place variants (``*_`` suffix) serve the hot training loop; the plain ones serve analysis.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray


def sigmoid(z: Array) -> Array:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def relu(z: Array) -> Array:
    return np.maximum(z, 0)


def tanh(z: Array) -> Array:
    return np.tanh(z)


def identity(z: Array) -> Array:
    return z


def softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid_(a: Array) -> None:
    """a <- sigmoid(a), in place, no temporaries."""
    with np.errstate(over="ignore"):
        np.negative(a, out=a)
        np.exp(a, out=a)
        a += 1
        np.reciprocal(a, out=a)


def relu_(a: Array) -> None:
    np.maximum(a, 0, out=a)


def tanh_(a: Array) -> None:
    np.tanh(a, out=a)


def identity_(a: Array) -> None:
    return None


def softmax_(a: Array) -> None:
    a -= a.max(axis=1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=1, keepdims=True)


def d_sigmoid_(delta: Array, a: Array, tmp: Array) -> None:
    """delta *= a(1-a)."""
    np.subtract(1, a, out=tmp)
    tmp *= a
    delta *= tmp


def d_relu_(delta: Array, a: Array, tmp: Array) -> None:
    """delta *= (a > 0); ``tmp`` is unused (the comparison writes into a bool view)."""
    np.multiply(delta, a > 0, out=delta)


def d_tanh_(delta: Array, a: Array, tmp: Array) -> None:
    """delta *= 1 - a²."""
    np.multiply(a, a, out=tmp)
    np.subtract(1, tmp, out=tmp)
    delta *= tmp


def d_identity_(delta: Array, a: Array, tmp: Array) -> None:
    return None


def derivative(name: str, a: Array) -> Array:
    """f'(z) written in terms of a = f(z) (not in place; for analysis and tests)."""
    if name == "sigmoid":
        return a * (1 - a)
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "tanh":
        return 1 - a * a
    return np.ones_like(a)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": sigmoid, "relu": relu, "tanh": tanh, "identity": identity, "softmax": softmax,
}
INPLACE: dict[str, Callable[[Array], None]] = {
    "sigmoid": sigmoid_, "relu": relu_, "tanh": tanh_, "identity": identity_, "softmax": softmax_,
}
DERIVATIVES_: dict[str, Callable[[Array, Array, Array], None]] = {
    "sigmoid": d_sigmoid_, "relu": d_relu_, "tanh": d_tanh_, "identity": d_identity_,
}
HIDDEN = ("sigmoid", "relu", "tanh", "identity")
OUTPUTS = ("softmax", "sigmoid")
COSTS = ("cross_entropy", "quadratic")
EPS = 1e-12


def cost(name: str, output: str, a: Array, y: Array) -> float:
    """Mean cost over the batch. ``a`` the output activations, ``y`` integer labels.

    cross_entropy with softmax: -log a_y; with sigmoid outputs: the binary cross-entropy summed
    over the 10 outputs (Nielsen's convention); quadratic: ½‖a - onehot(y)‖².
    """
    n = len(y)
    rows = np.arange(n)
    if name == "quadratic":
        diff = a.astype(np.float64)
        diff[rows, y] -= 1
        return float(0.5 * np.sum(diff * diff) / n)
    if output == "softmax":
        return float(-np.mean(np.log(a[rows, y].astype(np.float64) + EPS)))
    a64 = np.clip(a.astype(np.float64), EPS, 1 - EPS)
    t = np.zeros_like(a64)
    t[rows, y] = 1
    return float(-np.sum(t * np.log(a64) + (1 - t) * np.log(1 - a64)) / n)


def output_delta_(name: str, output: str, a: Array, y: Array, tmp: Array) -> Array:
    """dCost/dz of the output layer for a batch, written into ``a`` (mean over the batch).

    softmax+CE and sigmoid+CE both give (a - onehot)/n; quadratic with sigmoid outputs gives
    (a - onehot)·a(1-a)/n and with softmax uses the full softmax Jacobian.
    """
    n = len(y)
    rows = np.arange(n)
    if name == "cross_entropy":
        a[rows, y] -= 1
        a /= n
        return a
    if output == "sigmoid":
        np.subtract(1, a, out=tmp)
        tmp *= a
        a[rows, y] -= 1
        a *= tmp
        a /= n
        return a
    # quadratic + softmax: dC/dz = J^T (a - t), J = diag(a) - a aᵀ
    g = a.copy()
    g[rows, y] -= 1
    s = np.sum(g * a, axis=1, keepdims=True)
    np.subtract(g, s, out=g)
    np.multiply(a, g, out=a)
    a /= n
    return a
