"""The one forward and backward pass: the training step's fast path (nn/step.py) computes what
the textbook (nn/backprop.py) computes, bit for bit, a pass can start at any layer, float64
matches an independent forward, and the one evaluation agrees with counting by hand."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.nn import kernels, step
from digitlens.nn.backprop import backward, evaluate, forward, layer_activations
from digitlens.nn.functions import output_delta
from digitlens.nn.mlp import MLP
from digitlens.nn.optim import Optimizer
from support import U32, assert_within, forward_bounds


class Recorder(Optimizer):
    """Keeps the gradient the stepper hands over and leaves the parameters alone."""

    def step(self, _params: np.ndarray, grad: np.ndarray, _lr: float) -> None:
        self.grad = grad.copy()


@pytest.mark.parametrize("kernels_used", ["fastest", "numpy"])
@pytest.mark.parametrize(("hidden", "output", "cost"), [
    ("relu", "softmax", "cross_entropy"), ("sigmoid", "sigmoid", "quadratic"),
    ("tanh", "softmax", "quadratic"), ("identity", "sigmoid", "cross_entropy"),
    ("relu", "sigmoid", "quadratic"), ("sigmoid", "softmax", "cross_entropy")])
@pytest.mark.parametrize(("sizes", "batch", "room"), [
    ((784, 12, 7, 10), 9, 16),   # a batch smaller than the workspace (the epoch's last)
    ((784, 8, 1, 10), 16, 16),   # a 1-wide layer: NumPy's pairwise column sum, not the loop
    ((784, 10), 1, 1)])          # no hidden layer, one example (the web's one step)
def test_the_fast_step_hands_over_the_textbook_gradient_bit_for_bit(
        monkeypatch, kernels_used: str, hidden: str, output: str, cost: str,
        sizes: tuple[int, ...], batch: int, room: int) -> None:
    """The fast path (nn/step.py: workspace, in-place activations, fused kernels) performs the
    textbook's float32 operations (nn/backprop.py) in the same order, so the gradient it hands
    the optimizer is the textbook's, bit for bit (-0.0 and +0.0 told apart), with numba's
    loops and with NumPy's."""
    if kernels_used == "numpy":
        monkeypatch.setattr(step, "kernel", kernels.NUMPY.__getitem__)
    rng = np.random.default_rng(5)
    model = MLP.create(sizes, hidden, output, cost, seed=4)
    x = (rng.random((batch, 784)) * (rng.random((batch, 784)) > 0.7)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    rec = Recorder(model.params.size)
    step.BatchStepper(model, rec, room).step(x, y, np.arange(batch), 0.1)
    acts = forward(model, x).activations
    delta = output_delta(cost, output, acts[-1], y, np.empty_like(acts[-1]),
                         np.empty_like(acts[-1]))
    plain = backward(model, acts, delta)
    assert plain.dtype == rec.grad.dtype == np.float32
    assert np.array_equal(rec.grad.view(np.uint32), plain.view(np.uint32))


def test_a_pass_continues_from_any_layer(trained_model: MLP, sample) -> None:
    x = trained_model.as_input(sample.test_images[:50])
    full = forward(trained_model, x)
    for start in range(1, trained_model.n_layers + 1):
        rest = forward(trained_model, full.activations[start], start=start)
        np.testing.assert_array_equal(rest.output, full.output)
        assert len(rest.zs) == trained_model.n_layers - start


def test_float64_pass_matches_an_independent_one(trained_model: MLP, sample) -> None:
    x = trained_model.as_input(sample.test_images[:20]).astype(np.float64)
    assert trained_model.activations == ("relu", "relu", "softmax")
    a = x
    for layer, (w, b) in enumerate(zip(trained_model.weights, trained_model.biases, strict=True)):
        z = a @ w.astype(np.float64) + b.astype(np.float64)
        a = np.maximum(z, 0) if layer < 2 else z
    e = np.exp(a - a.max(axis=1, keepdims=True))
    expected = e / e.sum(axis=1, keepdims=True)
    got = forward(trained_model, x, dtype=np.float64)
    assert got.output.dtype == np.float64
    np.testing.assert_allclose(got.output, expected, rtol=1e-12, atol=1e-15)  # float64 both


def test_evaluation_counts_like_a_person_would(trained_model: MLP, sample) -> None:
    x = trained_model.as_input(sample.test_images)
    y = sample.test_labels
    mask = np.ones(trained_model.sizes[1], np.float32)
    mask[:10] = 0
    for masks in (None, {0: mask}):
        s = evaluate(trained_model, x, y, masks=masks, chunk=77)
        out = trained_model.trace(x, masks=masks).output
        right = sum(int(np.argmax(row) == label) for row, label in zip(out, y, strict=True))
        assert s.accuracy == right / len(y)
        np.testing.assert_array_equal(s.predictions, np.argmax(out, axis=1))
        # a float32 softmax sums 10 terms ≤ 1: Σp = 1 within ~14u ≈ 1e-6 in any order
        np.testing.assert_allclose(s.probabilities.sum(axis=1), 1, rtol=1e-5)
        # chunks of 77 and one block sum in other orders: log p moves by at most Δp/p, with Δp
        # from the forward bound (plus the log's and the mean's few roundings)
        p_true = out[np.arange(len(y)), y].astype(np.float64)
        dp = forward_bounds(trained_model, x, masks)[1][-1][np.arange(len(y)), y]
        want = -np.mean(np.log(p_true + 1e-12))
        assert abs(s.cost - want) <= np.mean(dp / p_true) + 8 * U32 * abs(want)
    assert evaluate(trained_model, x, y, masks={0: mask}).accuracy < evaluate(
        trained_model, x, y).accuracy


def test_layer_activations_in_chunks_equal_one_pass(trained_model: MLP, sample) -> None:
    x = trained_model.as_input(sample.test_images[:300])
    whole = trained_model.trace(x).activations[1:]
    # chunks of 70 and one block of 300 are summed in other orders: the forward bound
    bounds = forward_bounds(trained_model, x)[1]
    for got, want, bound in zip(layer_activations(trained_model, x, chunk=70), whole, bounds,
                                strict=True):
        assert_within(got, want, bound, "chunked activations")  # BLAS blocks by size
