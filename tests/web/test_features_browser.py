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


def test_the_circuit_splits_its_gap_over_the_features(browser: Any, served: Served, sae: SAE,
                                                       served_runs: Path, shots: Path) -> None:
    """With the circuit on, the card offers the last hidden layer's atlas; once shown, the gap
    is split over the firing features (featuregap.js) as analysis.feature_gap splits it for
    the page's own activations, within float32 bounds, and a feature's button opens its card."""
    from digitlens.analysis.feature_gap import gap_in_features
    from digitlens.nn.io import load_model
    model = load_model(served_runs / "small")
    p = open_page(browser, served, (1366, 768))
    p.stroke(ZERO)
    p.settle()
    p.page.get_by_test_id("circuit").click()
    p.wait("window.digitlens.why.shown !== null")
    offer = p.page.get_by_test_id("circuit-features-show")
    assert offer.is_visible() and p.page.get_by_test_id("circuit-features").count() == 0
    offer.click()
    p.wait("window.digitlens.features.shown.size === 1")
    p.wait("document.querySelector('[data-testid=circuit-features]') !== null")
    p.settle()
    c = p.js("window.digitlens.why.shown")
    got = p.js("window.digitlens.features.gapOf(window.digitlens.why.shown, "
               "window.digitlens.why.opts.net())")
    t, o = c["target"], c["contrast"]
    # analysis.feature_gap on the input the page's network read: its float32 pass there gives
    # the activations the page's does within float32 rounding (the same weights and input)
    x = np.asarray(p.js("Array.from(window.digitlens.last.input)"), np.float32)
    want = gap_in_features(model, sae, x, t, o)
    acts = np.asarray(c["hidden"], np.float64)
    want_acts = model.trace(x[None]).activations[-2][0].astype(np.float64)
    assert np.abs(acts - want_acts).max() <= 1e-5
    assert sorted(d["feature"] for d in got["terms"]) == sorted(j for j, _, _ in want.terms)
    # each term: the page's feature value (within the encoder's float32 bound) times its
    # decoder row's push, a float64 sum of float32 numbers (a relative 1e-12 is plenty)
    w = model.weights[-1].astype(np.float64)
    push = sae.W_dec.astype(np.float64) @ (w[:, t] - w[:, o])
    features = [d["feature"] for d in got["terms"]]
    f = sae.encode(acts.astype(np.float32)[None])[0].astype(np.float64)
    bound = encode_bound(sae, acts)[features] * np.abs(push[features]) + 1e-9
    assert_within([d["effect"] for d in got["terms"]], f[features] * push[features], bound,
                  "feature terms in Chromium")
    effects = {j: e for j, _, e in want.terms}  # and Python's split of its own pass
    assert max(abs(d["effect"] - effects[d["feature"]]) for d in got["terms"]) <= 1e-4
    mine = [d["effect"] for d in got["terms"]]
    assert mine == sorted(mine, reverse=True)
    for key in ("decoder_bias", "bias_difference", "gap", "missed", "features_sum"):
        assert abs(got[key] - getattr(want, key)) <= 1e-4, key
    # computed each on its own in the page, the parts still make the gap
    total = got["features_sum"] + got["decoder_bias"] + got["missed"] + got["bias_difference"]
    assert abs(total - got["gap"]) <= 1e-9
    assert abs(got["gap"] - c["decomposition"]["direct_sum"]
               - c["decomposition"]["bias_difference"]) <= 1e-9
    # the sentence's buttons: the strongest push towards the answer opens its card
    first = got["terms"][0]["feature"]
    button = p.page.get_by_test_id(f"circuit-feature-{first}")
    assert button.is_visible()
    p.page.get_by_test_id("circuit-features").screenshot(path=str(shots / "circuit-features.png"))
    button.click()
    p.wait(f"window.digitlens.features.card !== null && "
           f"window.digitlens.features.card.feature === {first}")
    assert p.text("feature-title").endswith(f"feature {first}")
    # patching neurons you pick at the layer shown as features: a square is a feature, and a
    # click on it opens its card; it picks no neuron
    p.page.locator("#feat-close").click()
    p.page.get_by_test_id("patch-layer").select_option("1")
    p.page.get_by_test_id("patch-neurons").select_option("picked")
    p.page.get_by_test_id("diagram").scroll_into_view_if_needed()
    x, y = p.js("window.digitlens.neuronPoint(1, 0)")
    p.page.mouse.click(x, y)
    p.wait("window.digitlens.features.card !== null")
    assert p.js("window.digitlens.why.picked") == []
    # the switch back to neurons: the sentence offers the atlas again
    p.page.locator("#feat-close").click()
    p.page.locator("input[name=feat-1][value=neurons]").check()
    p.wait("document.querySelector('[data-testid=circuit-features-show]') !== null")
    assert p.errors == [], p.errors
    p.close()
