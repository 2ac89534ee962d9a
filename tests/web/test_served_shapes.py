"""The served explorer and its API on a run of other data than MNIST: drawn 12×12 shapes,
three named classes, written as a custom IDX folder with its classes.txt and trained from it.
The server finds that folder again from the run alone (re-verified), then the real app on a
real server, and the page in real Chromium, through the server loop and the page's own engine."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from digitlens.data.idx import write_idx
from digitlens.data.parts import FILENAMES, PARTS
from digitlens.data.preprocess import preprocess
from digitlens.data.sources import load_dataset
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.web.app import create_app
from digitlens.web.runs import Registry
from shapes import SHAPES, draw_shape, shapes12, train_small
from support import chromium, forward_bounds

from .conftest import ThreadServer
from .helpers import post
from .test_browser import Page

pytestmark = pytest.mark.e2e
CIRCLE = [(140 + 80 * math.cos(2 * math.pi * k / 40), 140 + 80 * math.sin(2 * math.pi * k / 40))
          for k in range(41)]


@pytest.fixture(scope="module")
def served_shapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MLP]]:
    drawn = shapes12()
    base = tmp_path_factory.mktemp("served-shapes")
    folder = base / "shapes12"
    folder.mkdir()
    for part in PARTS:
        write_idx(folder / FILENAMES[part], getattr(drawn, part))
    (folder / "classes.txt").write_text("\n".join(drawn.class_names) + "\n")
    ds = load_dataset(None, folder)
    root = base / "runs"
    model = load_model(train_small(ds, (16, 8), root / "shapes", epochs=8))
    registry = Registry(root)
    app = create_app(registry, allow_training=False, allowed_hosts=["127.0.0.1", "localhost"])
    with ThreadServer(app) as url:
        yield url, model


def test_api_answers_at_the_models_size(served_shapes: tuple[str, MLP]) -> None:
    url, model = served_shapes
    with httpx.Client(base_url=url, timeout=60) as c:
        (run,) = c.get("/api/runs").json()["runs"]
        assert run["input_shape"] == [12, 12] and run["class_names"] == list(SHAPES)
        drawing = draw_shape(1, np.random.default_rng(9), side=96)
        res = post(c, "/api/predict", {"run": "shapes", "width": 96, "height": 96,
                                       "gray": base64.b64encode(drawing.tobytes()).decode()})
        x = preprocess(drawing.astype(np.float32) / 255, (12, 12)).centred
        assert len(res["input"]) == 144
        np.testing.assert_allclose(res["input"], x.ravel(), atol=1e-3)  # 3 decimals (±5e-4)
        assert res["prediction"] == int(model.trace(x).prediction[0])
        assert len(res["evidence"]["contributions"]) == 3
        assert len(res["evidence"]["contributions"][0]) == 144
        blank = post(c, "/api/predict", {"run": "shapes", "pixels": [0.0] * 144})
        assert blank["prediction"] is None
        neuron = post(c, "/api/neuron", {"run": "shapes", "layer": 0, "neuron": 2})
        assert neuron["incoming_shape"] == [12, 12] and len(neuron["composed"]) == 144
        cm = c.get("/api/confusion", params={"run": "shapes"}).json()
        assert np.asarray(cm["confusion_matrix"]).shape == (3, 3)
        assert c.get("/api/runs/shapes/export/xlsx", params={"digit": 2}).status_code == 200
        bad = c.get("/api/runs/shapes/export/xlsx", params={"digit": 3})
        assert bad.status_code == 400 and "an int in 0..2" in bad.json()["error"]


@pytest.mark.parametrize("loop", ["page", "server"])
def test_served_page_draws_and_names_the_classes(loop: str,
                                                 served_shapes: tuple[str, MLP]) -> None:
    url, model = served_shapes
    query = "?compute=server" if loop == "server" else ""
    with chromium() as browser:
        p = Page(browser, f"{url}/{query}", viewport=(1366, 768))
        try:
            p.stroke(CIRCLE)
            p.settle()
            x = np.array(p.js("Array.from(window.digitlens.last.input)"), np.float32)
            assert x.shape == (144,)
            t = model.trace(x)
            assert p.text("prediction") == SHAPES[int(t.prediction[0])] == "circle"
            probs = np.array(p.js("Array.from(window.digitlens.last.probabilities)"))
            # engine.js (float64 sums, float32 stores) and Python's float32 BLAS
            assert np.all(np.abs(probs - t.probabilities[0])
                          <= forward_bounds(model, x)[1][-1][0])
            assert p.page.locator("#bars li b").all_inner_texts() == list(SHAPES)
            assert p.js("document.getElementById('s-centred').width") == 12
            via = p.js("window.digitlens.via")  # who computed it: the page, or the server
            assert (via["page"] > 0) == (loop == "page")
            # the test-set tab speaks of images and classes, not digits
            p.page.get_by_test_id("tab-test").click()
            p.wait("document.getElementById('gallery-title').textContent.includes('test images')")
            assert "rows: true class" in p.page.locator("#tab-test .confusion-card h2").inner_text()
            assert p.page.locator("#tab-test .gallery-card h2").inner_text().startswith(
                "Test images")
            assert "test images" in p.page.locator("#test-acc").inner_text()
            assert p.errors == []
        finally:
            p.close()
