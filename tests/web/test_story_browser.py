"""The guided story (the Learn tab) in real Chromium: eight chapters over the explorer's own
views, each highlighting its card; every number a chapter states for a fixed test digit is
recomputed here with the Python engine; the maths level is one tap away; screenshots of each
chapter at 1366×768 and 390×844."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.analysis.attribution import evidence
from digitlens.analysis.inspector import arithmetic
from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from support import forward_bounds, jacobian_bound

from .conftest import Served
from .test_browser import Page

pytestmark = pytest.mark.e2e
FOCUS = [".strip-card", ".network-card", ".network-card", ".evidence-card", ".predict-card",
         ".step-card", ".draw-card", ".network-card"]


def n2(v: float) -> str:
    """learn-text.js's rounding of a stated number."""
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{float(f'{v:.2g}'):g}" if v else "0.0"


def pct(p: float) -> str:
    return f"{100 * p:.1f}%"


@pytest.mark.parametrize("size", [(1366, 768), (390, 844)])
def test_the_story_states_the_networks_own_numbers(size: tuple[int, int], browser: Any,
                                                    served: Served, served_runs: Path,
                                                    sample: Dataset, shots: Path) -> None:
    model = load_model(served_runs / "small")
    k = 7
    p = Page(browser, f"{served.url}?test={k}&tab=learn", viewport=size)
    try:
        p.settle()
        x = sample.test_images[k].ravel().astype(np.float32) / 255
        t = model.trace(x)
        probs = t.probabilities[0]
        c1, c2 = (int(c) for c in np.argsort(-probs, kind="stable")[:2])
        j = int(np.argmax(t.activations[1][0]))
        ar = arithmetic(model, 0, j, x).to_dict()
        e = evidence(model, x, ink_only=True)
        ev = e.contributions[:, c1]
        w = model.weights[0][:, j]
        # every number the story states, recomputed here (the page keeps them in story.facts)
        f = p.js("window.digitlens.story.facts")
        expected = {
            "pixels": 784, "shape": "28×28", "inked": int(np.sum(x > 0)),
            "brightest": float(x.max()), "neuron": f"neuron 0:{j}", "layer0": j,
            "sum": ar["sum"], "bias": ar["bias"], "z": ar["z"], "value": ar["value"],
            "activation": "relu", "active": ar["n_active"], "sizes": "784-32-16-10",
            "params": int(model.params.size), "answer": str(c1), "second": str(c2),
            "p": float(probs[c1]), "p2": float(probs[c2]), "z1": float(t.zs[-1][0, c1]),
            "z2": float(t.zs[-1][0, c2]), "classes": 10, "push": float(ev[ev > 0].sum()),
            "pull": float(ev[ev < 0].sum()), "score": float(e.scores[c1]),
            "loss": -math.log(probs[c1]), "lossSecond": -math.log(probs[c2]),
            "like": float(w.max()), "hate": float(w.min()),
            "likeRow": int(np.argmax(w)) // 28, "likeCol": int(np.argmax(w)) % 28,
            "hateRow": int(np.argmin(w)) // 28, "hateCol": int(np.argmin(w)) % 28}
        # the page's engine adds in float64, this trace in float32 in BLAS's order (which
        # depends on the CPU): the scores, probabilities and evidence sums may differ by their
        # forward/Jacobian bounds on top of 1e-4 relative for the page's float32 stores; the
        # arithmetic's sums are float64 over exact pixels on both sides
        zb, ab = forward_bounds(model, x)
        reach = float((x * jacobian_bound(model, x)[:, c1]).sum())
        slack = {"p": ab[-1][0, c1], "p2": ab[-1][0, c2], "z1": zb[-1][0, c1],
                 "z2": zb[-1][0, c2], "score": zb[-1][0, c1], "push": reach, "pull": reach,
                 "loss": ab[-1][0, c1] / probs[c1], "lossSecond": ab[-1][0, c2] / probs[c2]}
        for key, want in expected.items():
            got = f[key]
            assert got == (pytest.approx(want, rel=1e-4, abs=1e-5 + slack.get(key, 0.0))
                           if isinstance(want, float) else want), key
        counts = [int(np.sum(a[0] > 0)) for a in t.activations[1:-1]]
        assert f["firing"] == ", ".join(
            f"{c} of {n} in layer {i} (hidden)" for i, (c, n) in
            enumerate(zip(counts, model.sizes[1:-1], strict=True)))
        for chapter in range(8):
            assert p.text("story-progress") == f"{chapter + 1} / 8"
            assert p.js(f"document.querySelector('{FOCUS[chapter]}').classList"
                        ".contains('story-focus')")
            text = p.text("story-text")
            if chapter == 0:
                assert f"{expected['inked']} of them" in text
            if chapter in (1, 7):  # the chapter opens its neuron in the inspector
                p.wait(f"document.querySelector('[data-testid=inspector-title]')?.textContent"
                       f".includes('neuron 0:{j}')")
            else:  # and closes it again, so it hides no other card
                p.wait("document.getElementById('inspector').hidden")
            top = p.page.locator(FOCUS[chapter]).bounding_box()["y"]
            assert 0 < top < size[1] - 100, (chapter, top)  # the card talked about is in view
            if chapter == 1:
                assert n2(ar["sum"]) in text and n2(ar["bias"]) in text and n2(ar["value"]) in text
            if chapter == 2:
                assert f["firing"] in text
                assert f"{model.params.size:,} weights" in p.js(
                    "(() => { const s = window.digitlens.story; s.maths = true; s.render(); "
                    "const t = document.querySelector('[data-testid=story-text]').textContent; "
                    "s.maths = false; s.render(); return t; })()")
            if chapter == 3:
                assert n2(float(ev[ev > 0].sum())) in text and n2(float(-ev[ev < 0].sum())) in text
            if chapter == 4:
                assert pct(probs[c1]) in text and pct(probs[c2]) in text
            if chapter == 5:
                assert n2(-math.log(probs[c1])) in text and n2(-math.log(probs[c2])) in text
            if chapter == 6:
                p.wait("/gets \\d+ of 500/.test(document.querySelector("
                       "'[data-testid=story-text]').textContent)")
                text = p.text("story-text")
                y = sample.test_labels.astype(np.int64)
                idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:50] for c in range(10)]))
                right = int(np.sum(model.predict(sample.test_images[idx]) == y[idx]))
                assert f"it gets {right} of 500 test digits right" in text
            if chapter == 7:
                like, hate = int(np.argmax(w)), int(np.argmin(w))
                assert f"row {like // 28}, column {like % 28}" in text
                assert f"row {hate // 28}, column {hate % 28}" in text
            assert "NaN" not in text and "undefined" not in text
            # the maths, one tap away, and back
            p.page.get_by_test_id("story-level").click()
            maths = p.text("story-text")
            assert maths != text and p.page.get_by_test_id("story-level").get_attribute(
                "aria-pressed") == "true"
            p.page.get_by_test_id("story-level").click()
            name = f"story-{chapter + 1}-{size[0]}x{size[1]}.png"
            p.page.screenshot(path=str(shots / name))
            if chapter < 7:
                p.page.get_by_test_id("story-next").click()
        assert p.page.get_by_test_id("story-next").is_disabled()
        p.page.get_by_test_id("story-prev").click()
        assert p.text("story-progress") == "7 / 8"
        # the explore tab closes the story and its highlight
        p.page.get_by_test_id("tab-explore").click()
        assert p.page.get_by_test_id("story").is_hidden()
        assert p.js("document.querySelectorAll('.story-focus').length") == 0
        assert p.errors == [], p.errors
    finally:
        p.close()


def test_the_story_of_a_network_without_hidden_layers(browser: Any, served: Served) -> None:
    """S1's single-layer net (784-10): every chapter still reads as sentences."""
    p = Page(browser, f"{served.url}?run=single&test=3&tab=learn", viewport=(1366, 768))
    try:
        p.settle()
        for chapter in range(8):
            for _level in range(2):  # plain words, then the maths
                text = p.text("story-text")
                assert text and "NaN" not in text and "undefined" not in text, (chapter, text)
                assert ",  " not in text and " ." not in text, text
                p.page.get_by_test_id("story-level").click()
            if chapter < 7:
                p.page.get_by_test_id("story-next").click()
        assert "no hidden layer" in p.js("window.digitlens.story.facts.firing")
        # and a step on it: one layer of error signal, one of weight changes
        p.page.get_by_test_id("step-label").select_option("5")
        p.page.get_by_test_id("step-go").click()
        p.wait("window.digitlens.stepLab.last !== undefined")
        assert float(p.text("step-loss-after")) < float(p.text("step-loss-before"))
        assert p.page.get_by_test_id("step-deltas").locator("canvas").count() == 1
        assert p.page.locator(".step-neurons canvas").count() == 6
        assert p.errors == [], p.errors
    finally:
        p.close()
