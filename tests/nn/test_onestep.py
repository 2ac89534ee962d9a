"""One gradient step (digitlens.nn.onestep) against a step worked by hand and against finite
differences; the model given is never changed."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.errors import DigitlensError, ParameterError
from digitlens.nn.mlp import MLP
from digitlens.nn.onestep import one_step


def tiny() -> MLP:
    """2 inputs -> 2 sigmoid neurons -> 2 softmax outputs, with round weights."""
    model = MLP((2, 2, 2), ("sigmoid", "softmax"))
    model.weights[0][...] = [[0.5, -1.0], [0.25, 0.75]]   # (n_in, n_out)
    model.weights[1][...] = [[1.0, -0.5], [-2.0, 0.5]]
    model.biases[0][...] = [0.1, -0.2]
    model.biases[1][...] = [0.0, 0.3]
    return model


def test_an_sgd_step_worked_by_hand() -> None:
    model, x, label, lr = tiny(), np.array([0.8, 0.4]), 1, 0.5
    before = model.params.copy()
    # by hand, in float64: forward, dC/dz = p - onehot at the output, back through σ' = a(1-a)
    w0, w1 = model.weights[0].astype(float), model.weights[1].astype(float)
    b0, b1 = model.biases[0].astype(float), model.biases[1].astype(float)
    h = 1 / (1 + np.exp(-(x @ w0 + b0)))
    z = h @ w1 + b1
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    d1 = p - np.array([0.0, 1.0])
    d0 = (w1 @ d1) * h * (1 - h)
    s = one_step(model, x, label, lr, "sgd")
    assert np.array_equal(model.params, before)  # the model given is untouched
    # float32 step against float64 by hand on a 2-2-2 net: every sum has 2 or 3 terms, so each
    # value takes ≲ 12 roundings in any order: ≤ 12·2⁻²⁴ ≈ 7e-7 relative to values ≤ 2, inside
    # rel 1e-6 (p, loss) and abs 1e-6 (parameters); the norms are 4-term float32 sums
    assert s.loss_before == pytest.approx(-np.log(p[1]), rel=1e-6)
    assert s.probabilities_before == pytest.approx(p, rel=1e-6)
    assert s.model.weights[1] == pytest.approx(w1 - lr * np.outer(h, d1), abs=1e-6)
    assert s.model.weights[0] == pytest.approx(w0 - lr * np.outer(x, d0), abs=1e-6)
    assert s.model.biases[1] == pytest.approx(b1 - lr * d1, abs=1e-6)
    assert s.model.biases[0] == pytest.approx(b0 - lr * d0, abs=1e-6)
    assert s.gradient_norms == pytest.approx([np.linalg.norm(np.outer(x, d0)),
                                              np.linalg.norm(np.outer(h, d1))], rel=1e-5)
    assert s.loss_after < s.loss_before and s.probabilities_after[1] > p[1]


@pytest.mark.parametrize("cost_output", [("cross_entropy", "sigmoid"), ("quadratic", "sigmoid"),
                                         ("quadratic", "softmax"), ("cross_entropy", "softmax")])
def test_the_gradient_is_the_finite_difference(cost_output: tuple[str, str]) -> None:
    cost, output = cost_output
    model = MLP.create((6, 5, 3), "tanh", output, cost, seed=3)
    x = np.linspace(0.1, 0.9, 6)
    s = one_step(model, x, 2, 0.01)
    for k in range(0, model.params.size, 4):
        up, down = model.copy(), model.copy()
        up.params[k] += 1e-2
        down.params[k] -= 1e-2
        fd = (up.loss_and_gradient(x, np.array([2]))[0]
              - down.loss_and_gradient(x, np.array([2]))[0]) / 2e-2
        # float64 central differences with h = 1e-2: truncation h²·|C'''|/6 ≲ 1e-4·|C'''|;
        # 2e-3 is that method's margin (the float32 gradient's error is ~1e-7)
        assert s.gradient[k] == pytest.approx(fd, abs=2e-3)


def test_momentum_and_adam_start_fresh() -> None:
    model, x = tiny(), np.array([0.8, 0.4])
    sgd, mom = one_step(model, x, 0, 0.1, "sgd"), one_step(model, x, 0, 0.1, "momentum")
    assert np.array_equal(sgd.model.params, mom.model.params)  # v = -lr·g on the first step
    adam = one_step(model, x, 0, 0.01, "adam")
    moved = adam.model.params - model.params
    big = np.abs(adam.gradient) > 1e-4
    # Adam's first step moves each parameter by lr·g/(|g| + 1e-8), lr against its gradient's
    # sign to 1e-8/|g| ≤ 1e-4 relative (|g| > 1e-4), element by element in float32
    assert moved[big] == pytest.approx(-0.01 * np.sign(adam.gradient[big]), rel=1e-3)


@pytest.mark.parametrize(("label", "lr", "optimizer", "x", "error"), [
    (2, 0.1, "sgd", [0.5, 0.5], ParameterError), (-1, 0.1, "sgd", [0.5, 0.5], ParameterError),
    (0, 0.0, "sgd", [0.5, 0.5], ParameterError), (0, 1e9, "sgd", [0.5, 0.5], ParameterError),
    (0, float("nan"), "sgd", [0.5, 0.5], ParameterError),
    (0, 0.1, "rmsprop", [0.5, 0.5], ParameterError), (0, 0.1, "sgd", [0.0, 0.0], DigitlensError),
    (0, 0.1, "sgd", [2.0, 0.5], ParameterError)])
def test_bad_steps_are_refused(label: int, lr: float, optimizer: str, x: list[float],
                               error: type[Exception]) -> None:
    with pytest.raises(error):
        one_step(tiny(), np.array(x), label, lr, optimizer)
