"""A convolutional network from Python: ``dl.load`` of its run folder, its ONNX graph and a
PyTorch state_dict with ``arch``; ``dl.predict``, ``dl.attribute``, ``dl.nudge`` and
``dl.dream`` give the engine's (and the CLI's) answers; its views draw; the questions that read
neurons refuse it in one line that says why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import digitlens as dl
from digitlens.errors import ModelError
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN
from support import torch_or_skip

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(cnn_runs: Path) -> dl.LoadedRun:
    return dl.load(cnn_runs / "lenet", dataset="mnist-sample")


def test_a_cnn_run_answers_every_question_that_reads_class_scores(run: dl.LoadedRun,
                                                                  cnn_runs: Path) -> None:
    assert isinstance(run.model, CNN) and "conv 6@5×5" in repr(run) and "epochs" in repr(run)
    x = run.dataset.test_images[0]
    p = dl.predict(run, x)
    want = K.predict_proba(run.model, x.reshape(1, -1))[0]
    np.testing.assert_allclose(p.probabilities, want, rtol=1e-6)
    assert p.digit == int(want.argmax()) and p.input.shape == (28, 28)
    a = dl.attribute(run, index=2)
    assert a.completeness_error < 0.02 and a._repr_png_().startswith(PNG)
    n = dl.nudge(run, index=1, target=4)
    assert n.flipped and n.to == 4 == int(K.predict_proba(run.model, n.adversarial).argmax())
    cli = subprocess.run([sys.executable, "-m", "digitlens", "nudge", str(cnn_runs / "lenet"),
                          "--test-index", "1", "--target", "4", "--dataset", "mnist-sample",
                          "--json"], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    got = json.loads(cli.stdout.strip().splitlines()[-1])
    assert (got["from"], got["to"]) == (n.source, n.to)
    assert got["l2"] == pytest.approx(n.l2, rel=1e-6)
    d = dl.dream(run, target=3, steps=30)
    assert d.activation > d.start_activation and "class 3" in repr(d)
    same = dl.compare(run, run)
    assert same.matched == "kernels" and all(s == pytest.approx(1) for _, _, s in same.matches)
    for picture in (dl.views.filters(run), dl.views.feature_maps(run, digit=7),
                    dl.views.nudge(run, index=0), same.picture()):
        assert picture._repr_png_().startswith(PNG)


@pytest.mark.parametrize(("ask", "what"), [
    (lambda r: dl.map(r), "dl.map"),
    (lambda r: dl.circuit(r, index=0), "dl.circuit"),
    (lambda r: dl.step(r, index=0, label=3), "dl.step"),
    (lambda r: dl.views.fingerprints(r, image=r.dataset.test_images[0]),
     "dl.views.fingerprints"),
])
def test_questions_of_neurons_say_why_a_cnn_has_none(run: dl.LoadedRun, ask, what: str) -> None:
    with pytest.raises(ModelError) as err:
        ask(run)
    text = str(err.value)
    assert text.startswith(what) and "is convolutional" in text and "dl.attribute" in text
    assert "\n" not in text


def test_a_cnn_loads_from_onnx_and_from_a_state_dict_with_its_arch(run: dl.LoadedRun,
                                                                    tmp_path: Path) -> None:
    from digitlens.export.onnx_cnn import export_cnn_onnx
    model = run.model
    assert isinstance(model, CNN)
    onnx = dl.load(export_cnn_onnx(model, tmp_path / "lenet.onnx"), dataset="mnist-sample")
    assert isinstance(onnx.model, CNN)
    np.testing.assert_array_equal(onnx.model.params, model.params)
    torch = torch_or_skip()
    state = {}
    names = ["0", "3", "7", "9", "11"]  # nn.Sequential's indices of LeNet's weighted layers
    for name, w, b in zip(names, model.weights, model.biases, strict=True):
        state[f"{name}.weight"] = torch.tensor(w if w.ndim == 4 else w.T)
        state[f"{name}.bias"] = torch.tensor(b)
    torch.save(state, tmp_path / "lenet.pt")
    sd = dl.load(tmp_path / "lenet.pt", dataset="mnist-sample", arch="lenet5")
    assert isinstance(sd.model, CNN)
    x = run.dataset.test_images[:20]
    np.testing.assert_allclose(K.predict_proba(sd.model, x), K.predict_proba(model, x),
                               rtol=1e-6, atol=1e-7)
    with pytest.raises(dl.DigitlensError, match="arch"):
        dl.load(tmp_path / "lenet.pt", arch="alexnet")


def test_dl_train_trains_a_lenet_with_its_kernels_on_the_monitor(tmp_path: Path) -> None:
    mon = dl.TrainingMonitor()
    run = dl.train(preset="lenet5", epochs=1, out=tmp_path / "lenet", dataset="mnist-sample",
                   progress=False, monitor=mon, threads=1)
    assert isinstance(run.model, CNN) and len(run.history) == 1
    assert mon.epochs == [1] and mon.accuracy == [run.history[0]["test_accuracy"]]
    assert mon.mosaic.startswith("data:image/png;base64,")
    import base64
    from io import BytesIO

    from PIL import Image

    from digitlens.render.views.convolution import filters
    drawn = Image.open(BytesIO(base64.b64decode(mon.mosaic.split(",", 1)[1])))
    assert drawn.size == filters(run.model).size  # the kernels view, not a weight mosaic
