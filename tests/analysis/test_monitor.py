"""The dying-neuron monitor: counts against a net whose neurons were killed, duplicated and
dimmed on purpose, and training unchanged by it."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis import monitor as Mo
from digitlens.analysis.neurons import analyse_neurons
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train


def doctored(model: MLP) -> MLP:
    """Layer 1: neurons 0-4 dead (bias −100, never active), neuron 6 a copy of neuron 5,
    neuron 7's outgoing weights ×0.001 (dim). Layer 2: neurons 2 and 3 dead."""
    m = model.copy()
    m.biases[0][:5] = -100.0
    m.weights[0][:, 6] = m.weights[0][:, 5]
    m.biases[0][6] = m.biases[0][5]
    m.weights[1][7] *= 0.001
    m.biases[1][[2, 3]] = -100.0
    return m


def test_counts_on_a_net_with_neurons_killed_on_purpose(trained_model: MLP, sample) -> None:
    m = doctored(trained_model)
    probe = Mo.probe_set(sample.test_images)
    counts = Mo.neuron_counts(m, probe)
    acts = m.trace(probe).activations
    # by hand: dead = never active on the probe; a copy correlates 1 with its original
    assert np.all(acts[1][:, :5] == 0) and np.all(acts[2][:, [2, 3]] == 0)
    assert counts[0]["layer"] == 0 and counts[0]["n"] == 32
    assert counts[0]["dead"] >= 5 and counts[1]["dead"] >= 2
    assert counts[0]["dead"] == int(np.sum(acts[1].std(0) <= 0.01 * np.median(acts[1].std(0))))
    assert counts[0]["duplicates"] >= 2
    # the same definitions as the neurons view, on the same digits
    for layer in (0, 1):
        rep = analyse_neurons(m, probe, sample.test_labels[:len(probe)], layer)
        dup = {i for i, j, _ in rep.duplicates} | {j for _, j, _ in rep.duplicates}
        assert counts[layer] == {"layer": layer, "n": rep.n, "dead": int(rep.dead.sum()),
                                 "dim": int(rep.dim.sum()), "duplicates": len(dup)}
    rep0 = analyse_neurons(m, probe, sample.test_labels[:len(probe)], 0)
    assert rep0.dim[7] and rep0.dead[:5].all()
    assert {5, 6} <= {i for pair in rep0.duplicates for i in pair[:2]}


def test_history_records_counts_and_weights_are_unchanged(sample, tmp_path) -> None:
    config = TrainConfig(layers=(784, 24, 12, 10), epochs=2, batch_size=64, seed=3,
                         dataset="mnist-sample", preset="test-monitor")
    with_monitor = train(config, sample, tmp_path / "on", threads=1, monitor=Mo.watch)
    without = train(config, sample, tmp_path / "off", threads=1)
    np.testing.assert_array_equal(with_monitor.model.params, without.model.params)
    assert all("neurons" not in row for row in without.history)
    rows = with_monitor.history
    assert [len(r["neurons"]) for r in rows] == [2, 2]
    probe = Mo.probe_set(sample.test_images)
    from digitlens.nn.io import load_model
    last = load_model(tmp_path / "on" / "snapshots" / "epoch-0002.npz")
    assert rows[-1]["neurons"] == Mo.neuron_counts(last, probe)
    series = Mo.history_counts(rows)
    assert series is not None and series["epochs"] == [1, 2]
    assert series["layers"][1]["n"] == 12
    assert series["layers"][0]["dead"] == [r["neurons"][0]["dead"] for r in rows]
    assert Mo.history_counts(without.history) is None


def test_single_layer_net_has_nothing_to_monitor(sample) -> None:
    config = TrainConfig(layers=(784, 10), epochs=1, batch_size=64, dataset="mnist-sample",
                         preset="test-single")
    assert "neurons" not in train(config, sample, monitor=Mo.watch).history[0]
    assert Mo.neuron_counts(MLP.create((784, 10)), np.zeros((3, 784), np.float32)) == []


@pytest.mark.parametrize("size", [1, 10])
def test_probe_set_is_the_first_test_digits(sample, size) -> None:
    p = Mo.probe_set(sample.test_images, size)
    assert p.shape == (size, 784) and p.dtype == np.float32
    # float32 pixel/255 is the float64 quotient correctly rounded: within u = 6e-8 < rtol 1e-7
    np.testing.assert_allclose(p[0], sample.test_images[0].ravel() / 255)
