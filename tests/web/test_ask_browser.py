"""Asking the net in a real browser: the "make it say" overlay, keeping the nudged digit and
drawing on, the evidence method switch and the inspector's dream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .test_browser import ZERO, Page, page  # noqa: F401  (a fixture)

pytestmark = pytest.mark.e2e


def test_make_it_say_overlay_keep_and_draw_on(page: Page, shots: Path) -> None:  # noqa: F811
    page.stroke(ZERO)
    page.settle()
    before = page.text("prediction")
    target = "6" if before != "6" else "5"
    page.page.get_by_test_id("nudge-target").select_option(target)
    page.page.get_by_test_id("nudge-go").click()
    page.wait("!document.querySelector('[data-testid=nudge-overlay]').hidden")
    assert page.text("nudge-to") == target
    ms = page.js("window.digitlens.nudge.timings[0]")
    assert ms > 0
    page.page.screenshot(path=str(shots / "nudge-overlay.png"), full_page=False)
    box = page.page.get_by_test_id("nudge-overlay").bounding_box()
    pad = page.page.get_by_test_id("draw").bounding_box()
    assert abs(box["x"] - pad["x"]) < 2 and abs(box["width"] - pad["width"]) < 2
    page.page.get_by_test_id("nudge-keep").click()
    page.settle()
    # the kept digit is fed as it is, and the network reads it as asked
    assert page.text("prediction") == target
    last = page.js("Array.from(window.digitlens.last.input)")
    kept = page.js("window.digitlens.nudge.kept.values")
    # the same pixels, kept as the API wrote them (the float32 values, 9 digits) and fed as
    # float32: 1e-3 is far more than their rounding; a digit fed otherwise differs by whole
    # pixels
    np.testing.assert_allclose(last, kept, atol=1e-3)
    assert page.js("document.querySelector('[data-testid=nudge-overlay]').hidden")
    # drawing on: the pad's strokes go over the kept digit and the page preprocesses again
    page.stroke([(60.0, 60.0), (90.0, 70.0), (120.0, 80.0)])
    page.settle()
    assert page.js("window.digitlens.nudge.kept") is None
    assert "stroke" in page.text("source")


def test_nudge_needs_a_drawing(page: Page) -> None:  # noqa: F811
    page.page.get_by_test_id("nudge-go").click()
    page.wait("document.querySelector('[data-testid=nudge-message]') !== null")
    assert "Draw a digit first" in page.text("nudge-message")


def test_evidence_switch_and_dream(page: Page, shots: Path) -> None:  # noqa: F811
    page.stroke(ZERO)
    page.settle()
    page.page.get_by_test_id("evidence-method").select_option("integrated-gradients")
    page.wait("document.getElementById('ev-note').textContent.includes('integrated gradients')")
    assert "completeness error" in page.js("document.getElementById('ev-note').textContent")
    x, y = page.js("window.digitlens.neuronPoint(2, 3)")
    page.page.mouse.click(x, y)
    page.wait("document.querySelector('[data-testid=dream-value]') !== null", 30)
    assert "best training digit" in page.text("dream-value")
    page.page.get_by_test_id("inspector").screenshot(path=str(shots / "dream-inspector.png"))
    page.page.get_by_test_id("evidence-method").select_option("gradient")
    page.wait("!document.getElementById('ev-note').textContent.includes('integrated')")
