"""Nonlinearities and costs: small pure functions, one record per nonlinearity.

A :class:`Nonlinearity` holds everything digitlens knows about one activation: the function,
its in-place form, its derivative written from the *output* ``a`` (sigmoid: a(1-a), tanh: 1-a²,
ReLU: a>0, so the backward pass keeps only activations, not pre-activations), the fused
training kernels where there are some (named in ``digitlens.nn.kernels``), the spreadsheet
formula the workbook writes and the name a person reads. ``NONLINEARITIES`` is the one table;
``ACTIVATIONS``, ``ACT_FORMULA``, ``ACT_NAMES``, ``HIDDEN`` and ``OUTPUTS`` are views of it (the
in-place forms and derivatives are read from the records themselves).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


# Each nonlinearity as three small functions, side by side (as micrograd keeps each op's
# backward beside its forward): f(z) as a new array; f in place; and its derivative, written
# from the output a = f(z) and applied in place to a delta (``delta *= f'(z)``, ``tmp`` a
# scratch array shaped like ``a``). These are the only definitions of the derivatives: the
# backward pass, the training step and the output delta all call them, and the fused loops of
# ``digitlens.nn.kernels`` are held bit-equal to them by tests/nn/test_functions.py.

# sigmoid: f(z) = 1 / (1 + e^-z);  f'(z) = a(1 - a)
def sigmoid(z: Array) -> Array:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_(a: Array) -> None:
    """a <- sigmoid(a), in place, no temporaries."""
    with np.errstate(over="ignore"):
        np.negative(a, out=a)
        np.exp(a, out=a)
        a += 1
        np.reciprocal(a, out=a)


def d_sigmoid_(delta: Array, a: Array, tmp: Array) -> None:
    """delta *= a(1-a)."""
    np.subtract(1, a, out=tmp)
    tmp *= a
    delta *= tmp


# ReLU: f(z) = max(z, 0);  f'(z) = 1 where a > 0, else 0
def relu(z: Array) -> Array:
    return np.maximum(z, 0)


def relu_(a: Array) -> None:
    np.maximum(a, 0, out=a)


def d_relu_(delta: Array, a: Array, tmp: Array) -> None:
    """delta *= (a > 0); ``tmp`` is unused (the comparison writes into a bool view)."""
    np.multiply(delta, a > 0, out=delta)


# tanh: f(z) = tanh z;  f'(z) = 1 - a²
def tanh(z: Array) -> Array:
    return np.tanh(z)


def tanh_(a: Array) -> None:
    np.tanh(a, out=a)


def d_tanh_(delta: Array, a: Array, tmp: Array) -> None:
    """delta *= 1 - a²."""
    np.multiply(a, a, out=tmp)
    np.subtract(1, tmp, out=tmp)
    delta *= tmp


# identity: f(z) = z;  f'(z) = 1
def identity(z: Array) -> Array:
    return z


def identity_(a: Array) -> None:
    return None


def d_identity_(delta: Array, a: Array, tmp: Array) -> None:
    return None


# softmax: f(z)_i = e^z_i / Σ_j e^z_j, an output only. Its Jacobian is not element-wise, so it
# has no derivative here: its delta comes with the cost (``output_delta`` below).
def softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_(a: Array) -> None:
    a -= a.max(axis=1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Nonlinearity:
    """Everything about one activation function f, in one place.

    ``derivative_(delta, a, tmp)``: delta *= f'(z), with f'(z) written from a = f(z) (``tmp`` a
    scratch array shaped like ``a``); None where f' is not element-wise (softmax, which is only
    ever an output and whose delta comes with the cost: ``output_delta``). ``fused_forward`` and
    ``fused_backward`` name kernels of ``digitlens.nn.kernels`` that do ``z = f(z + bias)`` and
    ``delta *= f'(a)`` plus the bias gradient in one loop. ``formula``: the spreadsheet
    expression of f({z}); None where the workbook writes it across cells (softmax)."""

    name: str
    display: str
    function: Callable[[Array], Array]
    inplace: Callable[[Array], None]
    derivative_: Callable[[Array, Array, Array], None] | None
    formula: str | None
    hidden: bool
    output: bool
    fused_forward: str | None = None
    fused_backward: str | None = None

    def derivative(self, a: Array) -> Array:
        """f'(z) as a new array, from a = f(z) (for analysis and float64 checks)."""
        if self.derivative_ is None:
            raise ValueError(f"{self.name} has no element-wise derivative")
        d = np.ones_like(a)
        self.derivative_(d, a, np.empty_like(a))
        return d


NONLINEARITIES: dict[str, Nonlinearity] = {n.name: n for n in (
    Nonlinearity("sigmoid", "sigmoid", sigmoid, sigmoid_, d_sigmoid_, "1/(1+EXP(-{z}))",
                 hidden=True, output=True),
    Nonlinearity("relu", "ReLU", relu, relu_, d_relu_, "MAX(0,{z})", hidden=True, output=False,
                 fused_forward="bias_relu", fused_backward="relu_back_sum"),
    Nonlinearity("tanh", "tanh", tanh, tanh_, d_tanh_, "TANH({z})", hidden=True, output=False),
    Nonlinearity("identity", "identity", identity, identity_, d_identity_, "{z}", hidden=True,
                 output=False),
    Nonlinearity("softmax", "softmax", softmax, softmax_, None, None, hidden=False, output=True),
)}

# Views of NONLINEARITIES, by purpose.
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    k: n.function for k, n in NONLINEARITIES.items()}
ACT_FORMULA: dict[str, str] = {
    k: n.formula for k, n in NONLINEARITIES.items() if n.formula is not None}
ACT_NAMES: dict[str, str] = {k: n.display for k, n in NONLINEARITIES.items()}
HIDDEN = tuple(k for k, n in NONLINEARITIES.items() if n.hidden)
OUTPUTS = tuple(k for k, n in NONLINEARITIES.items() if n.output)
COSTS = ("cross_entropy", "quadratic")
EPS = 1e-12


def cost(name: str, output: str, a: Array, y: Array) -> float:
    """Mean cost over the batch. ``a`` the output activations, ``y`` integer labels.

    cross_entropy with softmax: -log a_y; with sigmoid outputs: the binary cross-entropy summed
    over the outputs (Nielsen's convention); quadratic: ½‖a - onehot(y)‖².
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


def output_delta(name: str, output: str, a: Array, y: Array, delta: Array, tmp: Array) -> Array:
    """dCost/dz of the output layer for a batch (mean over the batch), written into ``delta``
    (shaped like ``a``, which is left as it is; ``tmp`` likewise a scratch array).

    softmax+CE and sigmoid+CE both give (a - onehot)/n; quadratic with sigmoid outputs gives
    (a - onehot)·a(1-a)/n and with softmax uses the full softmax Jacobian.
    """
    n = len(y)
    rows = np.arange(n)
    np.copyto(delta, a)
    delta[rows, y] -= 1                                    # a - onehot(y)
    if name == "cross_entropy":
        delta /= n
        return delta
    if output == "sigmoid":
        d_sigmoid_(delta, a, tmp)                          # · sigmoid'(z) = a(1-a)
        delta /= n
        return delta
    # quadratic + softmax: dC/dz = J^T (a - t), J = diag(a) - a aᵀ
    s = np.sum(delta * a, axis=1, keepdims=True)           # (n, 1)
    np.subtract(delta, s, out=delta)
    np.multiply(a, delta, out=delta)
    delta /= n
    return delta
