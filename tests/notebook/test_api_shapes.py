"""The Python API and the notebook widget on a model of other data than MNIST: drawn 12×12
shapes, three named classes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import digitlens as dl
from digitlens.data.preprocess import preprocess
from digitlens.nn.io import load_model
from shapes import SHAPES, draw_shape, shapes12, train_small


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dl.LoadedRun:
    ds = shapes12()
    folder = train_small(ds, (16,), tmp_path_factory.mktemp("api-shapes") / "run", epochs=8)
    return dl.LoadedRun(folder, load_model(folder), [], True, _dataset=ds)


def test_predict_reads_images_at_the_models_size(run: dl.LoadedRun) -> None:
    cross = draw_shape(1, np.random.default_rng(3), side=96)  # a big drawing, preprocessed
    p = dl.predict(run, Image.fromarray(cross))
    x = preprocess(cross.astype(np.float32) / 255, (12, 12)).centred
    assert p.input.shape == (12, 12) and np.array_equal(p.input, x)
    t = run.mlp.trace(x)
    assert p.digit == int(t.prediction[0]) and p.class_names == list(SHAPES)
    assert repr(p).startswith(f"<prediction: {SHAPES[p.digit]} (")
    small = run.dataset.test_images[0]  # already 12×12: used as it is
    q = dl.predict(run, small)
    assert np.array_equal(q.input, small / np.float32(255))


def test_views_and_analysis_of_the_run(run: dl.LoadedRun) -> None:
    pic = dl.views.evidence(run, image=run.dataset.test_images[1])
    assert len(pic.data["scores"]) == 3
    assert [img.shape for img in dl.analysis.composed(run).images] == [(16, 12, 12), (3, 12, 12)]
    ev = dl.analysis.evidence(run, run.dataset.test_images[2])
    assert ev.contributions.shape == (144, 3)


def test_kernel_explorer_on_a_12x12_model(run: dl.LoadedRun) -> None:
    w = dl.Explorer(run, compute="kernel")
    assert w.input_shape == [12, 12] and w.class_names == list(SHAPES)
    assert w.image.shape == (12, 12)
    pad = np.kron(draw_shape(0, np.random.default_rng(4)), np.ones((10, 10), np.uint8))
    w.drawing_size = [120, 120]
    w.drawing = pad.tobytes()
    x = preprocess(pad.astype(np.float32) / 255, (12, 12)).centred
    assert w.image.shape == (12, 12)
    np.testing.assert_allclose(w.image, x, atol=1e-4)  # the widget keeps 4 decimals
    assert w.prediction == int(run.mlp.trace(x).prediction[0])
    w.selected = {"layer": 0, "index": 3}
    assert len(w.state["inspector"]["weights"]) == 144
