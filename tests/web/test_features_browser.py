"""A hidden layer shown as its features, in a real browser: the neurons/features switch, the
features the page computes for the drawing (engine.js) against the Python autoencoder's, a
click on the diagram opening a feature card, axe-core with the switch on, and screenshots at
laptop and phone sizes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from a11y import axe_violations, describe
from digitlens.analysis.sae import SAE
from digitlens.data.sources import Dataset
from support import assert_within, encode_bound

from .conftest import Served
from .helpers import make_atlas
from .test_browser import ZERO, Page

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sae(served_runs: Path, sample: Dataset) -> SAE:
    """32 features of the small run's layer 1 (16 neurons), 4 kept per digit."""
    return make_atlas(served_runs / "small", sample)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def served(served_runs: Path, sae: SAE) -> Iterator[Served]:  # noqa: ARG001 - the atlas first
    s = Served("--runs-dir", str(served_runs), "--run", str(served_runs / "small"))
    try:
        yield s
    finally:
        s.stop()


def open_page(browser: Any, served: Served, size: tuple[int, int], query: str = "") -> Page:
    return Page(browser, f"{served.url}{query}", viewport=size, touch=size[0] < 500)


def switch_on(p: Page) -> None:
    p.page.get_by_test_id("features-on-1").check()
    p.wait("window.digitlens.features.shown.size === 1")
    p.settle()


@pytest.mark.parametrize("size", [(1366, 768), (390, 844)], ids=["1366x768", "390x844"])
def test_switch_shows_features_and_a_click_opens_a_card(browser: Any, served: Served,
                                                        sae: SAE, shots: Path,
                                                        size: tuple[int, int]) -> None:
    p = open_page(browser, served, size)
    assert p.page.get_by_test_id("features-switch-1").is_visible()
    assert p.page.get_by_test_id("features-switch-0").count() == 0  # no atlas of layer 0
    p.stroke(ZERO)
    p.settle()
    before = p.page.get_by_test_id("diagram").screenshot()
    switch_on(p)
    assert "feat=1" in p.page.url
    assert p.js("window.digitlens.features.opts.diagram.layout.cols[2].n") == sae.k
    assert p.page.get_by_test_id("diagram").screenshot() != before
    # the page's features of its own layer-1 activations, as Python's autoencoder has them
    acts = np.asarray(p.js("Array.from(window.digitlens.last.activations[1])"), np.float32)
    want = sae.encode(acts[None])[0]
    firing = [int(j) for j in np.argsort(-want, kind="stable") if want[j] > 0]
    active = p.js("window.digitlens.features.shown.get(1).view.active")
    assert active == firing and active  # a drawn zero fires some of the 32
    values = p.js("Array.from(window.digitlens.features.shown.get(1).view.values)")
    assert_within(values[:len(active)], want[active], encode_bound(sae, acts)[active],
                  "features in Chromium")
    buttons = p.page.get_by_test_id("features-list-1").locator("button")
    assert buttons.count() == len(active)
    # a click on the strongest feature's square opens its card (on a phone, where the
    # diagram scrolls sideways, its button in the list)
    if size[0] > 500:
        p.page.get_by_test_id("diagram").scroll_into_view_if_needed()
        x, y = p.js("window.digitlens.neuronPoint(1, 0)")
        p.page.mouse.click(x, y)
    else:
        buttons.first.click()
    p.wait("window.digitlens.features.card !== null")
    assert p.js("window.digitlens.features.card.feature") == active[0]
    assert p.text("feature-title").endswith(f"feature {active[0]}")
    assert "of the test digits" in p.text("feature-frequency")
    assert p.text("feature-now").startswith("For your drawing:")
    card = p.js("window.digitlens.features.card.data")
    assert p.page.get_by_test_id("feature-top").locator("canvas").count() == len(card["top_test"])
    assert p.js("window.digitlens.features.shown.get(1).view.selected") == 0
    tag = f"{size[0]}x{size[1]}"
    p.page.screenshot(path=str(shots / f"features-card-{tag}.png"))
    found = axe_violations(p.page)
    assert not found, f"axe-core with the features on at {size}:\n{describe(found)}"
    # a circuit rings its neurons of the other layers, and stays when the neurons come back
    p.page.get_by_test_id("circuit").click()
    p.wait("window.digitlens.why.shown !== null")
    diagram = "window.digitlens.features.opts.diagram"
    assert p.js(f"{diagram}.unviewed({diagram}.circuit).nodes.every((n) => n.layer !== 1)")
    # a neuron's inspector takes the card's place
    p.page.get_by_test_id("layer-open-0").click()
    p.page.get_by_test_id("pick-0-3").click()
    p.wait("window.digitlens.features.card === null && "
           "document.querySelector('[data-testid=inspector-title]') !== null")
    assert p.js("window.digitlens.features.shown.get(1).view.selected") is None
    p.page.locator("#insp-close").click()
    # the switch back shows the neurons
    p.page.get_by_test_id("features-on-1").scroll_into_view_if_needed()
    p.page.locator("input[name=feat-1][value=neurons]").check()
    p.wait("window.digitlens.features.shown.size === 0")
    assert p.js("window.digitlens.features.card") is None
    assert p.js("window.digitlens.features.opts.diagram.layout.cols[2].n") == 16
    assert "feat=" not in p.page.url
    assert p.js(f"{diagram}.circuit === window.digitlens.why.shown")
    assert p.errors == [], p.errors
    p.close()


def test_a_link_opens_the_features_and_the_keyboard_switches(browser: Any,
                                                              served: Served) -> None:
    p = open_page(browser, served, (1366, 768), "?feat=1&lang=de")
    p.wait("window.digitlens.features.shown.size === 1")
    assert p.text("features-switch-1").startswith("Schicht 1 (verborgen) zeigen als")
    assert p.page.get_by_label("Merkmale").is_checked()
    p.page.get_by_label("Merkmale").focus()
    p.page.keyboard.press("ArrowLeft")  # radios: the arrows choose
    p.wait("window.digitlens.features.shown.size === 0")
    p.page.keyboard.press("ArrowRight")
    p.wait("window.digitlens.features.shown.size === 1")
    assert p.errors == [], p.errors
    p.close()
