"""``dl.Explorer`` in a real JupyterLab (started here on a free loopback port, no token, no
browser of its own; the same server serves Jupyter Notebook 7's page) driven by Debian's
Chromium through Playwright: in each front end run the cell, draw a 1 and a 0 with the mouse,
read the prediction on the page and from the kernel (``widget.prediction`` printed by a
follow-up cell), and check both against the Python engine; then click a neuron of the network
diagram and read the selection back from the kernel."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_server import FLAGS, jupyter_lab, open_notebook, run_cell, stroke, write_notebook

from digitlens.data.sources import Dataset
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train
from support import require

pytestmark = pytest.mark.e2e
# Notebook 7's own start-up errors in Chromium (also on a page without any widget)
FRONT_END_NOISE = ("Cannot read properties of undefined (reading 'schema')",
                   "Command 'filebrowser:open-path' not registered.")
SHOTS = os.environ.get("DIGITLENS_SCREENSHOTS")


@pytest.fixture(scope="module")
def lab(sample: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab serving a folder with a run and a notebook that shows the Explorer."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail("jupyterlab is required for the widget test in CI (the dev extra)")
        pytest.skip("jupyterlab not installed")
    root = tmp_path_factory.mktemp("lab")
    config = TrainConfig(layers=(784, 100, 10), epochs=12, batch_size=32, seed=2,
                         dataset="mnist-sample", preset="test-lab")
    train(config, sample, root / "run")
    write_notebook(root / "explorer.ipynb", "import digitlens as dl\nw = dl.Explorer('run')\nw",
                   "print('KERNEL', w.prediction, dl.predict(w.run, w.pixels).digit)",
                   "print('PICKED', w.selected['layer'], w.selected['index'])")
    with jupyter_lab(root) as url:
        yield url


def notebook7_installed() -> bool:
    try:
        import notebook  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("ui", ["lab", "notebook7"])
def test_explorer_in_jupyterlab(lab: str, ui: str) -> None:
    if ui == "notebook7" and not notebook7_installed():
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail("notebook (Jupyter Notebook 7) is required in CI (the dev extra)")
        pytest.skip("notebook not installed")
    chromium = require("chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []

        def note(text: str) -> None:
            if not any(noise in text for noise in FRONT_END_NOISE):
                errors.append(text)
        page.on("pageerror", lambda e: note(str(e)))
        page.on("console", lambda m: note(m.text) if m.type == "error" else None)
        open_notebook(page, lab, "explorer.ipynb", ui)
        run_cell(page, 0)
        canvas = page.locator("[data-testid=dl-canvas]")
        try:
            canvas.wait_for(timeout=60_000)
        except Exception as exc:
            if SHOTS:
                page.screenshot(path=str(Path(SHOTS) / f"{ui}-no-widget.png"))
            raise AssertionError(f"the widget did not render; page errors: {errors}") from exc
        mode = page.locator("[data-testid=dl-mode]").text_content()
        pred = page.locator("[data-testid=dl-prediction]")
        results = {}
        for digit, points in (
            (1, [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)]),
            (0, [(0.5 + 0.22 * math.sin(2 * math.pi * k / 24),
                  0.5 - 0.32 * math.cos(2 * math.pi * k / 24)) for k in range(25)]),
        ):
            page.locator("[data-testid=dl-clear]").click()
            page.wait_for_function("document.querySelector('[data-testid=dl-prediction]')"
                                   ".textContent === '–'", timeout=20_000)
            # where the pad is now: running a cell scrolls the notebook to the next one
            canvas.scroll_into_view_if_needed()
            stroke(page, canvas.bounding_box(), points)
            page.wait_for_function("document.querySelector('[data-testid=dl-prediction]')"
                                   ".textContent !== '–'", timeout=20_000)
            page.wait_for_timeout(400)  # the last change's sync to the kernel
            shown = pred.text_content()
            run_cell(page, 1)
            out = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
            page.wait_for_function(
                "() => { const o = document.querySelectorAll('.jp-Notebook .jp-Cell')[1]"
                ".querySelector('.jp-OutputArea-output'); return o && /KERNEL/.test(o.textContent)"
                " }", timeout=30_000)
            kernel = (out.text_content() or "").split()
            results[digit] = (shown, kernel)
            if SHOTS:
                page.screenshot(path=str(Path(SHOTS) / f"{ui}-explorer-{digit}.png"))
        # a click on a neuron of the network diagram (diagram.js) selects it in the kernel too
        diagram = "document.querySelector('.dl-explorer').dlDiagram"
        page.get_by_test_id("dl-diagram").scroll_into_view_if_needed()
        text_px = page.evaluate(f"() => {diagram}.smallestTextPx()")
        page.mouse.click(*page.evaluate(f"() => {diagram}.clientPoint(1, 7)"))  # layer 0, neuron 7
        page.wait_for_function("() => /neuron 0:7/.test(document.querySelector("
                               "'[data-testid=dl-inspector]').textContent)", timeout=20_000)
        run_cell(page, 2)
        page.wait_for_function(
            "() => { const o = document.querySelectorAll('.jp-Notebook .jp-Cell')[2]"
            ".querySelector('.jp-OutputArea-output'); return o && /PICKED/.test(o.textContent)"
            " }", timeout=30_000)
        picked = (page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea-output")
                  .text_content() or "").split()
        browser.close()
    assert not errors, errors
    assert mode == "computed in this page (engine.js)"
    assert text_px >= 12 and picked == ["PICKED", "0", "7"], (text_px, picked)
    for digit, (shown, kernel) in results.items():
        assert kernel[0] == "KERNEL"
        # the page, the widget's synced prediction and the Python engine on its pixels agree
        assert shown == kernel[1] == kernel[2], (digit, shown, kernel)
        assert shown == str(digit), (digit, shown, kernel)
