"""When a neuron counts as active (digitlens.analysis.activity): z > 0, whatever the
activation; checked against the closed forms and against z itself on a real trace."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis.activity import active_above, active_share
from digitlens.data.sources import Dataset
from digitlens.nn.mlp import MLP


def test_thresholds_are_the_value_at_z_zero() -> None:
    assert active_above("relu") == 0.0
    assert active_above("sigmoid") == 0.5
    assert active_above("tanh") == 0.0
    assert active_above("identity") == 0.0
    assert active_above("softmax", 10) == pytest.approx(0.1)  # float64 both sides
    assert active_above("softmax", 4) == pytest.approx(0.25)


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "identity"])
def test_active_means_a_positive_input(act: str, sample: Dataset) -> None:
    """On a real forward pass, value > active_above(act) exactly where z > 0."""
    model = MLP.create((784, 24, 10), activation=act, seed=5)
    t = model.trace(sample.test_images[:300])
    z, a = t.zs[0], t.activations[1]
    for j in range(24):
        assert active_share(a[:, j], act) == np.mean(z[:, j] > 0)


def test_a_sigmoid_layer_is_not_always_active(sample: Dataset) -> None:
    """The old rule (above 1e-6) called every sigmoid neuron active on every digit."""
    model = MLP.create((784, 24, 10), activation="sigmoid", seed=5)
    a = model.trace(sample.test_images[:300]).activations[1]
    assert np.mean(a > 1e-6) == 1.0
    shares = [active_share(a[:, j], "sigmoid") for j in range(24)]
    assert 0.05 < float(np.mean(shares)) < 0.95
