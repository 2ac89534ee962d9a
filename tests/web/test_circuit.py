"""The page's circuit (static/js/circuit.js, via engine.js) against the reference,
``digitlens.analysis.patching.circuit``: every neuron's effect, the nodes chosen, the gap,
``restored``, ``removed``, the edges and the last layer's decomposition, on a net shaped like
the default (784-512-256-10 ReLU), the tests' small net and a deeper tanh net, for several test
digits and for a chosen target and contrast.

Tolerances. The gaps are float64 on both sides, computed from the same float32 weights,
pixels and float64 means; only the order of the sums differs (the page moves the next layer's
pre-activations by a rank-1 update instead of recomputing them). ``float64_gap_bound`` carries
Higham's γ_n = n·u/(1 − n·u), u = 2⁻⁵³, through the layers as ``support.forward_bounds`` does
for float32, over every pattern of removed neurons at once (|activation| and |mean| both
bounded by V), so one gap of either side is within b of the exact one: two gaps within 2b, an
effect (a difference of two gaps) within 4b. The edges and the decomposition read the float32
forward pass on both sides: ``support.forward_bounds``. The nodes are the K largest effects:
the page's choice must be a valid top K of the reference's own effects (its p-th node's effect
equal to the reference's p-th largest within the effect bound), which allows another order,
or another neuron at the cut, only where effects tie within that bound.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.analysis import patching as P
from digitlens.data.sources import Dataset
from digitlens.export.json_format import export_json
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train
from support import assert_within, forward_bounds, require

pytestmark = pytest.mark.e2e
STATIC = Path(__file__).parents[2] / "src/digitlens/web/static"
ENGINE = STATIC / "js/engine.js"
RUNNER = Path(__file__).with_name("circuit_runner.mjs")
U64 = 2.0 ** -53
DIGITS = [0, 1, 2, 3, 4, 7, 11, 18]


def run_circuits(tmp: Path, model: MLP, x: np.ndarray, means: list[np.ndarray],
                 asks: list[dict[str, Any]], repeat: int = 1) -> list[dict[str, Any]]:
    """circuit.js's answers for rows ``x`` (float32 model inputs), one per ask."""
    node = require("node")
    export_json(model, tmp / "net.json")
    job = {"network": str(tmp / "net.json"), "means": [m.tolist() for m in means],
           "inputs": base64.b64encode(np.ascontiguousarray(x, np.float32).tobytes()).decode(),
           "asks": asks, "repeat": repeat}
    (tmp / "job.json").write_text(json.dumps(job))
    subprocess.run([node, str(RUNNER), str(ENGINE), str(tmp / "job.json"),
                    str(tmp / "out.json")], check=True, timeout=600)
    out = json.loads((tmp / "out.json").read_text())
    assert "error" not in out, out
    return list(out["circuits"])


def gamma(n: int) -> float:
    return n * U64 / (1 - n * U64)


def float64_gap_bound(model: MLP, x: np.ndarray, means: list[np.ndarray], target: int,
                      contrast: int) -> float:
    """How far one float64 gap of ``x`` (with any hidden neurons at their means) may lie from
    the exact one. V bounds every hidden value in any such pass (the activation if the layer
    before could be anything within its own bounds, or the mean); a layer's z is a sum of
    n_in + 1 terms, plus 2 for the page's rank-1 update (m − a)·W[j] with |m − a| ≤ 2V, hence
    3V; tanh and sigmoid (Math's and NumPy's) add a few ulp, 4u·V."""
    v = np.abs(model.as_input(x)[0].astype(np.float64))
    err = np.zeros_like(v)
    for layer in range(model.n_layers - 1):
        w = np.abs(model.weights[layer].astype(np.float64))
        b = np.abs(model.biases[layer].astype(np.float64))
        n = w.shape[0] + 3
        size = (3 * v) @ w + b
        err = gamma(n) * size + (1 + gamma(n)) * (err @ w)
        name = model.activations[layer]
        reach = size if name in ("relu", "identity") else np.minimum(size, 1.0)
        v = np.maximum(reach, np.abs(means[layer]))
        err = err + (0 if name == "relu" else 4 * U64 * v)
    out = np.abs(model.weights[-1].astype(np.float64))[:, [target, contrast]].sum(axis=1)
    size = float(v @ out) + float(np.abs(model.biases[-1][[target, contrast]]).sum())
    n = model.sizes[-2] + 1
    return gamma(n) * size + (1 + gamma(n)) * float(err @ out) + U64 * size


