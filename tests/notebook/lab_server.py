"""A real JupyterLab on a free loopback port (no token, no browser of its own), and the page
actions the widget test and benchmarks/bench_notebook.py share."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_notebook(path: Path, *sources: str) -> None:
    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "metadata": {}, "source": src, "outputs": [],
         "execution_count": None} for src in sources]
    path.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                                "metadata": {"kernelspec": {"name": "python3",
                                                            "display_name": "Python 3",
                                                            "language": "python"}}}))


@contextmanager
def jupyter_lab(root: Path) -> Iterator[str]:
    """JupyterLab serving ``root``; yields its URL; stops it afterwards."""
    log = (root / "lab.log").open("wb")
    root_flag = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", *root_flag, "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):  # noqa: S310
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError("JupyterLab did not start: " +
                                       (root / "lab.log").read_text()[-2000:]) from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


UIS = {"lab": "lab/tree", "notebook7": "notebooks"}  # front end -> its notebook URL path


def open_notebook(page: Any, url: str, name: str, ui: str = "lab") -> None:
    """Open a notebook in JupyterLab or Notebook 7 (served by the same server); in JupyterLab
    wait until the status bar says the kernel is idle (Notebook 7 has no status bar: run_cell
    retries until the kernel listens)."""
    page.goto(f"{url}/{UIS[ui]}/{name}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    if ui == "lab":
        page.wait_for_function("/Idle/.test(document.querySelector('#jp-main-statusbar')"
                               "?.textContent || '')", timeout=60_000)


def run_cell(page: Any, index: int) -> None:
    """Shift+Enter in a cell; again if the kernel was not listening yet (the prompt stays
    empty: JupyterLab drops a run asked for while its kernel connection is being made)."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    before = cell.locator(".jp-InputPrompt").text_content()
    for _ in range(6):
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        for _ in range(20):
            page.wait_for_timeout(250)
            if cell.locator(".jp-InputPrompt").text_content() != before:
                return
    raise AssertionError(f"cell {index} never ran")


def stroke(page: Any, box: dict[str, float], points: list[tuple[float, float]],
           steps: int = 4) -> None:
    """A mouse stroke through points given as fractions of the canvas."""
    def at(p: tuple[float, float]) -> tuple[float, float]:
        return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]
    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(p), steps=steps)
    page.mouse.up()
