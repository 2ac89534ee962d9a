"""The maths against oracles: finite differences on an independent float64 forward pass, a
hand-worked SGD step, and textbook optimizers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from digitlens.nn.backprop import forward
from digitlens.nn.functions import output_delta
from digitlens.nn.mlp import MLP, layer_offsets
from digitlens.nn.optim import Adam, Momentum, Optimizer, make_optimizer
from digitlens.nn.step import BatchStepper
from support import U32, assert_within, backward_bound, forward_bounds


def reference_loss(params: np.ndarray, sizes: tuple[int, ...], acts: tuple[str, ...], cost: str,
                   x: np.ndarray, y: np.ndarray, l2: float, n_train: int) -> float:
    """A plain float64 forward pass written independently of the engine."""
    w_sl, b_sl = layer_offsets(sizes)
    a = x.astype(np.float64)
    for (wa, wb), (ba, bb), n_in, n_out, act in zip(w_sl, b_sl, sizes[:-1], sizes[1:], acts,
                                                    strict=True):
        z = a @ params[wa:wb].reshape(n_in, n_out) + params[ba:bb]
        if act == "sigmoid":
            a = 1 / (1 + np.exp(-z))
        elif act == "relu":
            a = np.where(z > 0, z, 0.0)
        elif act == "tanh":
            a = np.tanh(z)
        elif act == "identity":
            a = z
        else:  # softmax
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
    t = np.eye(sizes[-1])[y]
    if cost == "quadratic":
        c = 0.5 * np.sum((a - t) ** 2) / len(y)
    elif acts[-1] == "softmax":
        c = -np.mean(np.log(a[np.arange(len(y)), y]))
    else:
        c = -np.sum(t * np.log(a) + (1 - t) * np.log(1 - a)) / len(y)
    return float(c + l2 / (2 * n_train) * np.sum(params[: w_sl[-1][1]] ** 2))


def numeric_gradient(f, p: np.ndarray, indices: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of ``f`` at ``p`` for the parameters at ``indices``."""
    p = p.copy()
    g = np.zeros(len(indices))
    for k, i in enumerate(indices):
        old = p[i]
        p[i] = old + eps
        up = f(p)
        p[i] = old - eps
        down = f(p)
        p[i] = old
        g[k] = (up - down) / (2 * eps)
    return g


class Recorder(Optimizer):
    """Keeps the gradient the stepper hands over and leaves the parameters alone."""

    def step(self, _params: np.ndarray, grad: np.ndarray, _lr: float) -> None:
        self.grad = grad.copy()


CASES = [(h, o, c) for h, (o, c) in itertools.product(
    ("sigmoid", "relu", "tanh", "identity"),
    (("softmax", "cross_entropy"), ("sigmoid", "cross_entropy"), ("sigmoid", "quadratic"),
     ("softmax", "quadratic")))]


@pytest.mark.parametrize(("hidden", "output", "cost"), CASES)
@pytest.mark.parametrize("l2", [0.0, 0.8])
def test_gradient_matches_finite_differences(hidden: str, output: str, cost: str, l2: float,
                                             rng: np.random.Generator) -> None:
    sizes = (784, 5, 4, 10)
    model = MLP.create(sizes, hidden, output, cost, seed=3)
    model.params[...] += rng.normal(0, 0.05, model.params.size).astype(np.float32)
    x = rng.random((6, 784)).astype(np.float32) * (rng.random((6, 784)) > 0.6)
    y = rng.integers(0, 10, 6)
    n_train = 50
    p64 = model.params.astype(np.float64)
    lit = np.flatnonzero(x.any(axis=0))[:4]
    w1, w2 = model.w_slices[1]
    active = np.concatenate([lit * 5, lit * 5 + 3,             # first-layer weights, 2 neurons
                             np.arange(w1, w2),                # every middle-layer weight
                             np.arange(model.n_weights - 40, model.params.size)])  # last + biases

    def f(p: np.ndarray) -> float:
        return reference_loss(p, sizes, model.activations, cost, x, y, l2, n_train)

    numeric = numeric_gradient(f, p64, active)
    loss, analytic = model.loss_and_gradient(x, y, l2, n_train)
    assert loss == pytest.approx(f(p64), rel=1e-5)  # float64 both sides
    # central differences in float64, eps = 1e-6: truncation eps²·|f'''| ≈ 1e-12 plus rounding
    # 2⁻⁵³·|f|/eps ≈ 1e-10, far inside; the tolerance is the method's, not the machine's
    np.testing.assert_allclose(analytic[active], numeric, rtol=2e-3, atol=2e-6)

    # the fast float32 training step hands the optimizer the same gradient: float32 against the
    # float64 gradient, within the bound for these float32 sums in any order (the forward
    # pass's error carried into the output delta, whose cost derivative moves by at most
    # 4·Σ|Δa|/n for every output and cost here, and the L2 term's few roundings)
    rec = Recorder(model.params.size)
    BatchStepper(model, rec, 6, l2, n_train).step(x, y, np.arange(6), 0.1)
    acts = forward(model, x.astype(np.float64), dtype=np.float64).activations
    a_err = [np.zeros_like(x, np.float64), *forward_bounds(model, x)[1]]
    delta = output_delta(cost, output, acts[-1], y, np.empty_like(acts[-1]),
                         np.empty_like(acts[-1]))
    d_err = (4 * a_err[-1].sum(axis=1, keepdims=True) + 16 * U32) / len(y)
    bound = backward_bound(model, acts, delta, a_err, d_err)
    bound += 4 * U32 * (np.abs(analytic) + l2 / n_train * np.abs(p64))
    assert_within(rec.grad, analytic, bound, "float32 step's gradient")