def reference_effects(model: MLP, x: np.ndarray, means: list[np.ndarray], target: int,
                      contrast: int) -> list[np.ndarray]:
    """Every hidden neuron's effect as ``patching.circuit`` measures it (its own loop, one
    neuron removed per row of ``gaps_with``)."""
    x1 = model.as_input(x)[0].astype(np.float64)
    widths = model.sizes[1:-1]
    full = P.gaps_with(model, x1, [np.ones((1, w)) for w in widths], means, target, contrast)[0]
    out = []
    for layer, w in enumerate(widths):
        keep = [np.ones((w, v)) for v in widths]
        keep[layer] = 1 - np.eye(w)
        out.append(full - P.gaps_with(model, x1, keep, means, target, contrast))
    return out


def check_circuit(model: MLP, x: np.ndarray, means: list[np.ndarray], js: dict[str, Any],
                  target: int | None = None, contrast: int | None = None,
                  max_nodes: int = P.MAX_NODES) -> bool:
    """One page circuit against the reference; whether the two chose the same neurons."""
    ref = P.circuit(model, x, means, target, contrast, max_nodes)
    assert (js["target"], js["contrast"]) == (ref.target, ref.contrast)
    t, c = ref.target, ref.contrast
    b = float64_gap_bound(model, x, means, t, c)
    assert abs(js["gap"] - ref.gap) <= 2 * b, (js["gap"], ref.gap, b)
    effects = reference_effects(model, x, means, t, c)
    for layer, (mine, want) in enumerate(zip(js["effects"], effects, strict=True)):
        assert_within(mine, want, 4 * b, f"effects of layer {layer}")
    ranked = np.sort(np.concatenate(effects))[::-1][:max_nodes]
    got = [(n["layer"], n["neuron"]) for n in js["nodes"]]
    assert len(got) == len(set(got)) == len(ranked)
    # the page's p-th node is worth the reference's p-th largest effect, within 2 effect bounds
    assert_within([effects[ly][j] for ly, j in got], ranked, 8 * b, "the chosen nodes' effects")
    assert_within([n["effect"] for n in js["nodes"]], [effects[ly][j] for ly, j in got],
                  4 * b, "the nodes' effects")
    same = got == [(ly, j) for ly, j, _ in ref.nodes]
    # restored and removed: the reference's own passes over the page's choice of neurons
    x1 = model.as_input(x)[0].astype(np.float64)
    chosen = [np.zeros((1, w)) for w in model.sizes[1:-1]]
    for ly, j in got:
        chosen[ly][0, j] = 1
    kept = P.gaps_with(model, x1, chosen, means, t, c)[0]
    gone = P.gaps_with(model, x1, [1 - k for k in chosen], means, t, c)[0]
    # r = g/full: |Δr| <= (|Δg| + |r|·|Δfull|)/|full| with |Δg|, |Δfull| <= 2b, + rounding
    for name, g, shift in (("restored", kept, 0.0), ("removed", gone, 1.0)):
        r = abs(shift - js[name])
        bound = 2 * b * (1 + r) / abs(ref.gap) + 4 * U64 * (1 + r)
        assert abs(js[name] - (shift + (-1 if shift else 1) * g / ref.gap)) <= bound, name
        if same:
            assert abs(js[name] - getattr(ref, name)) <= bound, name
    # the edges and the decomposition read the float32 pass (JS and NumPy sum in other orders)
    a_err = forward_bounds(model, x)[1]
    if same:
        assert [(e["layer"], e["from"], e["to"]) for e in js["edges"]] == \
            [(ly, a, bb) for ly, a, bb, _ in ref.edges]
    acts = [a[0] for a in model.trace(x).activations]
    for e in js["edges"]:
        weight = float(model.weights[e["layer"]][e["from"], e["to"]])
        value = float(acts[e["layer"]][e["from"]]) * weight
        assert abs(e["value"] - value) <= a_err[e["layer"] - 1][0, e["from"]] * abs(weight) \
            + U64 * abs(value), e
    d_w = np.abs(model.weights[-1][:, t].astype(np.float64) - model.weights[-1][:, c])
    d_err = a_err[-2][0] * d_w
    assert_within(js["direct"], ref.direct, d_err + U64 * np.abs(ref.direct), "direct terms")
    dec = js["decomposition"]
    assert abs(dec["direct_sum"] - ref.direct.sum()) <= d_err.sum() + gamma(len(d_w)) * 2 * \
        np.abs(ref.direct).sum()
    assert dec["bias_difference"] == ref.bias_difference  # exact: two float32s in float64
    return same


