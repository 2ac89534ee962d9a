"""The page's JavaScript engine (static/js/engine.js) against the Python engine, the oracle.

engine.js runs in Node (tests/web/engine_runner.mjs) on the 1,000 real test digits of the
embedded sample and on generated drawings; every number is compared with what digitlens's own
MLP.trace, analysis and preprocessing compute. The parity figures are printed (``-s``)."""

from __future__ import annotations

import base64
import json
import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitlens.analysis.attribution import evidence
from digitlens.analysis.flow import strongest_connections
from digitlens.analysis.inspector import arithmetic, knockout_masks
from digitlens.data.preprocess import preprocess
from digitlens.data.sources import Dataset
from digitlens.export.json_format import export_json
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train
from support import U32, assert_within, encode_bound, forward_bounds, jacobian_bound, require

pytestmark = pytest.mark.e2e
STATIC = Path(__file__).parents[2] / "src/digitlens/web/static"
ENGINE = STATIC / "js/engine.js"
RUNNER = Path(__file__).with_name("engine_runner.mjs")


def run_engine(tmp: Path, job: dict[str, Any]) -> dict[str, Any]:
    node = require("node")
    (tmp / "job.json").write_text(json.dumps(job))
    subprocess.run([node, str(RUNNER), str(ENGINE), str(tmp / "job.json"), str(tmp / "out.json")],
                   check=True, timeout=600)
    return dict(json.loads((tmp / "out.json").read_text()))


def floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), np.float32)


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


@pytest.fixture(scope="module")
def nets(sample: Dataset, trained_run: Path,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, MLP]:
    """A ReLU (the shared small run), a sigmoid (sigmoid outputs, quadratic cost), a tanh and
    a single-layer net, trained on the sample; and an untrained three-class net."""
    out = {"relu": load_model(trained_run),
           "three": MLP.create((784, 20, 3), "relu", seed=5)}  # not ten classes: the general path
    root = tmp_path_factory.mktemp("engine-nets")
    for name, cfg in {
        "sigmoid": TrainConfig(layers=(784, 30, 10), activation="sigmoid", output="sigmoid",
                               cost="quadratic", init="xavier", optimizer="sgd", lr=3.0,
                               batch_size=10, epochs=3, dataset="mnist-sample", seed=2),
        "tanh": TrainConfig(layers=(784, 40, 20, 10), activation="tanh", init="xavier",
                            epochs=3, batch_size=32, dataset="mnist-sample", seed=3),
        "single": TrainConfig(layers=(784, 10), init="xavier", optimizer="sgd", lr=0.5,
                              batch_size=50, epochs=2, dataset="mnist-sample", seed=4),
    }.items():
        train(cfg, sample, root / name)
        out[name] = load_model(root / name)
    return out


KNOCKOUTS = {"relu": {0: [3, 17, 20], 1: [5]}, "three": {0: [1, 4]}, "sigmoid": {0: [1, 2, 29]},
             "tanh": {0: [0, 7], 1: [19]}, "single": {}}


@pytest.mark.parametrize(("name", "knocked"), [(n, False) for n in KNOCKOUTS] + [
    (n, True) for n in KNOCKOUTS if KNOCKOUTS[n]])
