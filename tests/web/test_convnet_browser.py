"""A convolutional run in the explorer, in a real Chromium: a 7 drawn with the mouse lights the
feature maps (every map repainted per stroke, the page's numbers Python's for the same input),
a click on a map opens the inspector of that unit whose arithmetic is Python's, knocking out a
channel changes the prediction as zeroing it in Python does, and the page in this mode has
zero axe-core violations and no text under 12 px at a laptop's and a phone's size."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from a11y import axe_violations, describe, small_text
from digitlens.analysis.metrics import evaluate_model
from digitlens.data.sources import load_sample
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN

from .conftest import Served
from .test_accessibility import open_page, wait
from .test_convnet import knocked
from .test_explorer_file import offline

pytestmark = pytest.mark.e2e
LAPTOP, PHONE = (1366, 768), (390, 844)
SEVEN = [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]


@pytest.fixture(scope="module")
def served_cnn(cnn_runs: Path) -> Iterator[Served]:
    s = Served("--runs-dir", str(cnn_runs))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def lenet(lenet_model: CNN) -> CNN:
    return lenet_model


def open_cnn(browser: Any, served: Served, size: tuple[int, int] = LAPTOP) -> Any:
    page = open_page(browser, f"{served.url}?run=lenet", size)
    wait(page, "!!window.digitlens.conv")
    return page


def settle(page: Any) -> None:
    wait(page, "window.digitlens.last !== null && window.digitlens.idle()")
    page.wait_for_timeout(100)


def draw(page: Any, points: list[tuple[float, float]]) -> None:
    box = page.get_by_test_id("draw").bounding_box()
    at = [(box["x"] + box["width"] * a, box["y"] + box["height"] * b) for a, b in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=10)
    page.mouse.up()
    settle(page)


PIXELS_JS = ("([l, c]) => Array.from(document.querySelector("
             "`[data-testid=cnn-map-${l}-${c}] canvas`).getContext('2d')"
             ".getImageData(0, 0, 28, 28).data)")


# the brightest pad pixel under the receptive field's ring (pad canvas pixels, 0..255)
RING_INK_JS = """() => {
  const pad = document.querySelector('[data-testid=draw]');
  const ring = document.getElementById('pad-field');
  const p = pad.getBoundingClientRect(), q = ring.getBoundingClientRect(), k = pad.width / p.width;
  const x = Math.round((q.left - p.left) * k), y = Math.round((q.top - p.top) * k);
  const w = Math.max(1, Math.round(q.width * k)), h = Math.max(1, Math.round(q.height * k));
  const d = pad.getContext('2d').getImageData(x, y, w, h).data;
  let m = 0; for (let i = 0; i < d.length; i += 4) m = Math.max(m, d[i]); return m; }"""


def map_pixels(page: Any, layer: int, channel: int) -> list[int]:
    return list(page.evaluate(PIXELS_JS, [layer, channel]))


def page_input(page: Any) -> np.ndarray:
    return np.array(page.evaluate("() => Array.from(window.digitlens.last.input)"), np.float32)


def python_pass(model: CNN, x: np.ndarray) -> K.Pass:
    return K.forward(model, model.as_input(x[None], np.float64), np.float64)  # float64 oracle


def pages_answer_is_pythons(page: Any, lenet: CNN) -> tuple[np.ndarray, K.Pass, np.ndarray]:
    """The page's first maps and probabilities are Python's for the input it fed the network
    (float32 storage of 25-term sums of float32 inputs and weights: within 1e-5 of float64);
    that input, Python's pass and the page's probabilities."""
    x = page_input(page)
    ref = python_pass(lenet, x)
    conv1 = np.array(page.evaluate("() => Array.from(window.digitlens.last.trace.outputs[1])"))
    np.testing.assert_allclose(conv1, ref.outputs[1][0].transpose(2, 0, 1).ravel(), atol=1e-5)
    probs = np.array(page.evaluate("() => Array.from(window.digitlens.last.probabilities)"))
    np.testing.assert_allclose(probs, ref.output[0], atol=1e-5)
    return x, ref, probs


def check_unit(page: Any, lenet: CNN, ref: K.Pass, r: int, c: int) -> None:
    """The inspector of unit (r, c) of the first convolution's map 3 shows Python's numbers."""
    padded = np.pad(ref.outputs[0][0], ((2, 2), (2, 2), (0, 0)))[r:r + 5, c:c + 5, 0]
    kernel = lenet.weights[0][2, 0].astype(np.float64)
    s = float((padded * kernel).sum())
    b = float(lenet.biases[0][2])
    shown = {k: float(page.get_by_test_id(f"cnn-{k}").locator("b").inner_text())
             for k in ("sum", "bias", "z", "value")}
    # the page shows 3 decimals: within half a unit of the last one (and its own rounding)
    for key, want in (("sum", s), ("bias", b), ("z", s + b), ("value", max(s + b, 0.0))):
        assert shown[key] == pytest.approx(want, abs=6e-4), key
    cells = page.locator("#cnn-inspector td").all()
    assert len(cells) == 25
    for i in (0, 12, 24):
        shown_cell = [float(t) for t in cells[i].inner_text().replace("×", "").split()]
        assert shown_cell == pytest.approx([padded[i // 5, i % 5], kernel[i // 5, i % 5]],
                                           abs=6e-4)


def test_drawing_a_seven_lights_the_maps_and_a_unit_shows_its_patch(
        browser: Any, served_cnn: Served, lenet: CNN) -> None:
    page = open_cnn(browser, served_cnn)
    assert page.get_by_test_id("cnn-card").is_visible()
    assert not page.get_by_test_id("diagram").is_visible()  # the MLP's cards, hidden
    assert page.get_by_test_id("cnn-hidden-note").is_visible()
    label = page.evaluate("() => document.getElementById('run').selectedOptions[0].textContent")
    assert label.startswith("lenet (conv 6-16 · 120-84-10")  # its kernels, then dense layers
    blank = map_pixels(page, 0, 0)
    draw(page, SEVEN[:2])                 # the 7's bar
    bar = [map_pixels(page, 0, c) for c in range(6)]
    draw(page, SEVEN[1:])                 # and its stem: every map repainted
    seven = [map_pixels(page, 0, c) for c in range(6)]
    assert any(s != b for s, b in zip(seven, bar, strict=True)) and seven[0] != blank
    assert sum(max(m) > 0 for m in seven) >= 3  # the edges light several maps
    # the page's maps and answer are Python's for the input the page fed the network
    x, ref, probs = pages_answer_is_pythons(page, lenet)
    assert page.evaluate("() => window.digitlens.last.prediction") == int(ref.output[0].argmax())
    wait(page, "document.getElementById('announce').textContent.startsWith('Reads')")

    # a click on map 3 of the first convolution, a third of the way down and across
    canvas = page.locator("[data-testid=cnn-map-0-2] canvas").bounding_box()
    page.mouse.click(canvas["x"] + canvas["width"] * 0.45, canvas["y"] + canvas["height"] * 0.3)
    wait(page, "!document.getElementById('cnn-inspector').hidden")
    unit = page.evaluate("() => window.digitlens.maps.unit")
    assert (unit["layer"], unit["channel"]) == (0, 2)
    r, c = unit["row"], unit["col"]
    assert (r, c) == (int(0.3 * 28), int(0.45 * 28))
    check_unit(page, lenet, ref, r, c)
    # the same field ringed on the pad: the strokes under the ring are the input's ink there
    field = x.reshape(28, 28)[max(r - 2, 0):r + 3, max(c - 2, 0):c + 3]
    assert field.max() > 0  # the 7's bar runs through it
    assert page.get_by_test_id("pad-field").is_visible()
    assert page.evaluate(RING_INK_JS) > 0
    draw(page, [(0.35, 0.5), (0.6, 0.5)])  # a crossed 7: the open inspector follows it
    x = page_input(page)
    ref = python_pass(lenet, x)
    check_unit(page, lenet, ref, r, c)
    probs = np.array(page.evaluate("() => Array.from(window.digitlens.last.probabilities)"))
    caption = page.get_by_test_id("cnn-inspector").locator("figcaption").inner_text()
    assert f"rows {r - 1}–{r + 3}" in caption or r < 2  # 1-based rows r-2..r+2 of the input

    # knocking out a whole channel: the prediction moves as Python's with that channel zeroed
    drops = [python_pass(knocked(lenet, 0, ch), x).output[0] for ch in range(6)]
    top = int(ref.output[0].argmax())
    channel = int(np.argmin([d[top] for d in drops]))
    page.get_by_test_id(f"cnn-map-0-{channel}").focus()
    page.keyboard.press("Enter")          # the keyboard opens the map's strongest unit
    wait(page, f"window.digitlens.maps.unit.channel === {channel}")
    page.get_by_test_id("cnn-knockout").click()
    settle(page)
    assert page.get_by_test_id("cnn-knockout").get_attribute("aria-pressed") == "true"
    assert page.get_by_test_id("cnn-ko").is_visible()
    # and the test set without that channel, measured by the server on every test digit
    wait(page, "document.querySelector('[data-testid=cnn-ko-accuracy]')?.textContent.length > 2")
    shown = page.get_by_test_id("cnn-ko-accuracy").inner_text()
    ds = load_sample()
    was = evaluate_model(lenet, ds.test_images, ds.test_labels).accuracy
    off = evaluate_model(knocked(lenet, 0, channel), ds.test_images, ds.test_labels).accuracy
    assert f"{100 * was:.1f}% → {100 * off:.1f}%" in shown
    after = np.array(page.evaluate("() => Array.from(window.digitlens.last.probabilities)"))
    np.testing.assert_allclose(after, drops[channel], atol=1e-5)
    assert not np.allclose(after, probs, atol=1e-3)
    assert page.evaluate("() => window.digitlens.last.prediction") == int(drops[channel].argmax())
    page.get_by_test_id("cnn-ko-reset").click()
    settle(page)
    np.testing.assert_allclose(
        page.evaluate("() => Array.from(window.digitlens.last.probabilities)"), probs, atol=1e-7)
    assert not page.errors
    page.context.close()


def test_make_a_lenet_say_three(browser: Any, served_cnn: Served, lenet: CNN) -> None:
    """"Make it say" on a convolutional run: the server's DeepFool through the class scores'
    gradient; the kept digit, fed to the page's network as it is, reads 3, as Python reads it."""
    page = open_cnn(browser, served_cnn)
    draw(page, SEVEN)
    page.get_by_test_id("nudge-target").select_option("3")
    page.get_by_test_id("nudge-go").click()
    wait(page, "!document.querySelector('[data-testid=nudge-overlay]').hidden", 30.0)
    assert page.get_by_test_id("nudge-to").inner_text() == "3"
    page.get_by_test_id("nudge-keep").click()
    settle(page)
    x = page_input(page)
    assert page.evaluate("() => window.digitlens.last.prediction") == 3
    assert int(K.predict_proba(lenet, x[None]).argmax()) == 3
    assert not page.errors
    page.context.close()


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366x768", "390x844"])
def test_cnn_mode_is_accessible(browser: Any, served_cnn: Served, shots: Path,
                                size: tuple[int, int]) -> None:
    page = open_cnn(browser, served_cnn, size)
    found = axe_violations(page)
    assert not found, describe(found)
    draw(page, SEVEN)
    page.get_by_test_id("cnn-map-2-4").click()
    wait(page, "!document.getElementById('cnn-inspector').hidden")
    page.locator(".cnn-kernels summary").nth(1).click()  # the second layer's kernels, opened
    found = axe_violations(page)
    assert not found, describe(found)
    assert not small_text(page)
    page.get_by_test_id("cnn-move-down").click()
    assert page.evaluate("() => document.activeElement.dataset.testid") == "cnn-move-down"
    page.screenshot(path=str(shots / f"cnn-{size[0]}x{size[1]}.png"), full_page=True)
    assert not page.errors
    page.context.close()


