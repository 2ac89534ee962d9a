"""Class evidence against oracles: exact sums for one layer, finite differences for deeper."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis.attribution import evidence
from digitlens.analysis.gradients import input_jacobian
from digitlens.nn.backprop import forward
from digitlens.nn.mlp import MLP
from support import U32, assert_within, dense_bound, jacobian_bound, sum_order_bound


def test_single_layer_contributions_sum_to_the_scores(sample) -> None:
    model = MLP.create((784, 10), "relu", seed=0)
    model.params[...] = np.random.default_rng(0).normal(0, 0.05, model.params.size)
    ev = evidence(model, sample.test_images[0])
    assert ev.method == "weights"
    # the 784 contributions added up here and the scores' BLAS sums: 785-term float32 sums
    x = model.as_input(sample.test_images[0])
    assert_within(ev.contributions.sum(axis=0) + model.biases[0], ev.scores,
                  dense_bound(x, model.weights[0], model.biases[0])[0], "Σ contributions")


@pytest.mark.parametrize("hidden", ["relu", "sigmoid", "tanh"])
def test_jacobian_matches_finite_differences(hidden: str, trained_model: MLP, sample) -> None:
    model = MLP(trained_model.sizes, (hidden,) * (trained_model.n_layers - 1) + ("softmax",),
                params=trained_model.params.copy())
    x = sample.test_images[7].astype(np.float64).ravel() / 255
    jac = input_jacobian(model, x)
    eps = 1e-2
    for i in np.flatnonzero(x > 0.5)[:5]:
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        # central differences of a float64 forward pass (no float32 rounding to divide by
        # 2·eps); eps = 1e-2 leaves truncation eps²·|z'''|/6 and ReLU kinks crossed within
        # ±eps: the method's error, which 2e-2 relative / 2e-3 absolute allows
        fd = (forward(model, up[None], dtype=np.float64).zs[-1][0]
              - forward(model, down[None], dtype=np.float64).zs[-1][0]) / (2 * eps)
        np.testing.assert_allclose(jac[i], fd, rtol=2e-2, atol=2e-3)
    ev = evidence(model, x, "gradient")
    # element by element (one product each, no sums): the same on every CPU
    np.testing.assert_allclose(ev.contributions, x[:, None] * jac)


def test_knocked_out_neurons_pass_no_gradient(trained_model: MLP, sample) -> None:
    """Oracle: knocking neurons out equals zeroing their outgoing weights."""
    mask = np.ones(trained_model.sizes[1], np.float32)
    mask[::3] = 0
    x = sample.test_images[11]
    knocked = input_jacobian(trained_model, x, masks={0: mask})
    zeroed = trained_model.copy()
    zeroed.weights[1][mask == 0, :] = 0
    # the same products (zeros where knocked out), maybe summed in other orders
    assert_within(knocked, input_jacobian(zeroed, x), jacobian_bound(zeroed, x), "Jacobian")
    composed = evidence(trained_model, x, "composed", masks={0: mask}).class_weights
    # W0·W1·W2 in float32: sums over 32 and 16 inner terms, 2γ_48·(|W0|·|W1|·|W2|)
    w = [np.abs(v.astype(np.float64)) for v in trained_model.weights]
    assert_within(composed, evidence(zeroed, x, "composed").class_weights,
                  sum_order_bound(sum(trained_model.sizes[1:3]), w[0] @ w[1] @ w[2]),
                  "composed weights")


def test_ink_only_evidence_has_the_same_contributions(trained_model: MLP, sample) -> None:
    """The live page's shortcut: the gradient where the input is 0 multiplies 0."""
    mask = np.ones(trained_model.sizes[1], np.float32)
    mask[::5] = 0
    x = sample.test_images[4].astype(np.float32).ravel() / 255
    for masks in (None, {0: mask}):
        full = evidence(trained_model, x, masks=masks)
        ink = evidence(trained_model, x, masks=masks, ink_only=True)
        # the inked rows alone are another matrix shape, so BLAS may sum in another order
        bound = jacobian_bound(trained_model, x, masks)
        assert_within(ink.contributions, full.contributions, np.abs(x)[:, None] * bound
                      + 2 * U32 * np.abs(full.contributions), "ink-only contributions")
        assert ink.note == full.note and ink.method == full.method == "gradient"
        np.testing.assert_array_equal(ink.scores, full.scores)
        inked = np.flatnonzero(x)
        assert_within(ink.class_weights[inked], full.class_weights[inked], bound[inked],
                      "ink-only gradient")
        assert not ink.class_weights[x == 0].any()