def test_trace_evidence_flow_arithmetic_match_python(name: str, knocked: bool, nets: dict[str, MLP],
                                                     sample: Dataset, tmp_path: Path) -> None:
    model = nets[name]
    knock = KNOCKOUTS[name] if knocked else {}
    masks = knockout_masks(model, knock) or None
    export_json(model, tmp_path / "net.json")
    x = (sample.test_images.reshape(-1, 784).astype(np.float32) / 255)
    assert len(x) == 1000
    picks = list(range(0, 1000, 25))  # 40 digits for evidence and lines
    spots = [(k, layer, int(i)) for k in picks[:10] for layer in range(model.n_layers)
             for i in (0, model.sizes[layer + 1] - 1, (7 * k) % model.sizes[layer + 1])]
    out = run_engine(tmp_path, {"network": str(tmp_path / "net.json"), "inputs": b64(x),
                                "knockout": {str(k): v for k, v in knock.items()},
                                "evidence": picks, "arithmetic": spots})
    assert "error" not in out, out.get("error")
    t = model.trace(x, masks=masks)
    # Tolerances: engine.js adds in float64 and stores float32, Python sums float32 in BLAS's
    # order, which depends on the CPU: both lie within the forward bound of each other
    # (support.forward_bounds), every number below is held to its own bound, and each
    # *_err is the largest |Δ| as a fraction of its bound (≤ 1 passes)
    zb, ab = forward_bounds(model, x, masks)
    probs = floats(out["probabilities"]).reshape(1000, -1)
    p_err = float((np.abs(probs - t.probabilities) / ab[-1]).max())
    # the same prediction, unless the top two lie within the bound of each other
    top2 = np.sort(t.probabilities, axis=1)[:, -2:]
    close = top2[:, 1] - top2[:, 0] <= 2 * ab[-1].max(axis=1)
    same = float(np.mean((np.array(out["predictions"]) == t.prediction) | close))
    ev_err = flow_err = ar_err = 0.0

    def a_err(layer: int, k: int) -> np.ndarray:  # how far the inputs to ``layer`` may differ
        return np.zeros(model.sizes[0]) if layer == 0 else ab[layer - 1][k]

    for k in picks:
        ev = evidence(model, x[k], masks=masks, ink_only=True)
        js = out["evidence"][str(k)]
        assert js["method"] == ev.method
        contrib = floats(js["contributions"]).reshape(model.sizes[-1], 784)
        # x·(input Jacobian): its sums in other orders, and the forward bound in its slopes
        c_bound = (x[k][:, None] * jacobian_bound(model, x[k], masks)).T \
            + 4 * U32 * np.abs(ev.contributions.T) + 1e-30
        ev_err = max(ev_err, float((np.abs(contrib - ev.contributions.T) / c_bound).max()),
                     float((np.abs(floats(js["scores"]) - ev.scores) / zb[-1][k]).max()))
        flow = strongest_connections(model, model.trace(x[k], masks=masks), 40, masks)
        for layer, (py_layer, js_layer) in enumerate(zip(flow, out["flow"][str(k)],
                                                         strict=True)):
            assert len(py_layer) == len(js_layer)
            # a·w with a within the forward bound, stored as float32 on both sides
            w_abs = np.abs(model.weights[layer].astype(np.float64))
            t_bound = a_err(layer, k)[:, None] * w_abs
            # the same connections (ties aside: compare by position after sorting by index)
            py_terms = {(i, j): w for i, j, w in py_layer}
            for i, j, w in js_layer:
                slack = t_bound[i, j] + 4 * U32 * abs(w) + 1e-30
                assert (i, j) in py_terms or abs(abs(w) - abs(py_layer[-1][2])) <= (
                    slack + t_bound.max() + 4 * U32 * abs(py_layer[-1][2]))
                flow_err = max(flow_err, abs(py_terms.get((i, j), w) - w) / slack)
    for k, layer, i in spots:
        py = arithmetic(model, layer, i, x[k], masks).to_dict()
        js = out["arithmetic"][f"{k}/{layer}/{i}"]
        for key in ("n_inputs", "n_active", "activation", "knocked_out"):
            assert js[key] == py[key], key
        # the sums and z: this layer's inputs within their bound, summed in other orders
        w_abs = np.abs(model.weights[layer][:, i].astype(np.float64))
        s_bound = zb[layer][k, i] + 1e-30
        bounds = {"sum": s_bound, "positive_sum": s_bound, "negative_sum": s_bound,
                  "bias": 1e-30, "z": s_bound, "value": ab[layer][k, i] + 1e-30}
        for key, bound in bounds.items():
            ar_err = max(ar_err, abs(js[key] - py[key]) / bound)
        for side in ("top_positive", "top_negative"):
            assert [r["index"] for r in js[side]] == [r["index"] for r in py[side]]
            for a, b in zip(js[side], py[side], strict=True):
                p_bound = a_err(layer, k)[b["index"]] * w_abs[b["index"]] \
                    + 4 * U32 * abs(b["product"]) + 1e-30
                ar_err = max(ar_err, abs(a["product"] - b["product"]) / p_bound)
    print(f"\nengine parity {name}{' knocked-out' if knocked else ''}: 1000 test digits, "
          f"max |Δp| {p_err:.2e} of its bound, same prediction {100 * same:.1f}%, evidence "
          f"{ev_err:.2e}, lines {flow_err:.2e}, arithmetic {ar_err:.2e} of theirs")
    assert p_err <= 1
    assert same == 1.0
    assert ev_err <= 1 and ar_err <= 1 and flow_err <= 1


