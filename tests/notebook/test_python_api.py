"""The top-level API (``import digitlens as dl``): return types, errors, and the numbers
checked against the model's own forward pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import digitlens as dl
from digitlens.data.sources import Dataset
from digitlens.errors import DigitlensError, ModelError, ParameterError
from digitlens.nn.mlp import MLP
from digitlens.render.image import Animation, Picture
from support import assert_within, forward_bounds, sum_order_bound

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(trained_run: Path) -> dl.LoadedRun:
    return dl.load(trained_run)


def test_import_is_lazy() -> None:
    """``import digitlens`` loads neither NumPy nor any heavy module; the first use does."""
    code = ("import sys, digitlens as dl; heavy = [m for m in ('numpy', 'PIL', 'anywidget', "
            "'matplotlib', 'digitlens.api') if m in sys.modules]; "
            "dl.load; print(heavy, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[] True"


def test_load_run_folder(run: dl.LoadedRun) -> None:
    assert isinstance(run.model, MLP) and run.model.sizes == (784, 32, 16, 10)
    assert [h["epoch"] for h in run.history] == [1, 2, 3, 4, 5]
    assert isinstance(run.dataset, Dataset) and run.dataset.name == "mnist-sample"
    assert run.is_folder and run.accuracy == run.history[-1]["test_accuracy"]
    assert "784-32-16-10" in repr(run)


@pytest.mark.parametrize("suffix", [".npz", ".json", ".onnx"])
def test_load_model_files_give_the_same_network(run: dl.LoadedRun, tmp_path: Path,
                                                suffix: str) -> None:
    path = tmp_path / f"m{suffix}"
    if suffix == ".npz":
        from digitlens.nn.io import save_model
        save_model(run.mlp, path)
    elif suffix == ".json":
        from digitlens.export.json_format import export_json
        export_json(run.mlp, path)
    else:
        from digitlens.export.onnx_format import export_onnx
        export_onnx(run.mlp, path)
    other = dl.load(path, dataset="mnist-sample")
    assert not other.is_folder and other.history == []
    x = run.dataset.test_images[:50]
    # the file keeps the float32 parameters bit for bit; the same float32 code on the same
    # rows may still sum in another order only within the forward bound
    assert_within(other.mlp.trace(other.mlp.as_input(x)).probabilities,
                  run.mlp.trace(run.mlp.as_input(x)).probabilities,
                  forward_bounds(run.model, x)[1][-1], "loaded file")


def test_not_a_run_is_one_exception_type(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    for bad in (tmp_path / "missing", tmp_path / "empty", tmp_path / "notes.txt"):
        with pytest.raises(dl.NotARunError, match=str(bad.name)):
            dl.load(bad)
    assert issubclass(dl.NotARunError, ModelError) and issubclass(dl.NotARunError, DigitlensError)
    (tmp_path / "broken.npz").write_bytes(b"PK not really")
    with pytest.raises(ModelError, match="broken.npz"):
        dl.load(tmp_path / "broken.npz")


def test_predict_matches_the_forward_pass(run: dl.LoadedRun, tmp_path: Path) -> None:
    img = run.dataset.test_images[3]
    p = dl.predict(run, img)
    x = img.reshape(1, -1).astype(np.float32) / 255
    t = run.mlp.trace(x)
    assert p.digit == int(t.prediction[0])
    # two float32 passes over the same row: within the forward bound
    assert_within(p.probabilities, t.probabilities[0], forward_bounds(run.model, x)[1][-1][0],
                  "dl.predict")
    assert dl.predict(run, img.astype(np.float32) / 255).digit == p.digit
    assert dl.predict(run, list(x[0])).digit == p.digit  # a widget's pixels are a list
    # a file of any size goes through MNIST preprocessing, as `digitlens predict` does
    big = Image.fromarray(255 - np.kron(img, np.ones((5, 5), np.uint8)))  # dark ink on white
    big.save(tmp_path / "d.png")
    from digitlens.data.preprocess import load_image, preprocess
    pre = preprocess(load_image(str(tmp_path / "d.png"))).centred.reshape(1, -1)
    assert dl.predict(run, tmp_path / "d.png").digit == int(run.mlp.trace(pre).prediction[0])
    assert dl.predict(run, np.zeros((28, 28))).digit is None
    with pytest.raises(ParameterError, match="'image'"):
        dl.predict(run, np.full((28, 28), 3.0))
    with pytest.raises(ParameterError, match="'image'"):
        dl.predict(run, {"not": "an image"})


def test_every_view_returns_a_displayable_object(run: dl.LoadedRun, tmp_path: Path) -> None:
    kinds = {}
    for name in dl.views.NAMES:
        options: dict[str, dict[str, Any]] = {"robustness": {"n": 100}, "compare": {"other": run}}
        kw = options.get(name, {})
        v = getattr(dl.views, name)(run, **kw)
        kinds[name] = type(v)
        if isinstance(v, Picture):
            assert v._repr_png_().startswith(PNG)
            assert v.save(tmp_path / f"{name}.png").read_bytes().startswith(PNG)
        else:
            assert isinstance(v, Animation)
            assert 'src="data:image/gif;base64,' in v._repr_html_()
            assert v.save(tmp_path / f"{name}.gif").read_bytes()[:3] == b"GIF"
    assert kinds["evolution"] is Animation and kinds["fingerprints"] is Picture
    anim = dl.views.fingerprints(run, digit=2, animated=True, frames=3)
    assert isinstance(anim, Animation) and anim.n_frames == 3
    assert isinstance(dl.views.evolution(run, epoch=2), Picture)


def test_view_numbers_are_the_forward_pass(run: dl.LoadedRun) -> None:
    ds = run.dataset
    i = int(np.flatnonzero(ds.test_labels == 5)[0])
    fp = dl.views.fingerprints(run, digit=5)
    t = run.mlp.trace(run.mlp.as_input(ds.test_images[i:i + 1]))
    # the view's own float32 pass and this one: within the forward bound
    zb, ab = forward_bounds(run.model, ds.test_images[i:i + 1])
    for got, want, bound in zip(fp.data["activations"], t.activations[1:], ab, strict=True):
        assert_within(got, want[0], bound[0], "fingerprint activations")
    drawn = dl.views.evidence(run, image=ds.test_images[i])
    assert_within(drawn.data["scores"], t.zs[-1][0], zb[-1][0], "evidence scores")


def test_analysis_returns_dataclasses_of_arrays(run: dl.LoadedRun) -> None:
    ds = run.dataset
    ev = dl.analysis.evaluate(run)
    x = run.model.as_input(ds.test_images)
    # a count, float64 both sides
    assert ev.accuracy == pytest.approx(float(np.mean(run.mlp.predict(x) == ds.test_labels)))
    assert isinstance(ev.confusion, np.ndarray) and ev.confusion.sum() == len(ds.test_labels)
    a = dl.analysis.arithmetic(run, layer=1, index=3, image=ds.test_images[0])
    t = dl.analysis.trace(run, ds.test_images[0])
    # float64 arithmetic over a float32 pass against a float32 pass: the forward bound
    bound = forward_bounds(run.model, ds.test_images[0])[1][1][0, 3]
    assert abs(a.value - float(t.activations[2][3])) <= bound
    assert t.prediction == int(run.mlp.predict(run.mlp.as_input(ds.test_images[:1]))[0])
    assert t.probabilities.shape == (10,) and t.zs[0].shape == (32,)  # one image, one answer
    assert a.z == pytest.approx(float(a.terms.sum() + a.bias))  # float64 both sides
    comp = dl.analysis.composed(run)
    # W0·W1 with 32-term float32 sums, in whichever order: 2γ_32·(|W0|·|W1|)
    w0, w1 = (np.abs(w.astype(np.float64)) for w in run.model.weights[:2])
    assert_within(comp.images[1].reshape(16, 784).T, run.model.weights[0] @ run.model.weights[1],
                  sum_order_bound(32, w0 @ w1), "composed")
    assert dl.analysis.class_fingerprints(run).consistency.shape == (3, 10)
    assert dl.analysis.evidence(run, ds.test_images[0]).contributions.shape == (784, 10)
    assert len(dl.analysis.robustness_sweep(run, n=50).shift_raw) > 1
    assert dl.analysis.neuron_report(run, finetune=False).importance.shape == (16,)


def test_train_with_monitor_and_resume(tmp_path: Path) -> None:
    mon = dl.TrainingMonitor()
    out = tmp_path / "r"
    run = dl.train(preset="s1-single-layer", epochs=2, out=out, dataset="mnist-sample",
                   progress=False, monitor=mon)
    assert isinstance(run, dl.LoadedRun) and len(run.history) == 2
    assert mon.epochs == [1, 2] and mon.total == 2
    assert mon.accuracy == [h["test_accuracy"] for h in run.history]
    assert mon.mosaic.startswith("data:image/png;base64,")
    again = dl.train(preset="s1-single-layer", epochs=3, out=out, dataset="mnist-sample",
                     progress=False)
    assert [h["epoch"] for h in again.history] == [1, 2, 3]
    assert json.loads((out / "history.json").read_text())["epochs"][:2] == run.history
    with pytest.raises(DigitlensError, match="preset"):
        dl.train(preset="nope", out=tmp_path / "x")
    with pytest.raises(ParameterError, match="'lr'"):
        dl.train(preset="s1-single-layer", lr=-1, out=tmp_path / "y", dataset="mnist-sample")


def test_explorer_kernel_mode_predicts_a_drawing(run: dl.LoadedRun) -> None:
    """The page sends the pad's grey levels; the kernel answers with the Python engine."""
    w = dl.Explorer(run, compute="kernel")
    assert w.sizes == [784, 32, 16, 10] and w.prediction is None and w.network == ""
    digit = run.dataset.test_images[0]
    pad = np.kron(digit, np.ones((5, 5), np.uint8))  # 140×140, as the pad sends it
    w.drawing_size = [140, 140]
    w.drawing = pad.tobytes()
    from digitlens.data.preprocess import preprocess
    x = preprocess(pad.astype(np.float32) / 255).centred.reshape(1, -1)
    t = run.mlp.trace(x)
    assert w.prediction == int(t.prediction[0])
    np.testing.assert_allclose(w.image.ravel(), x[0], atol=1e-4)  # kept to 4 decimals
    assert len(w.state["activations"]) == 3
    # the diagram's lines: analysis.flow's strongest signals a·w for this drawing
    from digitlens.analysis.flow import strongest_connections
    want = strongest_connections(run.mlp, t, 40)
    assert [[[i, j] for i, j, _ in layer] for layer in w.state["flow"]] == \
        [[[i, j] for i, j, _ in layer] for layer in want]
    assert all(abs(got[2] - v) <= 5e-6 for layer, ref in zip(w.state["flow"], want, strict=True)
               for got, (_, _, v) in zip(layer, ref, strict=True))
    w.selected = {"layer": 0, "index": 5}
    ar = w.state["inspector"]["arithmetic"]
    # the widget's pixels are kept to 4 decimals (±5e-5 each), and two float32 passes
    bound = forward_bounds(run.model, x, x_error=5e-5)[1][0][0, 5]
    assert abs(ar["value"] - float(t.activations[1][0, 5])) <= bound
    w.selected = {"layer": 0, "index": 99}
    assert "error" in w.state["inspector"]


