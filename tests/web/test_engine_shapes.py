"""engine.js on models of other sizes than MNIST's (8×8 digits, 12×12 three-class shapes)
against the Python engine: the forward pass, evidence, arithmetic, and the drawing box scaled
from MNIST's 20-in-28 (data.preprocess.box_for, preprocess.js's boxFor)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from digitlens.analysis.attribution import evidence
from digitlens.analysis.inspector import arithmetic
from digitlens.data.preprocess import box_for, preprocess
from digitlens.export.json_format import export_json
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from shapes import digits8, shapes12, train_small
from support import U32, assert_within, forward_bounds, jacobian_bound
from web.test_engine import b64, drawing, floats, run_engine

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[MLP, np.ndarray]]:
    """Each model with its test images as float inputs."""
    root = tmp_path_factory.mktemp("shape-nets")
    out = {}
    for name, ds, hidden in (("8x8", digits8(), (32,)), ("12x12", shapes12(), (16, 8))):
        model = load_model(train_small(ds, hidden, root / name))
        out[name] = (model, ds.test_images.reshape(len(ds.test_images), -1) / np.float32(255))
    return out


def test_the_drawing_box_is_mnists_rule_scaled() -> None:
    assert box_for((28, 28)) == (20, 20)
    assert box_for((8, 8)) == (6, 6)        # 20·8/28 = 5.71
    assert box_for((12, 12)) == (9, 9)      # 20·12/28 = 8.57
    assert box_for((16, 32)) == (11, 23)
    assert box_for((1, 1)) == (1, 1)


@pytest.mark.parametrize("name", ["8x8", "12x12"])
def test_engine_matches_python_on_other_sizes(name: str, models: dict[str, tuple[MLP, np.ndarray]],
                                              tmp_path: Path) -> None:
    model, x = models[name]
    export_json(model, tmp_path / "net.json")
    picks = list(range(0, len(x), max(1, len(x) // 20)))
    spots = [(k, layer, int(i)) for k in picks[:5] for layer in range(model.n_layers)
             for i in (0, model.sizes[layer + 1] - 1)]
    out = run_engine(tmp_path, {"network": str(tmp_path / "net.json"), "inputs": b64(x),
                                "evidence": picks, "arithmetic": spots})
    assert "error" not in out, out.get("error")
    t = model.trace(x)
    probs = floats(out["probabilities"]).reshape(len(x), len(model.class_names))
    # JS (float64 sums, float32 stores) and Python's float32 BLAS: the forward bound
    zb, ab = forward_bounds(model, x)
    assert_within(probs, t.probabilities, ab[-1], "JS vs Python")
    assert out["predictions"] == t.prediction.tolist()
    for k in picks:
        ev = evidence(model, x[k], ink_only=True)
        js = out["evidence"][str(k)]
        contrib = floats(js["contributions"]).reshape(model.sizes[-1], model.sizes[0])
        assert js["method"] == ev.method
        # x·(input Jacobian), its sums in other orders (and float32 stores on both sides)
        bound = (x[k][:, None] * jacobian_bound(model, x[k])).T + 4 * U32 * np.abs(
            ev.contributions.T)
        assert_within(contrib, ev.contributions.T, bound, "evidence")
    for k, layer, i in spots:
        py = arithmetic(model, layer, i, x[k]).to_dict()
        js = out["arithmetic"][f"{k}/{layer}/{i}"]
        assert js["n_inputs"] == py["n_inputs"] and abs(js["z"] - py["z"]) <= zb[layer][k, i]


@pytest.mark.parametrize("name", ["8x8", "12x12"])
def test_drawings_are_preprocessed_to_the_models_size_as_python_does(
        name: str, models: dict[str, tuple[MLP, np.ndarray]], tmp_path: Path) -> None:
    model, _ = models[name]
    h, w = model.input_shape
    export_json(model, tmp_path / "net.json")
    rng = np.random.default_rng(12)
    drawings = [drawing(rng)[0] for _ in range(120)] + [np.zeros((64, 64), np.uint8)]
    out = run_engine(tmp_path, {"network": str(tmp_path / "net.json"), "drawings": [
        {"gray": b64(g), "width": g.shape[1], "height": g.shape[0]} for g in drawings]})
    assert "error" not in out, out.get("error")
    same = inked = 0
    worst = 0.0
    bh, bw = box_for((h, w))
    for g, js in zip(drawings, out["drawings"], strict=True):
        pre = preprocess(g.astype(np.float32) / 255, (h, w))
        assert pre.centred.shape == pre.raw28.shape == (h, w)
        assert js["has_ink"] == pre.has_ink
        assert len(floats(js["centred"])) == len(floats(js["raw28"])) == h * w
        if not pre.has_ink:
            assert not floats(js["centred"]).any()
            continue
        inked += 1
        assert js["bbox"] == list(pre.bbox) and js["offset"] == list(pre.offset)
        fh, fw = pre.fitted.shape  # the fitted drawing fills its box on its longer side
        assert fh <= bh and fw <= bw and (fh == bh or fw == bw)
        worst = max(worst, float(np.abs(floats(js["centred"]) - pre.centred.ravel()).max()))
        same += js["prediction"] == int(model.trace(pre.centred).prediction[0])
    print(f"\nengine preprocessing {name}: {inked} drawings with ink, centred max |Δ| "
          f"{worst:.2e}, same prediction {100 * same / inked:.1f}%")
    assert inked >= 100 and worst <= 0.02 and same >= math.ceil(0.99 * inked)


def test_engine_refuses_an_input_shape_that_does_not_hold_the_inputs(tmp_path: Path) -> None:
    import json

    model = MLP.create((64, 32, 10), meta={"input_shape": [8, 8]})
    export_json(model, tmp_path / "good.json")
    doc = json.loads((tmp_path / "good.json").read_text())
    assert doc["input"]["shape"] == [8, 8]
    doc["input"]["shape"] = [8, 9]
    (tmp_path / "net.json").write_text(json.dumps(doc))
    out = run_engine(tmp_path, {"network": str(tmp_path / "net.json"),
                                "inputs": b64(np.zeros(64, np.float32))})
    assert out["error"] == ("EngineError: input.shape must be [height, width] of the network's "
                            "64 inputs, got [8,9]")