def drawing(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """A random digit-like drawing: a few strokes and arcs, 64–512 px, thin or thick, placed
    anywhere, light on dark or dark on light, sometimes on grey paper."""
    side_w, side_h = (int(v) for v in rng.integers(64, 513, 2))
    dark_on_light = bool(rng.random() < 0.5)
    paper = int(rng.choice([0, 0, 30])) if not dark_on_light else int(rng.choice([255, 255, 225]))
    ink = 255 - paper if rng.random() < 0.8 else (128 if not dark_on_light else 100)
    img = Image.new("L", (side_w, side_h), paper)
    d = ImageDraw.Draw(img)
    scale = rng.uniform(0.15, 0.8) * min(side_w, side_h)
    cx, cy = rng.uniform(scale / 2, side_w - scale / 2), rng.uniform(scale / 2, side_h - scale / 2)
    width = max(1, int(scale * rng.choice([0.03, 0.08, 0.18])))
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.5:
            pts = [(cx + scale * (rng.random() - 0.5), cy + scale * (rng.random() - 0.5) * 1.4)
                   for _ in range(int(rng.integers(2, 5)))]
            d.line(pts, fill=ink, width=width, joint="curve")
        else:
            r = scale * rng.uniform(0.15, 0.45)
            box = [cx - r, cy - r * 1.2, cx + r, cy + r * 1.2]
            d.arc(box, float(rng.uniform(0, 360)), float(rng.uniform(0, 360)), fill=ink,
                  width=width)
    return np.asarray(img, np.uint8), {"width": width, "dark_on_light": dark_on_light}


def test_preprocess_matches_python_on_generated_drawings(nets: dict[str, MLP],
                                                          tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    model = nets["relu"]
    export_json(model, tmp_path / "net.json")
    drawings = [drawing(rng)[0] for _ in range(220)]
    drawings += [np.zeros((64, 64), np.uint8), np.full((100, 80), 255, np.uint8)]  # blank
    out = run_engine(tmp_path, {"network": str(tmp_path / "net.json"), "drawings": [
        {"gray": b64(g), "width": g.shape[1], "height": g.shape[0]} for g in drawings]})
    assert "error" not in out, out.get("error")
    worst, worst_raw, same, inked = 0.0, 0.0, 0, 0
    for g, js in zip(drawings, out["drawings"], strict=True):
        pre = preprocess(g.astype(np.float32) / 255)  # what the API does with 'gray'
        assert js["has_ink"] == pre.has_ink and js["inverted"] == pre.inverted
        worst_raw = max(worst_raw, float(np.abs(floats(js["raw28"]) - pre.raw28.ravel()).max()))
        if not pre.has_ink:
            continue
        inked += 1
        assert js["bbox"] == list(pre.bbox)
        worst = max(worst, float(np.abs(floats(js["centred"]) - pre.centred.ravel()).max()))
        same += js["prediction"] == int(model.trace(pre.centred).prediction[0])
    sizes = [g.shape for g in drawings]
    print(f"\nengine preprocessing: {len(drawings)} drawings ({inked} with ink, sides "
          f"{min(min(s) for s in sizes)}–{max(max(s) for s in sizes)} px): centred max |Δ| "
          f"{worst:.2e}, raw28 max |Δ| {worst_raw:.2e}, same prediction "
          f"{100 * same / inked:.1f}%")
    assert inked >= 200
    assert worst <= 0.02 and worst_raw <= 0.02
    assert same >= math.ceil(0.99 * inked)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(format="other"), "not a digitlens network"),
    (lambda d: d.update(version=2), "unsupported schema version"),
    (lambda d: d.update(sizes=[100, 10],
                        layers=[{**d["layers"][0], "weights": [[0.0] * 100] * 10}]),
     "input.shape must be [height, width] of the network's 100 inputs"),
    (lambda d: d["layers"][0]["weights"].pop(), "must be 10 rows"),
    (lambda d: d["layers"][0]["weights"][3].__setitem__(5, "x"), "is not a number"),
    (lambda d: d["layers"][0].update(activation="gelu"), "activation must be one of"),
    (lambda d: d["layers"][0]["biases"].append(1.0), "biases must be a list of 10"),
])
def test_engine_refuses_bad_networks_with_a_clear_message(edit: Any, message: str,
                                                          nets: dict[str, MLP],
                                                          tmp_path: Path) -> None:
    export_json(nets["single"], tmp_path / "good.json")
    doc = json.loads((tmp_path / "good.json").read_text())
    edit(doc)
    (tmp_path / "net.json").write_text(json.dumps(doc))
    out = run_engine(tmp_path, {"network": str(tmp_path / "net.json"), "inputs": b64(
        np.zeros(784, np.float32))})
    assert out.get("error", "").startswith("EngineError: ") and message in out["error"]


