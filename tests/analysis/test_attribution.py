"""Class evidence against oracles: exact sums for one layer, finite differences for deeper."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis.attribution import evidence
from digitlens.analysis.gradients import input_jacobian
from digitlens.nn.mlp import MLP


def test_single_layer_contributions_sum_to_the_scores(sample) -> None:
    model = MLP.create((784, 10), "relu", seed=0)
    model.params[...] = np.random.default_rng(0).normal(0, 0.05, model.params.size)
    ev = evidence(model, sample.test_images[0])
    assert ev.method == "weights"
    np.testing.assert_allclose(ev.contributions.sum(axis=0) + model.biases[0], ev.scores,
                               rtol=1e-5, atol=1e-5)


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
        fd = (model.trace(up).zs[-1][0] - model.trace(down).zs[-1][0]) / (2 * eps)
        np.testing.assert_allclose(jac[i], fd, rtol=2e-2, atol=2e-3)
    ev = evidence(model, x, "gradient")
    np.testing.assert_allclose(ev.contributions, x[:, None] * jac)


def test_knocked_out_neurons_pass_no_gradient(trained_model: MLP, sample) -> None:
    """Oracle: knocking neurons out equals zeroing their outgoing weights."""
    mask = np.ones(trained_model.sizes[1], np.float32)
    mask[::3] = 0
    x = sample.test_images[11]
    knocked = input_jacobian(trained_model, x, masks={0: mask})
    zeroed = trained_model.copy()
    zeroed.weights[1][mask == 0, :] = 0
    np.testing.assert_allclose(knocked, input_jacobian(zeroed, x), rtol=1e-5, atol=1e-6)
    composed = evidence(trained_model, x, "composed", masks={0: mask}).class_weights
    np.testing.assert_allclose(composed, evidence(zeroed, x, "composed").class_weights,
                               rtol=1e-6, atol=1e-9)


def test_ink_only_evidence_has_the_same_contributions(trained_model: MLP, sample) -> None:
    """The live page's shortcut: the gradient where the input is 0 multiplies 0."""
    mask = np.ones(trained_model.sizes[1], np.float32)
    mask[::5] = 0
    x = sample.test_images[4].astype(np.float32).ravel() / 255
    for masks in (None, {0: mask}):
        full = evidence(trained_model, x, masks=masks)
        ink = evidence(trained_model, x, masks=masks, ink_only=True)
        np.testing.assert_allclose(ink.contributions, full.contributions, rtol=1e-5, atol=1e-7)
        assert ink.note == full.note and ink.method == full.method == "gradient"
        np.testing.assert_array_equal(ink.scores, full.scores)
        inked = np.flatnonzero(x)
        np.testing.assert_allclose(ink.class_weights[inked], full.class_weights[inked],
                                   rtol=1e-5, atol=1e-7)
        assert not ink.class_weights[x == 0].any()