def test_one_sgd_step_worked_by_hand() -> None:
    """784 inputs of which two are lit, 1 sigmoid hidden neuron, 10 softmax outputs."""
    model = MLP.create((784, 1, 10), "sigmoid", "softmax", "cross_entropy", seed=0)
    model.params[...] = 0
    model.weights[0][0, 0], model.weights[0][1, 0] = 0.5, -1.0
    model.biases[0][0] = 0.25
    model.weights[1][0, :] = np.arange(10) / 10
    model.biases[1][:] = 0
    x = np.zeros((1, 784), np.float32)
    x[0, 0], x[0, 1] = 1.0, 0.5
    # by hand: z1 = 0.5*1 + (-1)*0.5 + 0.25 = 0.25; h = sigmoid(0.25) = 0.5621765
    h = 1 / (1 + np.exp(-0.25))
    z2 = h * np.arange(10) / 10
    p = np.exp(z2) / np.exp(z2).sum()
    d2 = p.copy()
    d2[3] -= 1                                  # label 3
    d1 = (d2 @ (np.arange(10) / 10)) * h * (1 - h)
    lr = 0.5
    expect_w2 = np.arange(10) / 10 - lr * h * d2
    expect_w1 = np.array([0.5 - lr * d1 * 1.0, -1.0 - lr * d1 * 0.5])
    expect_b1 = 0.25 - lr * d1
    BatchStepper(model, make_optimizer("sgd", model.params.size), 1).step(
        x, np.array([3]), np.array([0]), lr)
    # float32 step against float64 by hand: every sum has at most 2 nonzero terms (the other
    # pixels are exact zeros) or is the 10-term softmax, so each value takes ≲ 15 roundings
    # whatever the order: ≤ 15·2⁻²⁴ ≈ 9e-7 relative to these values (|w| ≥ 0.1, b1 ≈ 0.25)
    np.testing.assert_allclose(model.weights[1][0], expect_w2, rtol=1e-6)
    np.testing.assert_allclose(model.weights[0][:2, 0], expect_w1, rtol=1e-6)
    np.testing.assert_allclose(model.biases[0][0], expect_b1, rtol=1e-6)
    # -lr·(p − onehot): p_i to ~10u relative (1e-5 covers it), atol for p_3 − 1's cancellation
    np.testing.assert_allclose(model.biases[1], -lr * d2, rtol=1e-5, atol=1e-8)
    assert np.all(model.weights[0][2:] == 0)    # unlit pixels get no gradient


def textbook_adam(p: np.ndarray, grads: list[np.ndarray], lr: float) -> np.ndarray:
    m, v = np.zeros_like(p), np.zeros_like(p)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def test_adam_equals_the_textbook(rng: np.random.Generator) -> None:
    p0 = rng.normal(size=1000)
    grads = [rng.normal(size=1000) * s for s in (1.0, 0.01, 3.0, 1e-4, 0.5)]
    grads[1][:10] = 0
    opt = Adam(1000)
    p = p0.astype(np.float32)
    for g in grads:
        opt.step(p, g.astype(np.float32), 1e-2)
    # float32 against float64, but element by element (no sums, so no order to differ in):
    # p rounded to float32 (u·|p|) plus 5 steps of ~10 roundings each of a step ≤ lr = 1e-2
    np.testing.assert_allclose(p, textbook_adam(p0, grads, 1e-2), rtol=1e-5, atol=1e-6)


def test_momentum_equals_the_textbook(rng: np.random.Generator) -> None:
    p0 = rng.normal(size=50)
    grads = [rng.normal(size=50) for _ in range(4)]
    opt = Momentum(50, 0.9)
    p = p0.astype(np.float32)
    ref, v = p0.copy(), np.zeros(50)
    for g in grads:
        opt.step(p, g.astype(np.float32), 0.1)
        v = 0.9 * v - 0.1 * g
        ref = ref + v
    # float32 against float64 element by element (no sums): u·|p| plus 4 steps' roundings
    np.testing.assert_allclose(p, ref, rtol=1e-5, atol=1e-6)


def test_optimizer_state_round_trip(rng: np.random.Generator) -> None:
    a, b = Adam(20), Adam(20)
    pa = rng.normal(size=20).astype(np.float32)
    g = rng.normal(size=20).astype(np.float32)
    a.step(pa, g, 0.1)
    b.load_state({k: v.copy() for k, v in a.state().items()})
    pb = pa.copy()
    a.step(pa, g, 0.1)
    b.step(pb, g, 0.1)
    np.testing.assert_array_equal(pa, pb)