def test_engine_refuses_bad_drawings_and_inputs_with_a_clear_message() -> None:
    node = require("node")
    script = f"""
    const E = await import({json.dumps(ENGINE.as_uri())});
    const said = (f) => {{ try {{ f(); return "accepted"; }} catch (e) {{
      return (e instanceof E.EngineError ? "" : "not an EngineError: ") + e.message; }} }};
    const net = new E.Network([784, 10], ["softmax"], [new Float32Array(7840)],
                              [new Float32Array(10)], []);
    console.log(JSON.stringify({{
      huge: said(() => E.preprocess(new Uint8Array(600 * 600), 600, 600)),
      short: said(() => E.preprocess(new Uint8Array(10), 8, 8)),
      blank: E.preprocess(new Uint8Array(64 * 64), 64, 64).has_ink,
      white: E.preprocess(new Uint8Array(64 * 64).fill(255), 64, 64).has_ink,
      size: said(() => net.trace(new Float32Array(100))),
      range: said(() => net.trace(new Float32Array(784).fill(2))),
      nan: said(() => net.trace(new Float32Array(784).fill(NaN))),
      knock: said(() => net.trace(new Float32Array(784), {{ knockout: {{ "0": [1] }} }})),
    }}));
    """
    out = json.loads(subprocess.run([node, "--input-type=module", "-e", script], check=True,
                                    capture_output=True, text=True, timeout=60).stdout)
    assert out["huge"] == "the drawing is 600×600; at most 512×512 pixels"
    assert out["short"] == "the drawing must hold 64 grey levels, got 10"
    assert out["blank"] is False and out["white"] is False
    assert out["size"] == "the input must be 784 numbers, got 100"
    assert out["range"] == out["nan"] == "the input's values must lie in 0..1"
    assert out["knock"] == "this network has no hidden layer to knock out"


