"""The analysis behind the inspector and the diagram, checked against brute force and against
the engine's own forward pass, on real trained nets (ReLU and sigmoid)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitlens.analysis.flow import strongest_connections, top_k
from digitlens.analysis.inspect import (
    arithmetic,
    grid_shape,
    knockout_masks,
    neuron_detail,
    top_exciting,
)
from digitlens.data.sources import Dataset
from digitlens.errors import ParameterError
from digitlens.nn.backprop import evaluate, layer_activations
from digitlens.nn.mlp import MLP


@pytest.mark.parametrize(("n", "shape"), [(784, (28, 28)), (512, (16, 32)), (256, (16, 16)),
                                          (30, (5, 6)), (10, (2, 5)), (64, (8, 8)), (7, (3, 3))])
def test_grid_shape(n: int, shape: tuple[int, int]) -> None:
    rows, cols = grid_shape(n)
    assert (rows, cols) == shape and rows * cols >= n


def test_arithmetic_sums_to_the_engine(trained_model: MLP, sample: Dataset) -> None:
    x = sample.test_images[12]
    t = trained_model.trace(x)
    for layer in range(trained_model.n_layers):
        for index in (0, trained_model.sizes[layer + 1] - 1):
            a = arithmetic(trained_model, layer, index, x)
            assert a.z == pytest.approx(float(t.zs[layer][0, index]), abs=1e-5)
            assert a.value == pytest.approx(float(t.activations[layer + 1][0, index]), abs=1e-6)
            d = a.to_dict(top=3)
            assert len(d["top_positive"]) <= 3 and all(r["product"] > 0 for r in d["top_positive"])
            assert all(r["input"] * r["weight"] == pytest.approx(r["product"])
                       for r in d["top_positive"] + d["top_negative"])


def test_arithmetic_of_a_sigmoid_net(sample: Dataset) -> None:
    model = MLP.create((784, 12, 10), activation="sigmoid", output="sigmoid", seed=3)
    x = sample.test_images[0]
    a = arithmetic(model, 0, 5, x)
    z = float((sample.test_images[0].ravel() / 255) @ model.weights[0][:, 5] + model.biases[0][5])
    assert a.z == pytest.approx(z, abs=1e-5)
    assert a.value == pytest.approx(1 / (1 + np.exp(-z)), abs=1e-6)


def test_knockout_masks_and_accuracy(trained_model: MLP, sample: Dataset) -> None:
    masks = knockout_masks(trained_model, {0: [2, 4], 1: []})
    assert set(masks) == {0} and masks[0].sum() == trained_model.sizes[1] - 2
    scores = evaluate(trained_model, trained_model.as_input(sample.test_images),
                      sample.test_labels, masks=masks)
    zeroed = trained_model.copy()
    zeroed.weights[1][[2, 4], :] = 0
    assert np.array_equal(scores.predictions, zeroed.predict(sample.test_images))
    assert scores.accuracy == np.mean(scores.predictions == sample.test_labels)
    with pytest.raises(ParameterError, match="knockout layer"):
        knockout_masks(trained_model, {2: [0]})  # the output layer
    with pytest.raises(ParameterError, match="knockout neuron"):
        knockout_masks(trained_model, {0: [32]})
    single = MLP.create((784, 10), activation="sigmoid", seed=0)
    with pytest.raises(ParameterError, match="no hidden layer"):
        knockout_masks(single, {0: [1]})
    assert knockout_masks(single, {}) == {}


def test_knocked_out_neuron_reports_zero(trained_model: MLP, sample: Dataset) -> None:
    masks = knockout_masks(trained_model, {0: [1]})
    a = arithmetic(trained_model, 0, 1, sample.test_images[3], masks)
    assert a.knocked_out and a.value == 0


def test_neuron_detail_shapes_and_errors(trained_model: MLP, sample: Dataset) -> None:
    d = neuron_detail(trained_model, 1, 4, sample.test_images[0])
    assert d["incoming"].shape == (32,) and d["composed"].shape == (784,)
    assert d["outgoing"].shape == (10,) and d["kind"] == "hidden"
    assert neuron_detail(trained_model, 2, 9)["outgoing"] is None
    with pytest.raises(ParameterError, match="'layer'"):
        neuron_detail(trained_model, 3, 0)
    with pytest.raises(ParameterError, match="'neuron'"):
        neuron_detail(trained_model, 0, 32)


def test_top_exciting_is_brute_force(trained_model: MLP, sample: Dataset) -> None:
    acts = layer_activations(trained_model, trained_model.as_input(sample.test_images),
                             chunk=300)[0]
    full = trained_model.trace(sample.test_images).activations[1]
    np.testing.assert_allclose(acts, full, rtol=1e-6)
    top = top_exciting(acts[:, 7], 5)
    assert list(acts[top, 7]) == sorted(acts[:, 7], reverse=True)[:5]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 30), st.integers(1, 60), st.integers(0, 10**6))
def test_top_k_equals_a_full_sort(rows: int, cols: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mag = np.abs(rng.normal(size=(rows, cols))).round(1)  # ties on purpose
    k = min(k, mag.size)
    got = top_k(mag.ravel(), mag.max(axis=1), k)
    want = np.argsort(-mag.ravel(), kind="stable")[:k]
    np.testing.assert_array_equal(mag.ravel()[got], mag.ravel()[want])
    assert len(set(got.tolist())) == k


def test_strongest_connections_skip_knocked_out_targets(trained_model: MLP,
                                                        sample: Dataset) -> None:
    masks = knockout_masks(trained_model, {0: list(range(16))})
    t = trained_model.trace(sample.test_images[5], masks=masks)
    flow = strongest_connections(trained_model, t, 30, masks)
    assert all(j >= 16 for _, j, _ in flow[0])  # nothing flows into switched-off neurons
    assert all(i >= 16 for i, _, _ in flow[1])  # nor out of them


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), k=st.integers(1, 60), sparsity=st.floats(0.0, 0.99))
def test_strongest_connections_from_row_peaks_are_the_same(trained_model: MLP, seed: int,
                                                           k: int, sparsity: float) -> None:
    """The shortcut through each row's largest weight gives exactly the full answer (ties and
    order included), with and without knocked-out neurons."""
    rng = np.random.default_rng(seed)
    x = rng.random(784).astype(np.float32)
    x[rng.random(784) < sparsity] = 0
    x[:3] = 0.5  # equal inputs: ties between rows
    peaks = [np.abs(w).max(axis=1) for w in trained_model.weights]
    for masks in (None, knockout_masks(trained_model, {0: [1, 5, 9]})):
        t = trained_model.trace(x, masks=masks)
        assert (strongest_connections(trained_model, t, k, masks, peaks)
                == strongest_connections(trained_model, t, k, masks))
