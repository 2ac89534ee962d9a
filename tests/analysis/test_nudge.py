"""Nudges against oracles: the closed-form distance to a linear net's decision hyperplane, and
Dykstra's alternating projections for the box-constrained step."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis import nudge as N
from digitlens.errors import DigitlensError, ParameterError
from digitlens.nn.mlp import MLP


def linear_net(seed: int = 0, scale: float = 0.05) -> MLP:
    model = MLP.create((784, 10), "relu", seed=seed)
    model.params[...] = np.random.default_rng(seed).normal(0, scale, model.params.size)
    return model


def dykstra(w: np.ndarray, gap: float, lo: np.ndarray, hi: np.ndarray,
            iters: int = 20000) -> np.ndarray:
    """Projection of 0 onto {r: w·r >= gap} ∩ {lo <= r <= hi}, by Dykstra's algorithm."""
    x = np.zeros_like(w)
    p, q = np.zeros_like(w), np.zeros_like(w)
    for _ in range(iters):
        y = x + p
        y2 = y + max(0.0, gap - w @ y) / (w @ w) * w  # onto the half-space
        p = x + p - y2
        x = np.clip(y2 + q, lo, hi)                    # onto the box
        q = y2 + q - x
    return x


def test_box_step_is_the_shortest_step_in_the_box() -> None:
    rng = np.random.default_rng(3)
    x = np.where(rng.random(30) < 0.5, 0.0, rng.random(30))  # half the pixels at 0, like ink
    w = rng.normal(0, 1, (4, 30))
    lo, hi = -x, 1 - x
    gap = np.abs(w).clip(0, None) @ np.ones(30) * 0.05
    r, reach = N.box_step(w, gap, lo, hi)
    assert reach.all()
    for k in range(4):
        oracle = dykstra(w[k], gap[k], lo, hi)
        # float64 both, but Dykstra's projections converge only to within ~1e-4 after its
        # iterations: the tolerance is the oracle's convergence, not rounding
        np.testing.assert_allclose(r[k], oracle, atol=2e-4)
        assert w[k] @ r[k] == pytest.approx(gap[k], rel=1e-9)  # float64, 30 terms
        assert np.all(r[k] >= lo - 1e-12) and np.all(r[k] <= hi + 1e-12)


def test_box_step_says_when_the_box_is_too_small() -> None:
    x = np.zeros(5)
    w = np.array([[1.0, -1.0, 0.0, 2.0, -3.0]])
    r, reach = N.box_step(w, np.array([10.0]), -x, 1 - x)
    assert not reach[0]
    np.testing.assert_array_equal(r[0], [1, 0, 0, 1, 0])  # as far as the box goes along w


def test_deepfool_on_a_linear_net_matches_the_hyperplane_distance() -> None:
    """Inside the box, one DeepFool step lands on the nearest hyperplane z_k = z_f."""
    model = linear_net()
    x = np.full(784, 0.5) + np.random.default_rng(1).normal(0, 0.05, 784)
    w, b = model.weights[0].astype(np.float64), model.biases[0].astype(np.float64)
    z = x @ w + b
    f = int(np.argmax(z))
    dist = min((z[f] - z[k]) / np.linalg.norm(w[:, k] - w[:, f]) for k in range(10) if k != f)
    res = N.deepfool(model, x)
    assert res.flipped and res.source == f and res.to != f
    assert dist * (1 - 1e-4) <= res.l2 <= dist * (1 + N.OVERSHOOT + 1e-3)
    assert int(model.trace(res.adversarial).prediction[0]) == res.to


def test_deepfool_in_the_box_matches_dykstra_on_a_linear_net(sample) -> None:
    """A real digit (background at 0): the minimal flip is the shortest box step to any
    hyperplane, which clamping each step would not find."""
    model = linear_net(2, 0.02)
    x = sample.test_images[3].astype(np.float64).ravel() / 255
    w, b = model.weights[0].astype(np.float64), model.biases[0].astype(np.float64)
    z = x @ w + b
    f = int(np.argmax(z))
    dists = [np.linalg.norm(dykstra(w[:, k] - w[:, f], z[f] - z[k], -x, 1 - x, 4000))
             for k in range(10) if k != f]
    res = N.deepfool(model, x)
    assert res.flipped
    assert min(dists) * (1 - 1e-3) <= res.l2 <= min(dists) * (1 + N.OVERSHOOT + 5e-3)
    assert res.adversarial.min() >= 0 and res.adversarial.max() <= 1


def test_targeted_deepfool_on_two_live_classes() -> None:
    model = linear_net(4)
    model.biases[0][2:] = -50  # only classes 0 and 1 can ever win
    x = np.full(784, 0.5)
    w, b = model.weights[0].astype(np.float64), model.biases[0].astype(np.float64)
    z = x @ w + b
    f, t = (0, 1) if z[0] > z[1] else (1, 0)
    res = N.deepfool(model, x, target=t)
    dist = (z[f] - z[t]) / np.linalg.norm(w[:, t] - w[:, f])
    assert res.to == t and res.flipped
    assert dist <= res.l2 * (1 + 1e-4) <= dist * (1 + N.OVERSHOOT + 1e-3)


@pytest.mark.parametrize("method", N.METHODS)
def test_nudges_flip_a_trained_net_and_the_engine_agrees(method: str, trained_model: MLP,
                                                         sample) -> None:
    for i in range(5):
        x = sample.test_images[i]
        res = N.nudge(trained_model, x, method=method)
        pred = int(trained_model.trace(res.adversarial).prediction[0])
        assert res.flipped and pred == res.to != res.source
        assert res.adversarial.min() >= 0 and res.adversarial.max() <= 1
        d = res.to_dict()
        assert len(d["adversarial"]) == 784 and d["from"] == res.source
        assert d["linf"] <= 1 and d["changed_pixels"] > 0
        if method == "fgsm":
            continue  # one signed step rarely reaches a chosen class
        target = (res.source + 3) % 10
        aimed = N.nudge(trained_model, x, target=target, method=method)
        assert aimed.to == target == int(trained_model.trace(aimed.adversarial).prediction[0])
    if method == "fgsm":  # the answer is one signed step of the reported size
        assert res.epsilon is not None and res.linf <= res.epsilon + 1e-9


def test_deepfool_beats_fgsm_in_l2(trained_model: MLP, sample) -> None:
    x = sample.test_images[:30]
    df = N.summary(N.nudge_many(trained_model, x), np.arange(30))
    fg = N.summary(N.nudge_many(trained_model, x, "fgsm"), np.arange(30))
    assert df["flipped"] == 30
    assert df["median_l2"] < fg["median_l2"]


def test_bad_nudges_are_one_clear_error(trained_model: MLP, sample) -> None:
    x = sample.test_images[0]
    pred = int(trained_model.trace(x).prediction[0])
    with pytest.raises(ParameterError, match="other than the current prediction"):
        N.nudge(trained_model, x, target=pred)
    with pytest.raises(ParameterError, match="target"):
        N.nudge(trained_model, x, target=10)
    with pytest.raises(ParameterError, match="method"):
        N.nudge(trained_model, x, method="pgd")
    with pytest.raises(DigitlensError, match="blank"):
        N.nudge(trained_model, np.zeros(784))
    flat = MLP.create((784, 8, 10), "relu", seed=0)
    flat.params[...] = 0
    flat.biases[-1][3] = 1.0  # always says 3, whatever the pixels
    with pytest.raises(N.UnflippableError, match="found no change within the 0..1 pixel box"):
        N.nudge(flat, x)
    with pytest.raises(N.UnflippableError):
        N.nudge(flat, x, method="fgsm")
