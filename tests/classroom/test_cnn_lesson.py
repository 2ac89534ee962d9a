"""A lesson with a convolutional network (LeNet-5): the student's phone shows the explorer's
feature maps in the diagram's place, lit by the drawing (the page's first maps are Python's for
the same input); the server reads each drawing as the page did; a map's unit opens the
inspector, whose knock-out switches that channel off in the page's reading, as zeroing it in
Python does; the page stays accessible (axe-core) with no text under 12 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from a11y import axe_violations, describe, small_text
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN

from .conftest import Classroom
from .test_browser import SEVEN, Tab

pytestmark = pytest.mark.e2e
# the brightest red value of each of the first convolution's six maps on the page
LIT_JS = """() => Array.from(document.querySelectorAll("[data-testid=maps] canvas"))
  .slice(0, 6).map((c) => Math.max(...c.getContext("2d").getImageData(0, 0, c.width, c.height)
  .data.filter((_, i) => i % 4 === 0)))"""


@pytest.fixture(scope="module")
def cnn_lesson(cnn_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    c = Classroom(cnn_runs / "lenet", tmp_path_factory.mktemp("cnn-lesson") / "class.sqlite")
    try:
        yield c
    finally:
        c.stop()


def python_pass(model: CNN, x: np.ndarray) -> K.Pass:
    return K.forward(model, model.as_input(x[None], np.float64), np.float64)


def test_a_phone_draws_for_a_lenet(browser: Any, cnn_lesson: Classroom, lenet_model: CNN,
                                   shots: Path) -> None:
    phone = Tab(browser, cnn_lesson.student, phone=True)
    page = phone.page
    assert page.get_by_test_id("maps").is_visible()
    assert not page.get_by_test_id("network").is_visible()
    phone.draw(SEVEN)
    x = np.array(phone.js("Array.from(window.classroom.last.input)"), np.float32)
    ref = python_pass(lenet_model, x)
    conv1 = np.array(phone.js("Array.from(window.classroom.last.trace.outputs[1])"))
    np.testing.assert_allclose(conv1, ref.outputs[1][0].transpose(2, 0, 1).ravel(), atol=1e-5)
    said = phone.js("window.classroom.prediction")
    assert said == int(ref.output[0].argmax())
    lit = page.evaluate(LIT_JS)
    assert sum(v > 0 for v in lit) >= 3  # the 7's strokes light several first-layer maps
    page.screenshot(path=str(shots / "classroom-cnn-390x844.png"), full_page=True)
    found = axe_violations(page)
    assert not found, describe(found)
    assert small_text(page) == []
    # a unit of map 1, then its channel knocked out: the reading is Python's without it
    for _ in range(5):  # a tap soon after a swipe can be taken for part of it: tap again
        phone.tap("cnn-map-0-0")
        try:
            phone.wait("!document.getElementById('maps-inspector').hidden", timeout=2)
            break
        except AssertionError:
            page.wait_for_timeout(300)
    page.get_by_test_id("cnn-knockout").click()
    phone.wait("(window.classroom.knockout[0] || []).length === 1")
    probs = np.array(phone.js("Array.from(window.classroom.last.probabilities)"))
    zeroed = CNN(lenet_model.input_shape, lenet_model.layers, params=lenet_model.params.copy())
    zeroed.weights[0][0] = 0
    zeroed.biases[0][0] = 0
    np.testing.assert_allclose(probs, python_pass(zeroed, x).output[0], atol=1e-5)
    page.get_by_test_id("cnn-knockout").click()  # back on, and send it
    phone.wait("(window.classroom.knockout[0] || []).length === 0")
    phone.choose(7)
    phone.tap("submit")
    phone.wait("window.classroom.sent === 1")
    assert phone.js("window.classroom.lastServer") == said  # the server read it as the page
    assert not phone.errors
    phone.ctx.close()
