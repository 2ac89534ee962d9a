"""Where the explorer's features meet, in real Chromium against ``digitlens serve``: switching
between models of different depths, a link naming a neuron the model lacks, a kept nudge, the
hidden-space map's legend. Each test fails on the bug it was written for."""

from __future__ import annotations

from typing import Any

import pytest

from digitlens.layout import grid_shape

from .conftest import Served
from .test_browser import ONE, Page

pytestmark = pytest.mark.e2e


def test_switching_models_of_other_depths(browser: Any, served: Served) -> None:  # noqa: F811
    """small (two hidden layers) -> single (none) -> small with a drawing on the pad: the
    former model's answer must not be drawn on the new model's diagram (it threw)."""
    p = Page(browser, served.url, viewport=(1366, 768))
    try:
        p.stroke(ONE)
        p.settle()
        for name in ("single", "small", "single"):
            p.page.get_by_test_id("run").select_option(name)
            p.wait(f"window.digitlens.last && window.digitlens.last.run === '{name}'")
            p.settle()
            assert p.text("prediction") == "1", name
            depth = p.js("window.digitlens.last.activations.length")
            assert depth == (1 if name == "single" else 3)
        p.page.get_by_test_id("diagram").hover()  # the tooltip reads the new model's numbers
        assert p.errors == []
    finally:
        p.close()


def test_link_with_a_neuron_the_model_lacks(browser: Any, served: Served) -> None:  # noqa: F811
    """?n= and ?ko= from another model's link: dropped, not sent (they answered 400)."""
    p = Page(browser, served.url + "?run=single&n=1.7&ko=0.3,1.2")
    try:
        p.settle()
        assert p.js("location.search") == "?run=single"
        assert p.page.get_by_test_id("inspector").is_hidden()
        assert p.page.get_by_test_id("ko-note").is_hidden()
        assert p.errors == []
    finally:
        p.close()


def test_kept_nudge_is_shown_as_fed(browser: Any, served: Served) -> None:  # noqa: F811
    """After "Keep it": the source line names the nudged digit (it said "0 strokes") and the
    strip shows no crop or fit of it (they were blank)."""
    p = Page(browser, served.url, viewport=(1366, 768))
    try:
        p.stroke(ONE)
        p.settle()
        p.page.get_by_test_id("nudge-go").click()
        p.page.get_by_test_id("nudge-keep").click()
        p.wait("window.digitlens.last.preprocessing.source === 'net input'")
        p.settle()
        assert "nudged digit" in p.text("source")
        assert "stroke" not in p.text("source")
        assert p.js("document.getElementById('strip').classList.contains('test')")
        assert not p.page.locator("#s-crop").is_visible()
        assert p.errors == []
    finally:
        p.close()


def test_map_has_a_legend_and_the_page_width(browser: Any, served: Served) -> None:  # noqa: F811
    p = Page(browser, served.url, viewport=(1366, 768))
    try:
        p.stroke(ONE)
        p.settle()
        legend = p.page.get_by_test_id("map-legend")
        legend.wait_for(timeout=15000)
        assert legend.inner_text().split() == [str(d) for d in range(10)]
        card = p.page.locator(".map-card").bounding_box()
        assert card["width"] > 1000  # not squeezed into the drawing pad's column
        assert p.errors == []
    finally:
        p.close()


def test_nudge_with_neurons_switched_off_says_so(browser: Any, served: Served) -> None:  # noqa: F811
    """The server's nudge ignores knock-outs; with some on, the panel says it used them all."""
    p = Page(browser, served.url + "?run=small&ko=0.3")
    try:
        p.stroke(ONE)
        p.settle()
        p.page.get_by_test_id("nudge-go").click()
        p.page.get_by_test_id("nudge-keep").wait_for(timeout=30000)
        assert "whole network" in p.text("nudge-panel")
        p.page.get_by_test_id("nudge-dismiss").click()
        p.page.get_by_test_id("ko-reset").click()
        p.wait("document.querySelector('[data-testid=ko-note]').hidden")
        p.page.get_by_test_id("nudge-go").click()
        p.page.get_by_test_id("nudge-keep").wait_for(timeout=30000)
        assert "whole network" not in p.text("nudge-panel")
        assert p.errors == []
    finally:
        p.close()


def test_training_followed_late_draws_its_epochs(browser: Any, served: Served) -> None:  # noqa: F811
    """The server keeps only the newest epoch's mosaic, so a page whose event stream opens after
    the first epochs replays epochs without one (it threw on them)."""
    p = Page(browser, served.url, viewport=(1366, 768))
    try:
        def late(route: Any) -> None:  # the stream opens once the short run is over
            p.page.wait_for_timeout(4000)
            route.continue_()
        p.page.route("**/events", late)
        p.page.get_by_test_id("tab-train").click()
        form = p.page.get_by_test_id("train-form")
        form.locator("select[name=preset]").select_option("s1-single-layer")
        form.locator("input[name=epochs]").fill("2")
        form.locator("select[name=dataset]").select_option("mnist-sample")
        form.locator("input[name=name]").fill("followed-late")
        p.page.get_by_test_id("train-start").click()
        p.wait("document.querySelector('[data-testid=train-status]').textContent.includes('done')",
               timeout=60)
        assert p.text("train-mosaic-note") == "all 10 first-layer neurons"
        # laid out by layout.grid_shape (10 -> one row of 10), 28×28 tiles 1 px apart
        size = p.page.evaluate("(() => { const c = document.querySelector("
                               "'[data-testid=train-mosaic]'); return [c.width, c.height]; })()")
        rows, cols = grid_shape(10)
        assert size == [cols * 29 - 1, rows * 29 - 1]
        assert p.errors == []
    finally:
        p.close()
