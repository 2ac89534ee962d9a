"""One gradient step in the explorer, in real Chromium: served by ``digitlens serve`` and as
the single-file explorer. A test digit 3 is taught that it is an 8; the loss, the
probabilities every view then draws, and the accuracy on the test digits before and after are
checked against the Python engine (``digitlens.nn.onestep``, training's own step). Undo, bad
learning rates and a blank pad; screenshots at 1366×768 and 390×844."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.onestep import one_step
from support import forward_bounds

from .conftest import Served
from .test_browser import ONE, Page

pytestmark = pytest.mark.e2e


def balanced(sample: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The first 50 test digits of each class: the digits the step's accuracy is measured on."""
    y = sample.test_labels.astype(np.int64)
    idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:50] for c in range(10)]))
    return sample.test_images[idx].reshape(len(idx), -1).astype(np.float32) / 255, y[idx]


def ring_colour(p: Page, layer: int, k: int) -> list[int]:
    """Strongly red and strongly blue pixels on the diagram from neuron (layer, k)'s centre
    20 layout pixels to the right (through its ring)."""
    return list(p.js(f"""(() => {{
      const dg = document.getElementById('diagram'), r = dg.getBoundingClientRect();
      const [cx, cy] = window.digitlens.neuronPoint({layer}, {k}), s = dg.width / r.width;
      const row = dg.getContext('2d').getImageData(Math.round((cx - r.left) * s),
        Math.round((cy - r.top) * s), Math.round(20 * s), 1).data;
      let red = 0, blue = 0;
      for (let i = 0; i < row.length; i += 4) {{
        if (row[i] > row[i + 2] + 60) red++;
        if (row[i + 2] > row[i] + 60) blue++;
      }}
      return [red, blue]; }})()"""))


def teach(p: Page, label: int, lr: str, optimizer: str = "sgd") -> None:
    p.page.get_by_test_id("step-optimizer").select_option(optimizer)
    p.page.get_by_test_id("step-label").select_option(str(label))
    p.page.get_by_test_id("step-lr").fill(lr)
    p.page.get_by_test_id("step-go").click()


def check_step(p: Page, model: MLP, sample: Dataset, label: int, lr: float) -> MLP:
    """The page's step against Python's on the input the page fed; returns the stepped model."""
    p.wait("window.digitlens.stepLab.last !== undefined")
    x = np.array(p.js("Array.from(window.digitlens.stepLab.last.before.input)"), np.float32)
    ref = one_step(model, x, label, lr, "sgd")
    last = p.js("{b: window.digitlens.stepLab.last.loss_before, "
                "a: window.digitlens.stepLab.last.loss_after}")
    # the page's loss adds in float64 (float32 stores, ≲ 10u): against the float64 loss no
    # order chosen by the CPU enters
    assert last["b"] == pytest.approx(model.loss_and_gradient(x, np.array([label]))[0],
                                      rel=1e-4)
    # after the step: the page's and Python's parameters differ by their float32 gradients'
    # difference times lr (see test_gradient), which moves the loss by ≲ 1e-3 of it
    assert last["a"] == pytest.approx(ref.loss_after, rel=1e-3, abs=1e-6)
    # shown with 2 significant digits: within 5% of the value
    assert float(p.text("step-loss-before")) == pytest.approx(max(ref.loss_before, 0), rel=0.05)
    assert float(p.text("step-loss-after")) == pytest.approx(max(ref.loss_after, 0), rel=0.05)
    p.settle()  # every view now draws the stepped network
    probs = np.array(p.js("Array.from(window.digitlens.last.probabilities)"))
    # the page's stepped parameters within ~1e-3 of the step of Python's (see test_gradient),
    # and its float64-summed pass against Python's float32 one: the forward bound on top
    assert np.all(np.abs(probs - ref.probabilities_after)
                  <= 1e-4 + forward_bounds(ref.model, x)[1][-1][0])
    # accuracy on the 500 test digits, before and after, as Python counts it
    p.wait("/→ \\d+ \\(/.test(document.querySelector('[data-testid=step-accuracy]').textContent)")
    xs, ys = balanced(sample)
    counts = [int(m) for m in re.findall(r"(\d+) \(", p.text("step-accuracy"))]
    before, after = model.predict(xs), ref.model.predict(xs)
    assert counts == [int(np.sum(before == ys)), int(np.sum(after == ys))]
    changed = int(np.sum(before != after))
    assert (f"{changed} changed" in p.text("step-accuracy")) == (changed > 0)
    # pictures: an error signal per layer, a weight change per layer, nothing NaN
    assert p.page.get_by_test_id("step-deltas").locator("canvas").count() == model.n_layers
    assert p.page.locator(".step-matrix").count() == model.n_layers
    assert "NaN" not in p.text("step-card")
    return ref.model


