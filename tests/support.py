"""Test helpers importable from any test folder (``tests`` is on pytest's pythonpath)."""

from __future__ import annotations

import os
import shutil

import pytest


def require(tool: str) -> str:
    """Path of an external program; skip without it, but fail in CI (DIGITLENS_REQUIRE_E2E)."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail(f"{tool} is required for end-to-end tests in CI but is not installed")
        pytest.skip(f"{tool} not installed")
    return path