@pytest.mark.e2e
def test_widget_modules_load_in_node(tmp_path: Path) -> None:
    """Each widget's ESM (the page's modules packed in front of the widget's script) is a
    module Node can import, with anywidget's ``render`` as its default export."""
    from digitlens.notebook.explorer import PAGE_MODULES
    from digitlens.notebook.modules import widget_esm
    from digitlens.notebook.monitor import PAGE_MODULES as MONITOR_MODULES
    from support import require
    node = require("node")
    for name, mods in (("explorer", PAGE_MODULES), ("monitor", MONITOR_MODULES)):
        path = tmp_path / f"{name}.mjs"
        path.write_text(widget_esm(name, mods))
        out = subprocess.run([node, "-e", f"import({json.dumps(str(path))}).then(m => "
                              "console.log(typeof m.default.render))"],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "function", out.stderr
    assert "function loadNetwork" in widget_esm("explorer", PAGE_MODULES)


def test_explorer_page_mode_gets_the_exact_network(run: dl.LoadedRun) -> None:
    """Page mode hands engine.js the digitlens-network document with float32 weights as they
    are (base64), so the page computes with the model's own numbers."""
    import base64
    w = dl.Explorer(run)
    assert w.compute == "page" and w.drawing == b""
    doc = json.loads(w.network)
    assert doc["format"] == "digitlens-network" and doc["sizes"] == [784, 32, 16, 10]
    for layer, wt, b in zip(doc["layers"], run.model.weights, run.model.biases, strict=True):
        got = np.frombuffer(base64.b64decode(layer["weights"]["data"]), "<f4")
        np.testing.assert_array_equal(got.reshape(wt.shape[1], wt.shape[0]).T, wt)
        np.testing.assert_array_equal(np.frombuffer(base64.b64decode(layer["biases"]["data"]),
                                                    "<f4"), b)