def test_single_file_explorer_of_a_lenet_works_offline(browser: Any, cnn_runs: Path,
                                                       lenet: CNN, shots: Path,
                                                       tmp_path: Path) -> None:
    """`digitlens export lenet --format html`: under 4 MB, opened from file:// with every
    request refused, the drawn 7's maps and answer are Python's and a unit's arithmetic too."""
    out = tmp_path / "lenet.html"
    done = subprocess.run([sys.executable, "-m", "digitlens", "export", str(cnn_runs / "lenet"),
                           "--format", "html", "--out", str(out), "--dataset", "mnist-sample",
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 0 < out.stat().st_size <= 4_000_000
    ctx = browser.new_context(viewport={"width": LAPTOP[0], "height": LAPTOP[1]})
    offline(ctx)
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(out.as_uri())
    wait(page, "window.digitlens && window.digitlens.ready && !!window.digitlens.conv", 20.0)
    assert page.get_by_test_id("cnn-card").is_visible()
    assert page.evaluate("() => window.digitlens.problem || ''") == ""
    draw(page, SEVEN)
    x, ref, _ = pages_answer_is_pythons(page, lenet)
    canvas = page.locator("[data-testid=cnn-map-0-2] canvas").bounding_box()
    page.mouse.click(canvas["x"] + canvas["width"] * 0.45, canvas["y"] + canvas["height"] * 0.3)
    wait(page, "!document.getElementById('cnn-inspector').hidden")
    unit = page.evaluate("() => window.digitlens.maps.unit")
    check_unit(page, lenet, ref, unit["row"], unit["col"])
    # a channel knocked out: the accuracy on the page's shipped sample, computed in the page
    page.get_by_test_id("cnn-knockout").click()
    wait(page, "document.querySelector('[data-testid=cnn-ko-accuracy]')?.textContent.length > 2")
    from digitlens.export.html_explorer import balanced_sample
    ds = load_sample()
    idx = balanced_sample(ds)["indices"]
    x8, y = ds.test_images[idx], ds.test_labels[idx]
    before = evaluate_model(lenet, x8, y).accuracy
    after = evaluate_model(knocked(lenet, 0, 2), x8, y).accuracy
    shown = page.get_by_test_id("cnn-ko-accuracy").inner_text()
    assert f"{100 * before:.1f}% → {100 * after:.1f}%" in shown
    page.screenshot(path=str(shots / "cnn-single-file-1366x768.png"))
    assert ctx.requests == [] and not page.errors
    ctx.close()
