"""Dreams: the objective's gradient against finite differences, and what the ascent promises."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis import dream as D
from digitlens.errors import ParameterError
from digitlens.nn.backprop import forward
from digitlens.nn.mlp import MLP
from support import forward_bounds


@pytest.mark.parametrize(("layer", "neuron"), [(0, 3), (1, 5), (2, 7)])
def test_objective_gradient_matches_finite_differences(layer: int, neuron: int,
                                                       trained_model: MLP, sample) -> None:
    model = MLP(trained_model.sizes, ("tanh", "tanh", "softmax"),
                params=trained_model.params.copy())
    x = sample.test_images[1].astype(np.float64).ravel() / 255
    value, g = D.objective(model, x, layer, neuron, l2=0.3, smooth=0.7, scale=2.0)

    def objective64(y: np.ndarray) -> float:
        """The same objective on a float64 forward pass: no float32 rounding, which
        differences over 2h would magnify 50 times."""
        z = forward(model, y[None], dtype=np.float64).zs[layer][0, neuron]
        return float(z) / 2.0 - 0.5 * 0.3 * float(y @ y) - 0.7 * D.smoothness(y)[0]

    h = 1e-2
    for seed in range(3):
        d = np.random.default_rng(seed).normal(0, 1, 784)
        # central differences in float64, h = 1e-2: truncation h²·|J'''|/6 is the margin
        # (2e-3); the float32 gradient's own error (sums of ≤ 60 terms on each path, then
        # 784 terms of g·d) is ~1e-5 of Σ|g·d|
        fd = (objective64(x + h * d) - objective64(x - h * d)) / (2 * h)
        assert g @ d == pytest.approx(fd, rel=2e-3, abs=2e-3)


def test_smoothness_gradient_is_exact() -> None:
    x = np.random.default_rng(0).random(784)
    s, g = D.smoothness(x)
    e = np.zeros(784)
    e[30] = 1e-4
    # float64, and the smoothness is quadratic, so central differences are exact but for
    # rounding: 2⁻⁵³·|s|/1e-4 ≈ 1e-10 relative
    assert g[30] == pytest.approx((D.smoothness(x + e)[0] - D.smoothness(x - e)[0]) / 2e-4,
                                  rel=1e-6)


def test_class_dreams_beat_every_training_digit(trained_model: MLP, sample) -> None:
    mean = sample.train_images.reshape(len(sample.train_images), -1).mean(0) / 255
    maxima = D.train_maxima(trained_model, sample.train_images)
    out = trained_model.n_layers - 1
    for c in range(10):
        d = D.dream(trained_model, out, c, mean, max_train=float(maxima[out][c]))
        assert d.max_train_activation is not None
        assert d.activation > d.max_train_activation > d.start_activation
        assert d.image.min() >= 0 and d.image.max() <= 1
        z = trained_model.trace(d.image).zs[-1][0, c]
        # two float32 passes over the image, maybe in other orders: the forward bound
        bound = forward_bounds(trained_model, d.image)[0][-1][0, c]
        assert abs(d.activation - float(z)) <= bound


def test_dreams_are_seeded_and_deterministic(trained_model: MLP, sample) -> None:
    mean = sample.train_images.reshape(len(sample.train_images), -1).mean(0) / 255
    a = D.dream(trained_model, 0, 4, mean, seed=1, steps=40)
    b = D.dream(trained_model, 0, 4, mean, seed=1, steps=40)
    c = D.dream(trained_model, 0, 4, mean, seed=2, steps=40)
    np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)
    assert a.activation >= a.start_activation
    values = D.neuron_value(trained_model, a.image, 0, 4)
    # two float32 passes, maybe in other orders: layer 0's 785-term sums
    assert abs(a.activation - float(values[0])) <= forward_bounds(
        trained_model, a.image)[1][0][0, 4]


def test_train_maxima_are_the_layer_maxima(trained_model: MLP, sample) -> None:
    imgs = sample.train_images[:500]
    maxima = D.train_maxima(trained_model, imgs, chunk=128)
    # the oracle traces the same chunks of 128, so BLAS sums in the same order on any CPU and
    # the maxima must agree exactly (one block of 500 would be summed in another order)
    traces = [trained_model.trace(imgs[i:i + 128]) for i in range(0, len(imgs), 128)]
    np.testing.assert_array_equal(
        maxima[0], np.concatenate([t.activations[1] for t in traces]).max(axis=0))
    np.testing.assert_array_equal(maxima[2], np.concatenate([t.zs[2] for t in traces]).max(axis=0))


def test_out_of_range_neurons_are_refused(trained_model: MLP) -> None:
    start = np.zeros(784)
    with pytest.raises(ParameterError, match="layer"):
        D.dream(trained_model, 3, 0, start)
    with pytest.raises(ParameterError, match="neuron"):
        D.dream(trained_model, 0, 32, start)
