"""The explorer in a real browser (Debian's Chromium through Playwright) against
``digitlens serve``: draw digits with mouse strokes and a finger, inspect a neuron, knock it
out, switch raw vs centred, browse the test set, train from the page, download the model; the
layout at laptop and phone sizes. The drawing loop runs in the page (engine.js): what it shows
is checked against the server's own answer for the same input. Screenshots are saved for
people to look at (``DIGITLENS_SCREENSHOTS=folder`` keeps them)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.web import live
from support import CHROMIUM_FLAGS, forward_bounds

from .conftest import Served

pytestmark = pytest.mark.e2e
FLAGS = CHROMIUM_FLAGS


class Page:
    """A page of the explorer with helpers to draw and wait; it records console errors."""

    def __init__(self, browser: Any, url: str,
                 prepare: Callable[[Any], None] | None = None,
                 viewport: tuple[int, int] = (1440, 1400), touch: bool = False) -> None:
        self.ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                       has_touch=touch, is_mobile=touch)
        if prepare is not None:  # routes and scripts that must be in place before loading
            prepare(self.ctx)
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.predicts: list[str] = []
        self.page.on("request", lambda r: self.predicts.append(r.url)
                     if "/api/predict" in r.url or "/api/live" in r.url else None)
        self.page.goto(url)
        self.wait("window.digitlens && window.digitlens.ready")

    def js(self, expr: str) -> Any:
        return self.page.evaluate(f"() => ({expr})")

    def wait(self, expr: str, timeout: float = 15.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if self.js(expr):
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"timed out waiting for {expr}")

    def settle(self) -> None:
        """Wait until the newest drawing has been predicted and drawn (twice idle in a row,
        so an answer that lands between two looks is not missed)."""
        self.wait("window.digitlens.last !== null")
        for _ in range(2):
            self.page.wait_for_timeout(60)
            self.wait("window.digitlens.idle()")

    def stroke(self, points: Sequence[tuple[float, float]], release: bool = True) -> None:
        box = self.page.get_by_test_id("draw").bounding_box()
        m = self.page.mouse
        m.move(box["x"] + points[0][0], box["y"] + points[0][1])
        m.down()
        for x, y in points[1:]:
            m.move(box["x"] + x, box["y"] + y, steps=3)
        if release:
            m.up()

    def text(self, testid: str) -> str:
        return str(self.page.get_by_test_id(testid).inner_text())

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Page]:
    p = Page(browser, served.url)
    yield p
    errors = p.errors
    p.close()
    assert errors == [], errors


ONE = [(140.0, 45.0 + 9 * k) for k in range(22)]
ZERO = [(140 + 55 * math.sin(t / 20 * 2 * math.pi), 140 - 85 * math.cos(t / 20 * 2 * math.pi))
        for t in range(22)]


def test_draw_one_and_zero(page: Page, shots: Path, served: Served, served_runs: Path) -> None:
    import httpx

    from digitlens.nn.io import load_model

    assert page.text("prediction") == "?" and page.text("confidence") == "draw a digit"
    assert page.page.get_by_test_id("bars").inner_text().count("%") == 0  # no guess shown
    page.stroke(ONE[:12], release=False)  # mid-stroke: the prediction is already live
    page.wait("window.digitlens.renders > 0 && window.digitlens.last.has_ink")
    page.stroke(ONE[12:])
    page.settle()
    assert page.text("prediction") == "1"
    page.page.screenshot(path=str(shots / "draw-1.png"), full_page=True)
    page.page.get_by_test_id("clear").click()
    page.settle()
    assert page.text("prediction") == "?"
    page.stroke(ZERO)
    page.settle()
    assert page.text("prediction") == "0"
    # the page computed every answer itself: no request to the prediction endpoints
    assert page.js("window.digitlens.via.page") > 0 and page.predicts == []
    last = page.js("window.digitlens.last")
    assert last["prediction"] == 0 and max(last["probabilities"]) == last["probabilities"][0]
    # ...and the server, given the same input, says the same: 4 decimals (±5e-5), and its
    # float32 BLAS pass within the forward bound of the page's float64 sums
    x = page.js("Array.from(window.digitlens.last.input)")
    ref = httpx.post(f"{served.url}api/predict", json={"pixels": x, "mode": "raw",
                                                       "include": ["activations"]},
                     timeout=30).json()
    bound = forward_bounds(load_model(served_runs / "small"), np.asarray(x, np.float32))[1][-1]
    assert np.all(np.abs(np.array(ref["probabilities"]) - last["probabilities"])
                  <= 5e-5 + bound[0])
    assert ref["prediction"] == 0
    assert len(page.page.get_by_test_id("evidence").locator("canvas").all()) == 10
    page.page.screenshot(path=str(shots / "draw-0.png"), full_page=True)
    page.page.get_by_test_id("undo").click()
    page.settle()
    assert page.text("prediction") == "?"


def test_inspect_and_knock_out_a_neuron(page: Page, shots: Path) -> None:
    page.stroke(ZERO)
    page.settle()
    page.page.get_by_test_id("diagram").scroll_into_view_if_needed()
    active = page.js("window.digitlens.last.activations[0].findIndex((v) => v > 0.1)")
    x, y = page.js(f"window.digitlens.neuronPoint(0, {active})")
    page.page.mouse.click(x, y)
    page.wait("document.querySelector('[data-testid=inspector-title]') !== null")
    assert page.text("inspector-title") == f"layer 0 (hidden) · neuron 0:{active}"
    value = page.js(f"window.digitlens.last.activations[0][{active}]")
    assert f"ReLU(z) = {value:.4f}" in page.text("arithmetic")
    page.page.get_by_test_id("inspector").scroll_into_view_if_needed()
    page.page.screenshot(path=str(shots / "inspector.png"))
    page.page.get_by_test_id("knockout").check()
    page.wait("!document.querySelector('[data-testid=ko-note]').hidden")
    page.settle()
    assert "1 neuron switched off" in page.text("ko-note")
    assert page.js(f"window.digitlens.last.activations[0][{active}]") == 0
    assert "switched off" in page.text("arithmetic")
    assert f"ko=0.{active}" in page.page.url and f"n=0.{active}" in page.page.url
    page.page.screenshot(path=str(shots / "knockout.png"), full_page=True)
    # the URL reproduces the view
    again = Page(page.page.context.browser, page.page.url)
    try:
        again.wait("document.querySelector('[data-testid=inspector-title]') !== null")
        assert again.text("inspector-title") == f"layer 0 (hidden) · neuron 0:{active}"
        assert again.page.get_by_test_id("knockout").is_checked()
    finally:
        again.close()


def test_raw_versus_centred(page: Page, shots: Path) -> None:
    small_one = [(50.0, 20.0 + 5 * k) for k in range(15)]  # short, in the top-left corner
    page.stroke(small_one)
    page.settle()

    def centre() -> tuple[float, float]:
        x = page.js("window.digitlens.last.input")
        total = sum(x)
        return (sum(v * (i // 28) for i, v in enumerate(x)) / total,
                sum(v * (i % 28) for i, v in enumerate(x)) / total)

    assert page.js("window.digitlens.last.preprocessing.mode") == "centred"
    cy, cx = centre()
    assert abs(cy - 14) < 1 and abs(cx - 14) < 1
    page.page.screenshot(path=str(shots / "centred.png"), full_page=True)
    page.page.get_by_test_id("mode-raw").check()
    page.settle()
    assert page.js("window.digitlens.last.preprocessing.mode") == "raw"
    cy, cx = centre()
    assert cy < 9 and cx < 7  # the raw canvas keeps the digit small and in its corner
    assert "on" in page.page.locator("#f-raw").get_attribute("class")
    assert "mode=raw" in page.page.url
    page.page.screenshot(path=str(shots / "raw.png"), full_page=True)


def test_test_set_browser_loads_a_digit(page: Page, shots: Path) -> None:
    page.page.get_by_test_id("tab-test").click()
    page.page.get_by_test_id("cm-7-7").click()
    page.wait("document.getElementById('gallery-title').textContent.includes('true 7, "
              "predicted 7') && document.querySelectorAll('[data-testid=gallery] canvas')"
              ".length > 0")
    page.page.screenshot(path=str(shots / "test-set.png"))
    first = page.page.get_by_test_id("gallery").locator("canvas").first
    index = int(first.get_attribute("data-index"))
    first.click()
    page.settle()
    assert page.page.locator("#tab-explore").is_visible()
    assert f"Test digit #{index}" in page.text("source")
    assert page.text("prediction") == "7"
    assert page.js("window.digitlens.last.preprocessing.source") == "test"


def test_train_from_the_page(page: Page, shots: Path) -> None:
    page.page.get_by_test_id("tab-train").click()
    form = page.page.get_by_test_id("train-form")
    form.locator("select[name=preset]").select_option("s1-single-layer")
    form.locator("input[name=epochs]").fill("2")
    form.locator("select[name=dataset]").select_option("mnist-sample")
    form.locator("input[name=name]").fill("from-the-page")
    page.page.get_by_test_id("train-start").click()
    page.wait("document.querySelector('[data-testid=train-status]').textContent.includes('done')",
              timeout=60)
    assert "epoch 2/2" in page.text("train-status")
    assert page.page.locator("#run option[value=from-the-page]").count() == 1
    page.page.screenshot(path=str(shots / "train.png"))


def test_a_stopped_training_says_how_to_resume_it(page: Page) -> None:
    """The command that resumes it names the run itself, shown as a command (no backticks)."""
    page.page.get_by_test_id("tab-train").click()
    form = page.page.get_by_test_id("train-form")
    form.locator("select[name=preset]").select_option("s1-single-layer")
    form.locator("input[name=epochs]").fill("50")
    form.locator("select[name=dataset]").select_option("mnist-sample")
    form.locator("input[name=name]").fill("stopped-early")
    page.page.get_by_test_id("train-start").click()
    page.wait("document.querySelector('[data-testid=train-status]').textContent.includes('epoch')",
              timeout=60)
    page.page.locator("#train-stop").click()
    page.wait("document.querySelector('[data-testid=train-status]').textContent.includes('stopped')",
              timeout=60)
    status = page.page.get_by_test_id("train-status")
    assert status.locator("code").inner_text() == "digitlens train --out RUNS/stopped-early"
    assert "`" not in status.inner_text() and "NAME" not in status.inner_text()


def test_no_sweeps_yet_shows_the_command_as_code(page: Page) -> None:
    page.page.get_by_test_id("tab-sweeps").click()
    page.wait("document.getElementById('sweeps').dataset.loaded === 'true'")
    panel = page.page.get_by_test_id("sweeps")
    assert "No sweeps" in panel.inner_text() and "`" not in panel.inner_text()
    assert panel.locator("code").inner_text().startswith("digitlens sweep --out")

def test_png_downloads(page: Page, tmp_path: Path) -> None:
    from PIL import Image

    page.stroke(ONE)
    page.settle()
    for which, size in (("draw", (280, 280)), ("evidence", (10 * (28 * 4 + 8), 28 * 4))):
        with page.page.expect_download() as info:
            page.page.locator(f"button.png[data-png={which}]").click()
        path = tmp_path / f"{which}.png"
        info.value.save_as(path)
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == size
            if which == "draw":  # the white stroke is there on the black canvas
                gray = im.convert("L")
                centre, corner = gray.getpixel((140, 140)), gray.getpixel((20, 20))
                assert isinstance(centre, int) and isinstance(corner, int)
                assert centre > 200 and corner < 30


def test_model_downloads(page: Page, sample: Dataset, served_runs: Path, shots: Path,
                         tmp_path: Path) -> None:
    """The header's links: JSON reads back as the served model; the Excel workbook shows a test
    digit of the class the network predicts for the drawing, and predicts it too."""
    from digitlens.export.json_format import import_json
    from digitlens.nn.io import load_model

    from .helpers import load_xlsx, named

    page.stroke(ONE)
    page.settle()
    assert page.text("prediction") == "1"
    links = page.page.locator("nav.downloads a")
    assert links.all_inner_texts() == ["model.npz", "JSON", "ONNX", "Excel"]
    page.page.screenshot(path=str(shots / "downloads.png"))
    saved = {}
    for which, name in (("json", "small.json"), ("xlsx", "small-digit-1.xlsx")):
        with page.page.expect_download() as info:
            page.page.get_by_test_id(f"download-{which}").click()
        assert info.value.suggested_filename == name
        saved[which] = tmp_path / name
        info.value.save_as(saved[which])
    served = load_model(served_runs / "small")
    assert import_json(saved["json"]).params.tobytes() == served.params.tobytes()
    wb = load_xlsx(saved["xlsx"].read_bytes())
    first_one = int(np.flatnonzero(sample.test_labels == 1)[0])
    np.testing.assert_allclose(named(wb, "input_pixels"), sample.test_images[first_one] / 255,
                               atol=1e-12)  # float64 both sides
    assert named(wb, "predicted_digit")[0, 0] == served.predict(sample.test_images[first_one])[0]


@pytest.mark.parametrize("how", ["refused", "closed"])
def test_falls_back_to_fetch_without_the_socket(browser: Any, served: Served, how: str) -> None:
    """The server loop (``?compute=server``, kept for scripts and benchmarks) draws live by
    fetch when the socket cannot open (the server refuses the handshake, as one without the
    channel does) or is closed by the other end."""
    def prepare(ctx: Any) -> None:
        if how == "refused":
            ctx.add_init_script("window.WebSocket = class extends WebSocket { constructor(url)"
                                " { super(String(url).replace('/api/live', '/api/none')); } };")
        else:
            ctx.route_web_socket("**/api/live", lambda ws: ws.close())

    p = Page(browser, served.url + "?compute=server", prepare)
    try:
        p.stroke(ONE)
        p.settle()
        assert p.text("prediction") == "1"
        assert p.js("window.digitlens.via.socket") == 0
        assert p.js("window.digitlens.via.fetch") > 0
        assert p.js("window.digitlens.computes.length") == 0
        assert [e for e in p.errors if "WebSocket" not in e] == []
    finally:
        p.close()


def test_server_loop_uses_the_live_socket(browser: Any, served: Served) -> None:
    p = Page(browser, served.url + "?compute=server")
    try:
        p.stroke(ONE)
        p.settle()
        assert p.text("prediction") == "1"
        assert p.js("window.digitlens.via.socket" if live.available() else
                    "window.digitlens.via.fetch") > 0
        assert p.js("window.digitlens.via.page") == 0
    finally:
        p.close()


def inside(box: dict[str, float], width: int, height: int) -> bool:
    return (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5
            and box["y"] + box["height"] <= height + 0.5)


def test_laptop_layout_one_screen(browser: Any, served: Served, shots: Path) -> None:
    """1366×768: canvas, prediction and diagram visible together without scrolling; a
    clicked neuron's inspector opens in view, beside the diagram."""
    p = Page(browser, served.url, viewport=(1366, 768))
    try:
        p.stroke(ZERO)
        p.settle()
        for testid in ("draw", "prediction", "bars", "diagram"):
            assert inside(p.page.get_by_test_id(testid).bounding_box(), 1366, 768), testid
        assert p.js("window.scrollY") == 0
        card = p.page.locator(".draw-card").bounding_box()
        png = p.page.locator("button.png[data-png=draw]").bounding_box()
        assert png["x"] + png["width"] <= card["x"] + card["width"] - 8  # inside the card
        active = p.js("window.digitlens.last.activations[0].findIndex((v) => v > 0.1)")
        x, y = p.js(f"window.digitlens.neuronPoint(0, {active})")
        p.page.mouse.click(x, y)
        p.wait("document.querySelector('[data-testid=inspector-title]') !== null", 45)
        p.settle()
        assert p.js("document.getElementById('tip').hidden")  # not left over the inspector
        assert p.js("window.scrollY") == 0
        for testid in ("inspector-title", "arithmetic"):
            assert inside(p.page.get_by_test_id(testid).bounding_box(), 1366, 768), testid
        for testid in ("draw", "clear", "bars"):  # the inspector leaves them in sight
            box = p.page.get_by_test_id(testid).bounding_box()
            top = p.page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest("
                                  "'[data-testid]')?.dataset.testid",
                                  [box["x"] + box["width"] - 3, box["y"] + box["height"] - 3])
            assert top == testid, (testid, top)
        # an output neuron, at the far right, is still clickable with the inspector open
        x, y = p.js("window.digitlens.neuronPoint(2, 3)")
        p.page.mouse.click(x, y)
        p.wait("document.querySelector('[data-testid=inspector-title]').textContent"
               ".startsWith('layer 2 (output) · neuron 2:3')", 45)
        p.page.screenshot(path=str(shots / "laptop-inspector.png"))
        assert p.errors == []
    finally:
        p.close()


