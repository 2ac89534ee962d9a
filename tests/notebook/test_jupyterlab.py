"""``dl.Explorer`` in a real JupyterLab (started here on a free loopback port, no token, no
browser of its own) driven by Debian's Chromium through Playwright: run the cell, draw a 1 and
a 0 with the mouse, read the prediction on the page and from the kernel (``widget.prediction``
printed by a follow-up cell), and check both against the Python engine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digitlens.data.sources import Dataset
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train
from support import require

pytestmark = pytest.mark.e2e
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
SHOTS = os.environ.get("DIGITLENS_SCREENSHOTS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cell(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
            "execution_count": None}


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
    nb = {"cells": [cell("import digitlens as dl\nw = dl.Explorer('run')\nw"),
                    cell("print('KERNEL', w.prediction, dl.predict(w.run, w.pixels).digit)")],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (root / "explorer.ipynb").write_text(json.dumps(nb))
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    log = (root / "lab.log").open("wb")
    root_flag = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", *root_flag, "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import urllib.request
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2):  # noqa: S310
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.close()
                raise RuntimeError("JupyterLab did not start: " +
                                   (root / "lab.log").read_text()[-2000:]) from None
            time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def stroke(page: Any, box: dict[str, float], points: list[tuple[float, float]]) -> None:
    """A mouse stroke through points given as fractions of the canvas."""
    def at(p: tuple[float, float]) -> tuple[float, float]:
        return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]
    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(p), steps=4)
    page.mouse.up()


def run_cell(page: Any, index: int) -> None:
    """Shift+Enter in a cell; again if the kernel was not listening yet (the prompt stays
    empty: JupyterLab drops a run asked for while its kernel connection is being made)."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    before = cell.locator(".jp-InputPrompt").text_content()
    for _ in range(6):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        for _ in range(20):
            page.wait_for_timeout(250)
            if cell.locator(".jp-InputPrompt").text_content() != before:
                return
    raise AssertionError(f"cell {index} never ran")


def test_explorer_in_jupyterlab(lab: str) -> None:
    import math

    chromium = require("chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{lab}/lab/tree/explorer.ipynb")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_function("/Idle/.test(document.querySelector('#jp-main-statusbar')"
                               "?.textContent || '')", timeout=60_000)
        run_cell(page, 0)
        canvas = page.locator("[data-testid=dl-canvas]")
        try:
            canvas.wait_for(timeout=60_000)
        except Exception as exc:
            if SHOTS:
                page.screenshot(path=str(Path(SHOTS) / "jupyterlab-no-widget.png"))
            raise AssertionError(f"the widget did not render; page errors: {errors}") from exc
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
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
            stroke(page, box, points)
            page.wait_for_function("document.querySelector('[data-testid=dl-prediction]')"
                                   ".textContent !== '–'", timeout=20_000)
            page.wait_for_timeout(300)  # the last move's answer
            shown = pred.text_content()
            run_cell(page, 1)
            out = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output")
            page.wait_for_function(
                "() => { const o = document.querySelectorAll('.jp-Notebook .jp-Cell')[1]"
                ".querySelector('.jp-OutputArea-output'); return o && /KERNEL/.test(o.textContent)"
                " }", timeout=30_000)
            kernel = out.text_content().split()
            results[digit] = (shown, kernel)
            if SHOTS:
                page.screenshot(path=str(Path(SHOTS) / f"jupyterlab-explorer-{digit}.png"))
        browser.close()
    assert not errors, errors
    assert mode == "computed in this page (engine.js)"
    for digit, (shown, kernel) in results.items():
        assert kernel[0] == "KERNEL"
        # the page, the widget's synced prediction and the Python engine on its pixels agree
        assert shown == kernel[1] == kernel[2], (digit, shown, kernel)
        assert shown == str(digit), (digit, shown, kernel)
