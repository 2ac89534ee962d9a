"""Test helpers importable from any test folder (``tests`` is on pytest's pythonpath)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def require(tool: str) -> str:
    """Path of an external program; skip without it, but fail in CI (DIGITLENS_REQUIRE_E2E)."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail(f"{tool} is required for end-to-end tests in CI but is not installed")
        pytest.skip(f"{tool} not installed")
    return path


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser build)."""
    executable = require("chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS,
                                    headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where browser tests save screenshots: ``DIGITLENS_SCREENSHOTS`` keeps them."""
    folder = os.environ.get("DIGITLENS_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def stop_process(proc: subprocess.Popen[str]) -> str:
    """Terminate a server started by a test (kill it if it will not go); its remaining stderr."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err
