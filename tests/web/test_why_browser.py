"""Why this answer, in a real browser: the drawing's circuit ringed on the network diagram and
checked against the server's own answer for the same input, and a test digit patched into the
drawing at a chosen layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_browser import ZERO, Page, page  # noqa: F401  (a fixture)

pytestmark = pytest.mark.e2e

# the page's input as /api/predict takes it, sent to a route of the same server by fetch
ASK = """async ([path, extra]) => {
  const body = {run: "small", ...window.digitlens.why.opts.input(), ...extra};
  const r = await fetch(path, {method: "POST", headers: {"content-type": "application/json"},
                               body: JSON.stringify(body)});
  return r.json();
}"""


def test_circuit_ringed_on_the_diagram_and_patch(page: Page, shots: Path) -> None:  # noqa: F811
    page.stroke(ZERO)
    page.settle()
    prediction = page.text("prediction")
    before = page.page.get_by_test_id("diagram").screenshot()
    page.page.get_by_test_id("circuit").click()
    page.wait("window.digitlens.why.shown !== null")
    shown = page.js("window.digitlens.why.shown")
    assert page.js("window.digitlens.why.opts.diagram.circuit") == shown
    want = page.page.evaluate(ASK, ["api/circuit", {}])
    assert [(n["layer"], n["neuron"]) for n in shown["nodes"]] == \
        [(n["layer"], n["neuron"]) for n in want["nodes"]]
    assert shown["target"] == want["target"] and str(shown["target"]) == prediction
    assert page.text("circuit-count") == "30"
    assert page.text("circuit-restored").endswith("%")
    after = page.page.get_by_test_id("diagram").screenshot()
    assert after != before  # the rings are drawn
    page.page.locator(".network-card").screenshot(path=str(shots / "why-circuit.png"))
    # another contrast: the circuit explains the prediction against that class
    other = "8" if prediction != "8" else "3"
    page.page.get_by_test_id("circuit-contrast").select_option(other)
    page.page.get_by_test_id("circuit").click()
    page.wait(f"window.digitlens.why.shown.contrast === {int(other)}")
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
    mine = sorted(n["neuron"] for n in page.js("window.digitlens.why.shown.nodes")
                  if n["layer"] == 1)
    few = page.js("window.digitlens.why.patched")
    assert sorted(few["patched"]) == mine
    want = page.page.evaluate(ASK, ["api/patch", {"source_index": 3, "layer": 1,
                                                  "neurons": few["patched"]}])
    assert few["probabilities_after"] == want["probabilities_after"]
    page.page.locator(".network-card").screenshot(path=str(shots / "why-patch.png"))
    # a new stroke: the circuit no longer describes the drawing and is cleared
    page.stroke([(60.0, 60.0), (90.0, 70.0), (120.0, 80.0)])
    page.settle()
    assert page.js("window.digitlens.why.shown") is None
    assert page.js("window.digitlens.why.opts.diagram.circuit") is None
    assert page.text("circuit-result") == ""


def test_why_needs_a_drawing_and_says_bad_input(page: Page) -> None:  # noqa: F811
    page.page.get_by_test_id("circuit").click()
    page.wait("document.querySelector('[data-testid=circuit-result]').textContent !== ''")
    assert "Draw a digit first" in page.text("circuit-result")
    page.stroke(ZERO)
    page.settle()
    page.page.get_by_test_id("patch-neurons").select_option("circuit")
    page.page.get_by_test_id("patch").click()
    page.wait("document.querySelector('[data-testid=patch-result]').textContent !== ''")
    assert "Find the circuit first" in page.text("patch-result")
    page.page.get_by_test_id("patch-neurons").select_option("all")
    page.page.get_by_test_id("patch-source").fill("-2")
    page.page.get_by_test_id("patch").click()
    page.wait("document.querySelector('[data-testid=patch-result]').textContent"
              ".includes('by its number')")