def test_the_documented_node_example_runs(nets: dict[str, MLP], tmp_path: Path) -> None:
    """docs/engine.md's example, as written, against an exported network."""
    import re

    node = require("node")
    doc = (Path(__file__).parents[2] / "docs/engine.md").read_text()
    code = re.search(r"```js\n(.*?)```", doc, re.S).group(1)  # type: ignore[union-attr]
    code = code.replace("./src/digitlens/web/static/js/engine.js", ENGINE.as_uri())
    (tmp_path / "example.mjs").write_text(code)
    export_json(nets["relu"], tmp_path / "net.json")
    out = subprocess.run([node, "example.mjs"], cwd=tmp_path, capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out[0] in "0123456789" and out[-1] == "7840"


def test_map_projection_matches_python(nets: dict[str, MLP], sample: Dataset,
                                       tmp_path: Path) -> None:
    """The hidden-space map's moving point: engine.js's project against PCA.project."""
    from digitlens.analysis.maps import fit_pca

    model = nets["tanh"]
    export_json(model, tmp_path / "net.json")
    x = sample.test_images.reshape(-1, 784).astype(np.float32)[:200] / 255
    for layer in range(model.n_layers - 1):
        h = model.trace(x).activations[layer + 1]
        pca = fit_pca(h)
        out = run_engine(tmp_path, {"network": str(tmp_path / "net.json"), "inputs": b64(x),
                                    "projection": {"layer": layer, "mean": pca.mean.tolist(),
                                                   "components": pca.components.tolist()}})
        assert "error" not in out, out.get("error")
        # the map point: (h − mean)·componentsᵀ from JS's own activations (within the
        # forward bound of these), so at most bound·|components| apart, plus float32 stores
        err = forward_bounds(model, x)[1][layer] @ np.abs(np.asarray(pca.components)).T
        want = pca.project(h)
        assert_within(floats(out["projection"]).reshape(-1, 2), want,
                      err + 4 * U32 * (np.abs(want) + 1), "map point")


@pytest.mark.parametrize("layer", [0, 1])
def test_features_match_python(trained_model: MLP, sample: Dataset, layer: int,
                               tmp_path: Path) -> None:
    """engine.js's encodeFeatures against SAE.encode on the real test digits' activations,
    with an autoencoder trained on the training digits' (k = 4 of 64 features)."""
    from digitlens.analysis.atlas import atlas_of

    sae = atlas_of(trained_model, layer, sample.train_images, sample.test_images,
                   sample.test_labels, n_features=64, k=4, epochs=2).sae
    acts = trained_model.trace(sample.test_images.reshape(len(sample.test_images), -1)
                               ).activations[layer + 1].astype(np.float32)
    out = run_engine(tmp_path, {"sae": {"W_enc": b64(sae.W_enc), "b_enc": b64(sae.b_enc),
                                        "b_dec": b64(sae.b_dec), "k": sae.k,
                                        "activations": b64(acts)}})
    assert "error" not in out, out.get("error")
    js = floats(out["sae"]["values"]).reshape(len(acts), -1)
    want = sae.encode(acts)
    bound = encode_bound(sae, acts)
    pre = (acts.astype(np.float64) - sae.b_dec) @ sae.W_enc.astype(np.float64) + sae.b_enc
    # the kept features agree wherever the k-th and the next value lie further apart than
    # the two sides may differ; elsewhere a tie may be broken either way
    ranked = np.sort(np.maximum(pre, 0), axis=1)[:, ::-1]
    clear = ranked[:, sae.k - 1] - ranked[:, sae.k] > 2 * bound.max(axis=1)
    assert clear.mean() > 0.99
    assert np.array_equal(js[clear] > 0, want[clear] > 0)
    assert_within(js[clear], want[clear], bound[clear], "features")
    for row, active in zip(js, out["sae"]["active"], strict=True):  # strongest first
        assert active == [int(j) for j in np.argsort(-row, kind="stable")[:len(active)]]
        assert np.count_nonzero(row) == len(active) <= sae.k
    assert (js > 0).sum(axis=1).mean() > 1  # the digits do fire features