def test_teach_a_three_that_it_is_an_eight(browser: Any, served: Served, sample: Dataset,
                                           served_runs: Path, shots: Path) -> None:
    model = load_model(served_runs / "small")
    x = sample.test_images.reshape(-1, 784).astype(np.float32) / 255
    three = int(np.flatnonzero((sample.test_labels == 3) & (model.predict(x) == 3))[0])
    p = Page(browser, f"{served.url}?test={three}", viewport=(1366, 768))
    try:
        p.settle()
        assert p.text("prediction") == "3"
        teach(p, 8, "0.01")
        stepped = check_step(p, model, sample, 8, 0.01)
        assert "1 step taken" in p.text("step-note")
        p.page.get_by_test_id("step-card").scroll_into_view_if_needed()
        p.page.wait_for_timeout(900)  # the error signal's flow back has reached the first layer
        p.page.screenshot(path=str(shots / "step-1366x768.png"))
        # the error signal on the diagram: the taught class ringed blue (its sum should go
        # up), the former answer red (down)
        out = model.n_layers - 1
        assert ring_colour(p, out, 3)[0] > 0 and ring_colour(p, out, 3)[1] == 0
        assert ring_colour(p, out, 8)[1] > 0 and ring_colour(p, out, 8)[0] == 0
        p.page.evaluate("scrollTo(0, 0)")
        p.page.screenshot(path=str(shots / "step-diagram-1366x768.png"))
        # a second step continues from the stepped network
        p.page.get_by_test_id("step-go").click()
        p.wait("window.digitlens.stepLab.history.length === 2")
        check_step(p, stepped, sample, 8, 0.01)
        # undo twice: the trained network's answer again
        p.page.get_by_test_id("step-undo").click()
        p.page.get_by_test_id("step-undo").click()
        p.settle()
        x = np.array(p.js("Array.from(window.digitlens.last.input)"), np.float32)
        probs = np.array(p.js("Array.from(window.digitlens.last.probabilities)"))
        # engine.js (float64 sums, float32 stores) and Python's float32 BLAS
        assert np.all(np.abs(probs - model.trace(x).probabilities[0])
                      <= forward_bounds(model, x)[1][-1][0])
        assert p.page.get_by_test_id("step-undo").is_disabled()
        # bad learning rates: a sentence, no step
        for lr, words in (("0", "learning rate"), ("1e9", "at most 100"), ("", "learning rate")):
            teach(p, 8, lr)
            assert words in p.text("step-note"), (lr, p.text("step-note"))
            assert p.js("window.digitlens.stepLab.history.length") == 0
        # Adam's suggested learning rate; a blank pad has nothing to learn from
        p.page.get_by_test_id("step-optimizer").select_option("adam")
        assert p.page.get_by_test_id("step-lr").input_value() == "0.001"
        p.page.get_by_test_id("clear").click()
        p.settle()
        p.page.get_by_test_id("step-go").click()
        assert "nothing to learn from" in p.text("step-note")
        assert p.errors == [], p.errors
    finally:
        p.close()


def test_phone_layout_of_a_step(browser: Any, served: Served, shots: Path) -> None:
    p = Page(browser, served.url, viewport=(390, 844), touch=False)
    try:
        p.stroke(ONE)
        p.settle()
        teach(p, 7, "0.1")
        p.wait("window.digitlens.stepLab.last !== undefined")
        card = p.page.get_by_test_id("step-card")
        card.scroll_into_view_if_needed()
        p.page.wait_for_timeout(900)
        box = card.bounding_box()
        assert box["width"] <= 390 and box["x"] >= 0
        # nothing in the card is wider than the phone, and no text under 12 px
        wide = p.js("[...document.querySelectorAll('#step-card *')].filter((e) => "
                    "e.getBoundingClientRect().right > 391).map((e) => e.className || e.tagName)")
        assert wide == [], wide
        small = p.js("[...document.querySelectorAll('#step-card *')].filter((e) => "
                     "e.childNodes.length && [...e.childNodes].some((n) => n.nodeType === 3 && "
                     "n.textContent.trim()) && parseFloat(getComputedStyle(e).fontSize) < 12)"
                     ".map((e) => e.tagName + ' ' + e.textContent.slice(0, 20))")
        assert small == [], small
        p.page.screenshot(path=str(shots / "step-390x844.png"))
        card.screenshot(path=str(shots / "step-card-390.png"))
        assert p.errors == [], p.errors
    finally:
        p.close()


def test_a_step_in_the_single_file_explorer(trained_run: Path, sample: Dataset, browser: Any,
                                            tmp_path: Path, shots: Path) -> None:
    out = tmp_path / "explorer.html"
    done = subprocess.run([sys.executable, "-m", "digitlens", "export", str(trained_run),
                           "--format", "html", "--out", str(out), "--dataset", "mnist-sample"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    model = load_model(trained_run)
    p = Page(browser, out.as_uri(), lambda ctx: ctx.set_offline(True), viewport=(1366, 768))
    try:
        p.stroke(ONE)
        p.settle()
        teach(p, 7, "0.05")
        check_step(p, model, sample, 7, 0.05)
        p.page.get_by_test_id("step-card").scroll_into_view_if_needed()
        p.page.wait_for_timeout(900)
        p.page.screenshot(path=str(shots / "step-file-1366x768.png"))
        # the story is there too, and its numbers follow the stepped network
        p.page.get_by_test_id("tab-learn").click()
        for _ in range(6):
            p.page.get_by_test_id("story-next").click()
        p.wait("/gets \\d+ of 500/.test(document.querySelector('[data-testid=story-text]')"
               ".textContent)")
        xs, ys = balanced(sample)
        right = int(np.sum(one_step(model, np.array(p.js(
            "Array.from(window.digitlens.stepLab.last.before.input)"), np.float32), 7, 0.05,
            "sgd").model.predict(xs) == ys))
        assert f"it gets {right} of 500 test digits right" in p.text("story-text")
        assert p.errors == [], p.errors
    finally:
        p.close()
