"""Why this answer, in a real browser: the drawing's circuit ringed on the network diagram,
recomputed in the page as the drawing changes and checked against the server's own answer for
the same input, and a test digit patched into the drawing at a chosen layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Served
from .test_browser import ONE, ZERO, Page, page  # noqa: F401  (a fixture)

pytestmark = pytest.mark.e2e

# the page's input as /api/predict takes it, sent to a route of the same server by fetch
ASK = """async ([path, extra]) => {
  const body = {run: "small", ...window.digitlens.why.opts.input(), ...extra};
  const r = await fetch(path, {method: "POST", headers: {"content-type": "application/json"},
                               body: JSON.stringify(body)});
  return r.json();
}"""
# the server's circuit of exactly the input the page's network read (its own preprocessing)
ASK_SEEN = """async (extra) => {
  const body = {run: "small", net_input: Array.from(window.digitlens.last.input), ...extra};
  const r = await fetch("api/circuit", {method: "POST",
    headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
  return r.json();
}"""
SHOWN = "window.digitlens.why.shown"


def same_circuit(page: Page, extra: dict[str, int] | None = None) -> dict:  # noqa: F811
    """The circuit on display against /api/circuit for the same network input. Both gaps are
    float64 sums over the same float32 weights and inputs (tests/web/test_circuit.py derives
    their bound, ~1e-11 here), so 1e-9 holds; the nodes are the same up to neurons that tie at
    the cut (the small net has 48 hidden neurons for 30 nodes, some of effect 0 on both sides,
    ordered by rounding noise on the server), so those whose effect exceeds the server's
    6-decimal rounding must agree in order."""
    shown = page.js(SHOWN)
    want = page.page.evaluate(ASK_SEEN, extra or {})
    assert want["ok"], want
    assert (shown["target"], shown["contrast"]) == (want["target"], want["contrast"])
    assert abs(shown["gap"] - want["gap"]) <= 1e-9
    clear = [(n["layer"], n["neuron"]) for n in shown["nodes"] if n["effect"] > 1e-5]
    assert clear == [(n["layer"], n["neuron"]) for n in want["nodes"] if n["effect"] > 1e-5]
    assert len(shown["nodes"]) == len(want["nodes"]) == 30
    if [(n["layer"], n["neuron"]) for n in shown["nodes"]] == \
            [(n["layer"], n["neuron"]) for n in want["nodes"]]:
        assert abs(shown["restored"] - want["restored"]) <= 1e-9
        assert abs(shown["removed"] - want["removed"]) <= 1e-9
    return shown


def nodes(c: dict) -> list[tuple[int, int]]:
    return [(n["layer"], n["neuron"]) for n in c["nodes"]]


def test_circuit_follows_the_drawing_and_patch(page: Page, shots: Path) -> None:  # noqa: F811
    page.stroke(ZERO)
    page.settle()
    prediction = page.text("prediction")
    before = page.page.get_by_test_id("diagram").screenshot()
    toggle = page.page.get_by_test_id("circuit")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    page.wait(f"{SHOWN} !== null")
    page.settle()
    shown = same_circuit(page)
    assert page.js("window.digitlens.why.opts.diagram.circuit") == shown
    assert str(shown["target"]) == prediction
    assert page.text("circuit-count") == "30"
    assert page.text("circuit-restored").endswith("%")
    after = page.page.get_by_test_id("diagram").screenshot()
    assert after != before  # the rings are drawn
    page.page.locator(".network-card").screenshot(path=str(shots / "why-circuit.png"))
    # another contrast: the circuit explains the prediction against that class, at once
    other = "8" if prediction != "8" else "3"
    page.page.get_by_test_id("circuit-contrast").select_option(other)
    page.wait(f"{SHOWN}.contrast === {int(other)}")
    same_circuit(page, {"contrast": int(other)})
    page.page.get_by_test_id("circuit-contrast").select_option("")
    page.wait(f"{SHOWN}.contrast !== {int(other)}")
    # patch every neuron of the last hidden layer: the answer becomes the test digit's
    page.page.get_by_test_id("patch-source").fill("3")
    page.page.get_by_test_id("patch-layer").select_option("1")
    page.page.get_by_test_id("patch-neurons").select_option("all")
    page.page.get_by_test_id("patch").click()
    page.wait("window.digitlens.why.patched !== null")
    patched = page.js("window.digitlens.why.patched")
    assert patched["source_index"] == 3 and patched["layer"] == 1
    assert page.text("patch-after") == str(patched["source_prediction"])
    assert len(patched["patched"]) == 16
    # only the circuit's neurons of that layer, as the server answers them
    page.page.get_by_test_id("patch-neurons").select_option("circuit")
    page.page.get_by_test_id("patch").click()
    page.wait("window.digitlens.why.patched.patched.length < 16")
    mine = sorted(n["neuron"] for n in page.js(f"{SHOWN}.nodes") if n["layer"] == 1)
    few = page.js("window.digitlens.why.patched")
    assert sorted(few["patched"]) == mine
    want = page.page.evaluate(ASK, ["api/patch", {"source_index": 3, "layer": 1,
                                                  "neurons": few["patched"]}])
    assert few["probabilities_after"] == want["probabilities_after"]
    page.page.locator(".network-card").screenshot(path=str(shots / "why-patch.png"))
    # drawing on: the circuit follows each change (mid-stroke too); the patch is dropped
    zero = nodes(page.js(SHOWN))
    page.page.get_by_test_id("clear").click()
    page.stroke(ONE[:8], release=False)
    page.settle()
    assert page.js("window.digitlens.why.patched") is None
    assert page.text("patch-result") == ""
    partial = same_circuit(page)
    page.stroke(ONE[8:])
    page.settle()
    one = same_circuit(page)
    assert nodes(one) != zero and nodes(one) != nodes(partial)
    assert page.js("window.digitlens.why.opts.diagram.circuit") == one
    assert page.text("circuit-count") == "30"
    assert len(page.js("window.digitlens.circuits")) >= 3  # timed in the page, each redraw
    # switched off: no circuit on the diagram, none recomputed
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "false"
    assert page.js(SHOWN) is None and page.js("window.digitlens.why.opts.diagram.circuit") is None
    assert page.text("circuit-result") == ""
    page.stroke([(60.0, 60.0), (90.0, 70.0), (120.0, 80.0)])
    page.settle()
    assert page.js(SHOWN) is None


def test_why_needs_a_drawing_and_says_bad_input(page: Page) -> None:  # noqa: F811
    page.page.get_by_test_id("circuit").click()
    page.wait("document.querySelector('[data-testid=circuit-result]').textContent !== ''")
    assert "Draw a digit first" in page.text("circuit-result")
    page.stroke(ZERO)
    page.settle()
    page.wait(f"{SHOWN} !== null")
    prediction = page.text("prediction")
    page.page.get_by_test_id("circuit-contrast").select_option(prediction)
    page.wait(f"{SHOWN} === null")
    assert f"{prediction} is the answer itself" in page.text("circuit-result")
    page.page.get_by_test_id("circuit-contrast").select_option("")
    page.page.get_by_test_id("circuit").click()  # off: the patch has no circuit to take
    page.page.get_by_test_id("patch-neurons").select_option("circuit")
    page.page.get_by_test_id("patch").click()
    page.wait("document.querySelector('[data-testid=patch-result]').textContent !== ''")
    assert "Find the circuit first" in page.text("patch-result")
    page.page.get_by_test_id("patch-neurons").select_option("all")
    page.page.get_by_test_id("patch-source").fill("-2")
    page.page.get_by_test_id("patch").click()
    page.wait("document.querySelector('[data-testid=patch-result]').textContent"
              ".includes('by its number')")


def test_without_the_page_engine_the_server_circuit_follows(browser: Any, served: Served) -> None:
    """``?compute=server`` (no engine in the page): the switched-on circuit is asked of
    /api/circuit, one question at a time, and still follows the drawing."""
    p = Page(browser, served.url + "?compute=server")
    try:
        p.stroke(ZERO)
        p.settle()
        p.page.get_by_test_id("circuit").click()
        p.wait(f"{SHOWN} !== null")
        zero = nodes(p.js(SHOWN))
        assert zero == nodes(p.page.evaluate(ASK, ["api/circuit", {}]))
        p.page.get_by_test_id("clear").click()
        p.stroke(ONE)
        p.settle()
        p.wait(f"JSON.stringify({SHOWN}.nodes) !== {json.dumps(json.dumps(p.js(SHOWN)['nodes']))}")
        p.wait("!window.digitlens.why.asking")
        assert nodes(p.js(SHOWN)) == nodes(p.page.evaluate(ASK, ["api/circuit", {}]))
        assert p.js("window.digitlens.via.page") == 0
        assert p.errors == []
    finally:
        p.close()


def test_neurons_picked_on_the_diagram_are_patched_as_they_are_picked(page: Page) -> None:  # noqa: F811
    """"Neurons you pick": a click on a neuron of the patch layer carries it over from the test
    digit (dashed squares, no inspector) and the patch runs again at once, as /api/patch answers
    for those neurons; a second click, or its ✕, drops it; the layer picker's buttons (the
    keyboard's way) pick too; another layer's neuron still opens the inspector."""
    page.stroke(ZERO)
    page.settle()
    page.page.get_by_test_id("patch-source").fill("3")
    page.page.get_by_test_id("patch-layer").select_option("1")
    page.page.get_by_test_id("patch-neurons").select_option("picked")
    assert page.page.get_by_test_id("patch-picked").is_visible()
    page.page.get_by_test_id("patch").click()
    page.wait("document.querySelector('[data-testid=patch-result]').textContent !== ''")
    assert "Pick neurons of layer 1 (hidden)" in page.text("patch-result")
    page.page.mouse.move(0, 0)  # no hover on the diagram in either picture
    before = page.page.get_by_test_id("diagram").screenshot()
    for k, neuron in enumerate((2, 7, 11)):
        page.page.get_by_test_id("diagram").scroll_into_view_if_needed()
        x, y = page.js(f"window.digitlens.neuronPoint(1, {neuron})")
        page.page.mouse.click(x, y)
        page.wait(f"window.digitlens.why.patched?.patched.length === {k + 1}")
    assert page.js("window.digitlens.why.picked") == [2, 7, 11]
    assert page.js("document.querySelector('[data-testid=inspector-title]')") is None
    page.page.mouse.move(0, 0)
    assert page.page.get_by_test_id("diagram").screenshot() != before  # the dashed squares
    assert page.js("window.digitlens.why.opts.diagram.picked") == [
        {"layer": 1, "neuron": n} for n in (2, 7, 11)]
    got = page.js("window.digitlens.why.patched")
    want = page.page.evaluate(ASK, ["api/patch", {"source_index": 3, "layer": 1,
                                                  "neurons": [2, 7, 11]}])
    assert got["patched"] == [2, 7, 11]
    assert got["probabilities_after"] == want["probabilities_after"]
    assert page.text("patch-result").startswith("Your drawing reads as")
    # a second click drops one; so does its ✕ button, the focus going on to the next one
    x, y = page.js("window.digitlens.neuronPoint(1, 7)")
    page.page.mouse.click(x, y)
    page.wait("window.digitlens.why.patched.patched.length === 2")
    page.page.get_by_test_id("patch-picked-2").focus()
    page.page.keyboard.press("Enter")
    page.wait("window.digitlens.why.patched.patched.length === 1")
    assert page.js("window.digitlens.why.picked") == [11]
    assert page.js("document.activeElement.dataset.testid") == "patch-picked-11"
    # the last one dropped: no neuron carried over, no answer said for one
    page.page.keyboard.press("Enter")
    page.wait("window.digitlens.why.patched === null")
    assert page.text("patch-result") == "" and page.js("window.digitlens.why.picked") == []
    page.page.get_by_test_id("diagram").scroll_into_view_if_needed()
    x, y = page.js("window.digitlens.neuronPoint(1, 11)")
    page.page.mouse.click(x, y)
    page.wait("window.digitlens.why.patched?.patched.length === 1")
    # the layer picker (the keyboard's way to a neuron) picks as a click on the diagram does
    page.page.get_by_test_id("layer-open-1").click()
    page.page.get_by_test_id("pick-1-4").click()
    page.wait("window.digitlens.why.patched.patched.length === 2")
    assert page.js("window.digitlens.why.picked") == [11, 4]
    # a neuron of another layer still opens the inspector
    page.page.get_by_test_id("layer-open-0").click()
    page.page.get_by_test_id("pick-0-3").click()
    page.wait("document.querySelector('[data-testid=inspector-title]') !== null")
    # another patch layer starts the pick again
    page.page.get_by_test_id("patch-layer").select_option("0")
    assert page.js("window.digitlens.why.picked") == []
    assert page.js("window.digitlens.why.opts.diagram.picked") == []
    assert page.errors == [], page.errors
