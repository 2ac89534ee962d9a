"""The model: trace, knock-outs, initialisation, determinism, validation."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.errors import ParameterError
from digitlens.nn.mlp import MLP, n_params
from support import assert_within, dense_bound, forward_bounds


def test_layout_is_one_flat_buffer() -> None:
    m = MLP.create((784, 16, 10), "relu")
    assert m.params.size == n_params((784, 16, 10)) == 784 * 16 + 16 * 10 + 26
    m.weights[1][0, 0] = 7.0
    assert m.params[784 * 16] == 7.0           # weights are views, weights first
    m.biases[0][0] = 3.0
    assert m.params[m.n_weights] == 3.0


def test_trace_batched_equals_single_and_is_consistent(trained_model: MLP, sample) -> None:
    x = sample.test_images[:5]
    t = trained_model.trace(x)
    bound = forward_bounds(trained_model, x)[1][-1]
    for i in range(5):  # one row (BLAS's gemv) and five (gemm) sum in other orders
        one = trained_model.trace(x[i])
        assert_within(one.probabilities[0], t.probabilities[i], bound[i], "one row vs batch")
    # a float32 softmax sums 10 terms ≤ 1: Σp = 1 within ~14u ≈ 1e-6 in any order
    np.testing.assert_allclose(t.probabilities.sum(axis=1), 1, rtol=1e-5)
    a0 = x.reshape(5, -1) / 255  # float64, so z0 is a float64 reference
    z0 = a0 @ trained_model.weights[0] + trained_model.biases[0]
    layer0 = dense_bound(a0, trained_model.weights[0], trained_model.biases[0])
    assert_within(t.zs[0], z0, layer0, "z of layer 0")  # float32 785-term sums vs float64
    assert_within(t.activations[1], np.maximum(z0, 0), layer0, "a of layer 0")  # 1-Lipschitz
    assert [a.shape[1] for a in t.activations] == list(trained_model.sizes)
    assert (t.prediction == np.argmax(t.probabilities, axis=1)).all()


def test_knockout_equals_zeroing_outgoing_weights(trained_model: MLP, sample) -> None:
    x = sample.test_images[:50]
    mask = np.ones(trained_model.sizes[1])
    mask[[0, 3, 5]] = 0
    knocked = trained_model.trace(x, masks={0: mask}).probabilities
    oracle = trained_model.copy()
    oracle.weights[1][[0, 3, 5], :] = 0
    # masked activations and zeroed weights give the same terms, maybe summed in other orders
    assert_within(knocked, oracle.trace(x).probabilities,
                  forward_bounds(oracle, x)[1][-1], "knocked out vs zeroed")
    assert not np.allclose(knocked, trained_model.trace(x).probabilities)


def test_initialisations() -> None:
    xavier = MLP.create((784, 300, 10), "sigmoid", init="xavier", seed=1)
    lim = np.sqrt(6 / (784 + 300))
    assert np.abs(xavier.weights[0]).max() <= lim
    assert np.abs(xavier.weights[0]).max() > 0.95 * lim
    he = MLP.create((784, 300, 10), "relu", init="he", seed=1)
    # statistical: 235,200 normal draws estimate σ to ~1/√(2n) ≈ 0.15%; 2% is generous
    assert he.weights[0].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert np.all(he.params[he.n_weights:] == 0)


def test_seeded_and_deterministic() -> None:
    a, b = MLP.create((784, 8, 10), seed=5), MLP.create((784, 8, 10), seed=5)
    c = MLP.create((784, 8, 10), seed=6)
    assert np.array_equal(a.params, b.params) and not np.array_equal(a.params, c.params)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sizes": (784,)}, "'layers' parameter must be"),
    ({"sizes": (784, 0, 10)}, "'layers' parameter must be"),
    ({"sizes": (784, 10), "activation": "swish"}, None),
    ({"sizes": (784, 8, 10), "activation": "swish"}, "'activation' parameter must be one of"),
    ({"sizes": (784, 10), "output": "relu"}, "'output' parameter must be one of"),
    ({"sizes": (784, 10), "cost": "hinge"}, "'cost' parameter must be one of"),
    ({"sizes": (784, 10), "init": "zeros"}, "'init' parameter must be one of"),
])
def test_invalid_architecture(kwargs: dict, message: str | None) -> None:
    if message is None:  # a single-layer net has no hidden activation to validate
        MLP.create(**kwargs)
        return
    with pytest.raises(ParameterError, match=message):
        MLP.create(**kwargs)


def test_wrong_input_shape() -> None:
    with pytest.raises(ParameterError, match="784 values per example"):
        MLP.create((784, 10)).trace(np.zeros(100))


def test_no_inputs_give_no_rows_of_the_models_width() -> None:
    m = MLP.create((144, 5, 3), "relu", seed=0)
    empty = np.zeros((0, 144), np.float32)
    assert m.predict_proba(empty).shape == (0, 3) and m.predict_proba(empty).dtype == np.float32
    assert m.predict(empty).shape == (0,)