def test_phone_layout_and_finger_drawing(browser: Any, served: Served, shots: Path) -> None:
    """390×844 with touch: a short header, canvas and prediction on the first screen, the
    diagram in a box as wide as the screen (its labels stay 12 px: a wider network scrolls
    inside the box, never the page), and a finger draws; a tap on the diagram's small squares
    opens the layer enlarged, where a second tap picks the neuron meant."""
    p = Page(browser, served.url, viewport=(390, 844), touch=True)
    try:
        assert p.page.locator("header").bounding_box()["height"] <= 80
        # a real run's label (a <select> is as wide as its widest option) keeps it short too
        run = "document.getElementById('run')"
        p.js(f"{run}.add(new Option('default (784-512-256-10 · 98.4%)', 'x'))")
        assert p.page.locator("header").bounding_box()["height"] <= 80
        p.js(f"{run}.remove({run}.length - 1)")
        for testid in ("draw", "prediction"):
            assert inside(p.page.get_by_test_id(testid).bounding_box(), 390, 844), testid
        assert p.js("document.documentElement.scrollWidth") <= 390
        wrap = p.page.locator(".diagram-wrap").bounding_box()
        assert wrap["x"] >= 0 and wrap["x"] + wrap["width"] <= 390
        box = p.page.get_by_test_id("draw").bounding_box()
        k = box["width"] / 280
        cdp = p.ctx.new_cdp_session(p.page)
        points = [(box["x"] + x * k, box["y"] + y * k) for x, y in ONE]
        kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
        for kind, (x, y) in zip(kinds, points, strict=True):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        p.settle()
        assert p.text("prediction") == "1"
        p.page.get_by_test_id("diagram").scroll_into_view_if_needed()
        p.page.wait_for_timeout(200)  # the page has stopped moving
        active = p.js("window.digitlens.last.activations[0].findIndex((v) => v > 0.1)")
        x, y = p.js(f"window.digitlens.neuronPoint(0, {active})")
        p.page.touchscreen.tap(x, y)
        p.wait("!document.querySelector('[data-testid=layer-zoom]').hidden")
        p.page.get_by_test_id(f"pick-0-{active}").tap()
        p.wait("document.querySelector('[data-testid=inspector-title]') !== null", 45)
        assert p.text("inspector-title").endswith(f"neuron 0:{active}")
        assert inside(p.page.get_by_test_id("inspector-title").bounding_box(), 390, 844)
        assert p.js("document.documentElement.scrollWidth") <= 390
        p.page.screenshot(path=str(shots / "phone.png"))
        assert p.errors == []
    finally:
        p.close()
