"""Patching and circuits checked against an independent forward pass written out here in float64
(NumPy only), on a real trained ReLU net."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitlens.analysis.patching import circuit, hidden_means, patch
from digitlens.data.sources import Dataset
from digitlens.errors import DigitlensError
from digitlens.nn.mlp import MLP
from support import assert_within, forward_bounds


def by_hand(model: MLP, x: np.ndarray, edit: dict[int, dict[int, float]] | None = None
            ) -> tuple[list[np.ndarray], np.ndarray]:
    """Hidden activations and output scores (before the softmax) in float64; ``edit[l][j]``
    replaces hidden neuron j of layer l by a value."""
    a = x.astype(np.float64).ravel() / (255 if x.dtype == np.uint8 else 1)
    hidden: list[np.ndarray] = []
    for layer in range(model.n_layers):
        z = a @ model.weights[layer].astype(np.float64) + model.biases[layer]
        if layer == model.n_layers - 1:
            return hidden, z
        assert model.activations[layer] == "relu"
        a = np.maximum(z, 0)
        for j, v in (edit or {}).get(layer, {}).items():
            a[j] = v
        hidden.append(a.copy())
    raise AssertionError


def test_patching_is_the_forward_pass_with_values_put_in(trained_model: MLP,
                                                         sample: Dataset) -> None:
    a, b = sample.test_images[1], sample.test_images[0]
    h_a, _ = by_hand(trained_model, a)
    for layer in range(trained_model.n_layers - 1):
        whole = patch(trained_model, a, b, layer)  # every neuron: B becomes A from there on
        # two float32 passes over a, maybe summed in other orders: the forward bound
        bound_a = forward_bounds(trained_model, a)[1][-1][0]
        assert_within(whole.probabilities_after, trained_model.trace(a).probabilities[0],
                      bound_a, "patched everything")
        assert whole.prediction_after == whole.source_prediction
        some = [0, 3, 5]
        p = patch(trained_model, a, b, layer, some)
        _, z = by_hand(trained_model, b, {layer: {j: h_a[layer][j] for j in some}})
        want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        # float32 against float64 by hand: the pass mixes a's and b's neurons, and the forward
        # bound is linear in the terms' sizes, so a's bound plus b's covers it
        bound = bound_a + forward_bounds(trained_model, b)[1][-1][0]
        assert_within(p.probabilities_after, want, bound, "patched some")
        assert p.patched == some and p.prediction_before == int(trained_model.predict(b)[0])


def test_circuit_numbers_are_the_networks(trained_model: MLP, sample: Dataset) -> None:
    model, x = trained_model, sample.test_images[7]
    means = hidden_means(model, sample.test_images)
    c = circuit(model, x, means, max_nodes=10)
    _, z = by_hand(model, x)
    order = np.argsort(-z)
    assert (c.target, c.contrast) == (int(order[0]), int(order[1]))
    assert c.gap == pytest.approx(z[c.target] - z[c.contrast], abs=1e-5)  # float64 both
    # the exact decomposition of a ReLU net's gap over its last hidden layer; ``direct`` is
    # taken from the float32 trace's activations, so it is off by their forward bound
    last = np.abs(model.weights[-1][:, c.target].astype(np.float64)
                  - model.weights[-1][:, c.contrast])
    err = forward_bounds(model, x)[1][-2][0] @ last + 1e-12 * abs(c.gap)
    assert abs(c.direct.sum() + c.bias_difference - c.gap) <= err
    # each node's effect: the gap's drop when that neuron alone takes its mean
    for layer, j, effect in c.nodes[:3]:
        _, zj = by_hand(model, x, {layer: {j: float(means[layer][j])}})
        assert effect == pytest.approx(c.gap - (zj[c.target] - zj[c.contrast]),
                                       abs=1e-5)  # float64 both sides
    assert [e for *_, e in c.nodes] == sorted((e for *_, e in c.nodes), reverse=True)
    # restored / removed against the same edits made by hand
    kept = {(layer, j) for layer, j, _ in c.nodes}
    widths = model.sizes[1:-1]
    outside = {layer: {j: float(means[layer][j]) for j in range(w) if (layer, j) not in kept}
               for layer, w in enumerate(widths)}
    inside = {layer: {j: float(means[layer][j]) for (ly, j) in kept if ly == layer}
              for layer in range(len(widths))}
    _, zk = by_hand(model, x, outside)
    _, zr = by_hand(model, x, inside)
    # float64 both sides (gaps_with and by_hand)
    assert c.restored == pytest.approx((zk[c.target] - zk[c.contrast]) / c.gap, abs=1e-6)
    assert c.removed == pytest.approx(1 - (zr[c.target] - zr[c.contrast]) / c.gap, abs=1e-6)
    everything = circuit(model, x, means, max_nodes=sum(widths))
    assert everything.restored == pytest.approx(1.0) and len(everything.nodes) == sum(widths)


def test_bad_requests(trained_model: MLP, sample: Dataset) -> None:
    x = sample.test_images[0]
    means = hidden_means(trained_model, sample.test_images)
    for call in (lambda: patch(trained_model, x, x, trained_model.n_layers - 1),
                 lambda: patch(trained_model, x, x, 0, [999]),
                 lambda: patch(trained_model, x, x, 0, [1, 1]),
                 lambda: patch(trained_model, x, x, 0, []),
                 lambda: circuit(trained_model, x, means, max_nodes=0),
                 lambda: circuit(trained_model, x, means, target=3, contrast=3),
                 lambda: circuit(trained_model, x, means, target=10)):
        with pytest.raises(DigitlensError):
            call()


@pytest.mark.e2e
def test_cli_patch_and_circuit(trained_run: Path, trained_model: MLP, sample: Dataset) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "digitlens", *args, "--dataset",
                               "mnist-sample"], capture_output=True, text=True, timeout=300,
                              check=False, env={**os.environ, "DIGITLENS_THREADS": "1"})
    out = run("patch", str(trained_run), "--source-index", "1", "--into-index", "0",
              "--layer", "1", "--neurons", "0,3,5", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout.strip().splitlines()[-1])
    want = patch(trained_model, sample.test_images[1], sample.test_images[0], 1, [0, 3, 5])
    assert d["patched"] == [0, 3, 5] and d["prediction_after"] == want.prediction_after
    assert set(d) >= {"prediction_before", "prediction_after", "probabilities_before",
                      "probabilities_after", "patched"}
    out = run("circuit", str(trained_run), "--test-index", "7", "--max-nodes", "5", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(d["nodes"]) == 5 and set(d) >= {"gap", "nodes", "edges", "restored", "removed"}
    for args, needle in ((("patch", str(trained_run), "--source-index", "2", "--into-index",
                           "2", "--layer", "0"), "the same digit"),
                         (("patch", str(trained_run), "--source-index", "2", "--into-index",
                           "3", "--layer", "2"), "'layer' parameter"),
                         (("circuit", str(trained_run), "--test-index", "99999"),
                          "'test-index' parameter")):
        bad = run(*args)
        assert bad.returncode != 0 and needle in bad.stderr and bad.stderr.count("\n") == 1
