"""Integrated gradients against oracles: exact on a linear net, complete on deep nets, and the
batched any-neuron input gradient against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis.gradients import input_gradient, input_jacobian
from digitlens.analysis.integrated import attribute, baseline_image, gaussian_blur
from digitlens.errors import ParameterError
from digitlens.nn.backprop import forward
from digitlens.nn.mlp import MLP
from support import assert_within, dense_bound, forward_bounds, jacobian_bound


@pytest.mark.parametrize("baseline", ["black", "blur"])
def test_linear_net_ig_is_gradient_times_difference(baseline: str, sample) -> None:
    model = MLP.create((784, 10), "relu", seed=0)
    model.params[...] = np.random.default_rng(0).normal(0, 0.05, model.params.size)
    x = sample.test_images[5].astype(np.float64).ravel() / 255
    base = baseline_image(x, baseline)
    for target in (0, 7):
        a = attribute(model, x, target=target, steps=3, baseline=baseline)
        # each gradient is a copy of W's column (one nonzero term per sum: exact on any CPU),
        # averaged over the path and times (x − base) in float64: a few roundings
        np.testing.assert_allclose(a.attributions, model.weights[0][:, target] * (x - base),
                                   rtol=1e-5, atol=1e-7)
        # what is left: the float32 scores at both ends, 785-term sums (the path's rows
        # rounded to float32 too: one more u·Σ|x·w|, inside the two-order bound)
        w, b = model.weights[0], model.biases[0]
        slack = dense_bound(x[None], w, b)[0, target] + dense_bound(base[None], w, b)[0, target]
        assert a.completeness_error <= slack / abs(a.score - a.baseline_score)


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
def test_completeness_on_deep_nets(hidden: str, trained_model: MLP, sample) -> None:
    model = MLP(trained_model.sizes, (hidden,) * (trained_model.n_layers - 1) + ("softmax",),
                params=trained_model.params.copy())
    for i in range(10):
        x = sample.test_images[i]
        for baseline in ("black", "blur"):
            a = attribute(model, x, steps=64, baseline=baseline)
            diff = a.score - a.baseline_score
            # the method's error: a 64-step trapezoid along the path, 1% of the difference
            assert abs(a.attributions.sum() - diff) <= 0.01 * abs(diff)
            assert a.completeness_error <= 0.01
            z = model.trace(x).zs[-1][0, a.target]
            # the path's last row and a single trace: float32 passes in other orders
            assert abs(a.score - float(z)) <= forward_bounds(model, x)[0][-1][0, a.target]
    x = sample.test_images[0]
    coarse, fine = (attribute(model, x, steps=s).completeness_error for s in (4, 256))
    assert fine < coarse or fine < 1e-4  # the trapezoid's error shrinks, or is negligible


def test_gradient_input_is_one_point_of_the_path(trained_model: MLP, sample) -> None:
    x = sample.test_images[2].astype(np.float64).ravel() / 255
    a = attribute(trained_model, x, method="gradient-input", target=4)
    # one class's gradient and the whole Jacobian: other matrix shapes, maybe other orders
    assert_within(a.attributions, x * input_jacobian(trained_model, x)[:, 4],
                  x * jacobian_bound(trained_model, x)[:, 4], "gradient × input")
    assert a.target == 4 and a.steps == 1


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_input_gradient_matches_finite_differences(layer: int, trained_model: MLP,
                                                   sample) -> None:
    model = MLP(trained_model.sizes, ("tanh", "tanh", "softmax"),
                params=trained_model.params.copy())
    x = sample.test_images[8].astype(np.float64).ravel() / 255
    coef = np.random.default_rng(layer).normal(0, 1, model.sizes[layer + 1])
    g = input_gradient(model, np.stack([x, x[::-1]]), layer, coef)
    assert g.shape == (2, 784)
    d = np.random.default_rng(9).normal(0, 1, 784)
    h = 1e-2
    # central differences of a float64 forward pass (float32 rounding divided by 2h would
    # swamp them); h = 1e-2 leaves truncation h²·|z'''|/6, which the tolerance allows
    up = forward(model, (x + h * d)[None], dtype=np.float64).zs[layer][0]
    down = forward(model, (x - h * d)[None], dtype=np.float64).zs[layer][0]
    fd = (up - down) @ coef / (2 * h)
    assert g[0] @ d == pytest.approx(fd, rel=2e-3, abs=1e-3)


def test_blur_keeps_the_ink_and_loses_the_shape() -> None:
    img = np.zeros((28, 28))
    img[14, 14] = 1.0
    b = gaussian_blur(img, 3.0)
    assert b.sum() == pytest.approx(1.0, rel=1e-6)  # no ink lost far from the edge; float64
    assert b[14, 14] < 0.05 and b[14, 17] > 0.01


def test_bad_attribution_requests(trained_model: MLP, sample) -> None:
    x = sample.test_images[0]
    for kw, name in (({"target": 10}, "target"), ({"steps": 0}, "steps"),
                     ({"baseline": "white"}, "baseline"), ({"method": "lrp"}, "method")):
        with pytest.raises(ParameterError, match=name):
            attribute(trained_model, x, **kw)
