"""Test helpers importable from any test folder (``tests`` is on pytest's pythonpath)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# float32's unit roundoff: the relative error of one rounded operation
U32 = 2.0 ** -24


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


def sum_order_bound(n_terms: int, abs_sum: Any) -> np.ndarray:
    """How far apart two float32 sums of the same ``n_terms`` terms may lie when they are added
    in different orders (BLAS kernels and block sizes choose the order, and differ by CPU).

    Each is within γ_n·Σ|term| of the exact sum, γ_n = n·u/(1 − n·u), u = 2⁻²⁴ (Higham, Accuracy
    and Stability of Numerical Algorithms, §3.1), so two orders differ by at most 2·γ_n·Σ|term|.
    A comparison with this tolerance holds on every CPU; one with a fixed ``rtol`` holds on the
    machine it was tried on.
    """
    gamma = n_terms * U32 / (1 - n_terms * U32)
    return 2 * gamma * np.asarray(abs_sum, np.float64)


def dense_bound(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``sum_order_bound`` for a dense layer's pre-activations ``x @ W + b`` (one term per
    input, plus the bias); ReLU, sigmoid and tanh are 1-Lipschitz, so it bounds their outputs
    too."""
    x64 = np.abs(np.asarray(x, np.float64))
    return sum_order_bound(weights.shape[0] + 1, x64 @ np.abs(weights.astype(np.float64))
                           + np.abs(bias.astype(np.float64)))