@pytest.fixture(scope="module")
def nets(trained_model: MLP, sample: Dataset,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, MLP]:
    """The default's shape (784-512-256-10 ReLU, one epoch on the sample), the tests' small
    net (784-32-16-10: 48 neurons for 30 nodes, so ties at zero effect), and a deeper tanh net
    (three hidden layers: the rank-1 update is followed by whole passes)."""
    root = tmp_path_factory.mktemp("circuit-nets")
    out = {"small": trained_model}
    for name, cfg in {
        "default-like": TrainConfig(layers=(784, 512, 256, 10), epochs=1, batch_size=32,
                                    dataset="mnist-sample", seed=0),
        "tanh": TrainConfig(layers=(784, 40, 24, 16, 10), activation="tanh", init="xavier",
                            epochs=1, batch_size=32, dataset="mnist-sample", seed=3),
    }.items():
        train(cfg, sample, root / name)
        out[name] = load_model(root / name)
    return out


@pytest.mark.parametrize("name", ["default-like", "small", "tanh"])
def test_circuit_matches_the_reference(name: str, nets: dict[str, MLP], sample: Dataset,
                                       tmp_path: Path) -> None:
    model = nets[name]
    means = P.hidden_means(model, sample.test_images)
    x = model.as_input(sample.test_images[DIGITS])
    asks: list[dict[str, Any]] = [{"k": k} for k in range(len(DIGITS))]
    asks += [{"k": 3, "target": 3, "contrast": 8}, {"k": 0, "target": 8, "contrast": 3},
             {"k": 5, "max_nodes": 5}, {"k": 6, "max_nodes": 60}]
    js = run_circuits(tmp_path, model, x, means, asks)
    same = []
    for ask, c in zip(asks, js, strict=True):
        assert "error" not in c, c
        same.append(check_circuit(model, x[ask["k"]], means, c, ask.get("target"),
                                  ask.get("contrast"), ask.get("max_nodes", P.MAX_NODES)))
    if name != "small":  # hundreds of neurons: the largest effects stand apart
        assert all(same)


def test_circuit_refuses_what_the_reference_refuses(nets: dict[str, MLP], sample: Dataset,
                                                   tmp_path: Path) -> None:
    model = nets["small"]
    means = P.hidden_means(model, sample.test_images)
    x = model.as_input(sample.test_images[:1])
    js = run_circuits(tmp_path, model, x, means, [
        {"k": 0, "target": 3, "contrast": 3}, {"k": 0, "target": 10}, {"k": 0, "max_nodes": 0}])
    assert [c.get("error", "").split(":")[0] for c in js] == ["EngineError"] * 3
    assert "other than the target" in js[0]["error"] and "0..9" in js[1]["error"]
    single = MLP.create((784, 10), seed=0)
    js = run_circuits(tmp_path, single, x, [], [{"k": 0}])
    assert "no hidden layer" in js[0]["error"]
