"""The single-file explorer of a model on other data than MNIST: drawn 12×12 shapes, three
named classes (circle, cross, line), in real Chromium from ``file://`` with no network. The
page draws at the model's size, names the classes, and predicts what the Python engine does
on the same input."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.export.html_explorer import build_html
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from shapes import SHAPES, shapes12, train_small
from support import forward_bounds, screenshot_folder

from .test_browser import Page
from .test_explorer_file import offline

pytestmark = pytest.mark.e2e
CIRCLE = [(140 + 80 * math.cos(2 * math.pi * k / 40), 140 + 80 * math.sin(2 * math.pi * k / 40))
          for k in range(41)]
CROSS = ([(70 + 7 * k, 70 + 7 * k) for k in range(21)],
         [(210 - 7 * k, 70 + 7 * k) for k in range(21)])


@pytest.fixture(scope="module")
def shapes_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[MLP, Dataset, Path]:
    ds = shapes12()
    root = tmp_path_factory.mktemp("shapes-explorer")
    model = load_model(train_small(ds, (16, 8), root / "run", epochs=8))
    page = root / "explorer.html"
    page.write_text(build_html(model, ds, "shapes"))
    return model, ds, page


def check_answer(p: Page, model: MLP) -> str:
    """The page's prediction is a class name and the Python engine's on the page's input."""
    x = np.array(p.js("Array.from(window.digitlens.last.input)"), np.float32)
    assert x.shape == (144,)
    probs = np.array(p.js("Array.from(window.digitlens.last.probabilities)"))
    t = model.trace(x)
    # engine.js (float64 sums, float32 stores) against Python's float32 BLAS: the forward bound
    assert np.all(np.abs(t.probabilities[0] - probs) <= forward_bounds(model, x)[1][-1][0])
    shown = p.text("prediction")
    assert shown in SHAPES and shown == SHAPES[int(t.prediction[0])]
    return shown


@pytest.mark.parametrize("viewport", [(1366, 768), (390, 844)])
def test_three_class_12x12_explorer(viewport: tuple[int, int], browser: Any,
                                    shapes_model: tuple[MLP, Dataset, Path],
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    model, ds, page = shapes_model
    shots = screenshot_folder(tmp_path_factory)
    p = Page(browser, page.as_uri(), offline, viewport=viewport, touch=viewport[0] < 500)
    try:
        p.wait("window.digitlens.renders > 0")
        assert p.text("prediction") == "?"
        bars = p.page.locator("#bars li b").all_inner_texts()
        assert bars == list(SHAPES)
        if viewport[0] < 500:
            p.page.get_by_test_id("draw").scroll_into_view_if_needed()
        p.stroke(CIRCLE)
        p.settle()
        said = check_answer(p, model)
        assert said == "circle"
        # what the network sees is 12×12, fitted in the 9×9 box scaled from MNIST's 20-in-28
        assert p.js("[document.getElementById('s-centred').width, "
                    "document.getElementById('s-centred').height]") == [12, 12]
        assert p.js("[document.getElementById('s-fit').width, "
                    "document.getElementById('s-fit').height]") == [9, 9]
        assert "centred 12×12" in p.page.locator("#f-centred figcaption").inner_text()
        ev = p.page.get_by_test_id("evidence").locator("figure")
        assert ev.count() == 3
        assert [c.split(" · ")[0] for c in ev.locator("figcaption").all_inner_texts()] == \
            list(SHAPES)
        p.page.screenshot(path=str(shots / f"shapes-circle-{viewport[0]}.png"), full_page=True)
        p.page.get_by_test_id("clear").click()
        for line in CROSS:
            p.stroke(line)
        p.settle()
        check_answer(p, model)
        # the inspector's weight images are 12×12 for a first-layer neuron
        p.page.locator("#diagram").scroll_into_view_if_needed()
        x0, y0 = p.js("window.digitlens.neuronPoint(0, 0)")
        p.page.mouse.click(x0, y0)
        p.wait("document.querySelector('[data-testid=inspector-title]') !== null")
        assert p.js("[document.getElementById('insp-in').width, "
                    "document.getElementById('insp-comp').height]") == [12, 12]
        p.page.screenshot(path=str(shots / f"shapes-inspector-{viewport[0]}.png"),
                          full_page=True)
        # the test-set browser names the classes
        p.page.get_by_test_id("tab-test").click()
        p.wait("document.querySelectorAll('[data-testid=cm-2-2]').length > 0")
        assert p.page.get_by_test_id("filter-1").inner_text() == "cross"
        heads = p.page.locator("table.cm tr").first.locator("th").all_inner_texts()
        assert heads[1:] == list(SHAPES)
        p.page.screenshot(path=str(shots / f"shapes-test-{viewport[0]}.png"), full_page=True)
        assert p.ctx.requests == [] and p.errors == []
    finally:
        p.close()
