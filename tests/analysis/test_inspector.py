"""The analysis behind the inspector, checked against brute force and against the engine's own
forward pass, on real trained nets (ReLU and sigmoid)."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis.inspector import (
    arithmetic,
    knockout_masks,
    neuron_detail,
    top_exciting,
)
from digitlens.data.sources import Dataset
from digitlens.errors import ParameterError
from digitlens.nn.backprop import evaluate, layer_activations
from digitlens.nn.mlp import MLP
from support import U32, dense_bound


def test_arithmetic_sums_to_the_engine(trained_model: MLP, sample: Dataset) -> None:
    x = sample.test_images[12]
    t = trained_model.trace(x)
    for layer in range(trained_model.n_layers):
        # the arithmetic adds the trace's inputs in float64, the trace in float32: one
        # layer's sums apart (softmax: p·(e^{2Δz} − 1) plus its own roundings)
        dz = dense_bound(t.activations[layer], trained_model.weights[layer],
                         trained_model.biases[layer])[0]
        for index in (0, trained_model.sizes[layer + 1] - 1):
            a = arithmetic(trained_model, layer, index, x)
            assert abs(a.z - float(t.zs[layer][0, index])) <= dz[index]
            want = float(t.activations[layer + 1][0, index])
            slack = (abs(want) * (np.expm1(2 * dz[index]) + 28 * U32)
                     if a.activation == "softmax" else dz[index])
            assert abs(a.value - want) <= slack
            d = a.to_dict(top=3)
            assert len(d["top_positive"]) <= 3 and all(r["product"] > 0 for r in d["top_positive"])
            # the same float64 product again: equal but for one rounding (rel 1e-6 is ample)
            assert all(r["input"] * r["weight"] == pytest.approx(r["product"])
                       for r in d["top_positive"] + d["top_negative"])


def test_arithmetic_of_a_sigmoid_net(sample: Dataset) -> None:
    model = MLP.create((784, 12, 10), activation="sigmoid", output="sigmoid", seed=3)
    x = sample.test_images[0]
    a = arithmetic(model, 0, 5, x)
    z = float((sample.test_images[0].ravel() / 255) @ model.weights[0][:, 5] + model.biases[0][5])
    # float64 both sides, but the arithmetic's inputs are the float32 pixels/255: u·Σ|x·w|
    x32 = model.as_input(x)
    slack = dense_bound(x32, model.weights[0], model.biases[0])[0, 5]
    assert a.z == pytest.approx(z, abs=slack)
    assert a.value == pytest.approx(1 / (1 + np.exp(-z)), abs=slack)  # sigmoid: 1/4-Lipschitz


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
    # chunks of 300 and one block of 1,000 are summed in other orders by BLAS: equal within
    # the bound for float32 sums of 785 terms in any order
    x = trained_model.as_input(sample.test_images)
    bound = dense_bound(x, trained_model.weights[0], trained_model.biases[0])
    assert np.all(np.abs(acts.astype(np.float64) - full) <= bound)
    top = top_exciting(acts[:, 7], 5)
    assert list(acts[top, 7]) == sorted(acts[:, 7], reverse=True)[:5]
