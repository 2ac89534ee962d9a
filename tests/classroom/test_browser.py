"""The lesson in a real browser: three students (one a phone at 390×844 drawing by touch) and
the teacher against ``digitlens classroom``. Students draw and send (the phone's network is the
explorer's diagram, compact, every square in its activation's colour); the teacher's matrix,
gallery and hardest drawings follow within a second; the QR code on the teacher's page decodes
to the student URL; prompt, pause and removal reach the pages. Screenshots are saved
(``DIGITLENS_SCREENSHOTS=folder`` keeps them)."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from diagram_pixels import diagram_facts, squares_coloured
from support import screenshot_folder

from .conftest import Classroom

pytestmark = pytest.mark.e2e
# strokes in the pad's 0..1 coordinates: a one, a seven and a zero
ONE = [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)]
SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.55, 0.5), (0.42, 0.85)]
ZERO = [(0.5 + 0.25 * c, 0.5 + 0.33 * s) for c, s in
        [(1, 0), (0.7, 0.7), (0, 1), (-0.7, 0.7), (-1, 0), (-0.7, -0.7), (0, -1), (0.7, -0.7),
         (1, 0)]]


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_folder(tmp_path_factory)


class Tab:
    """One browser context and page; console errors are collected (and must stay empty)."""

    def __init__(self, browser: Any, url: str, phone: bool = False) -> None:
        opts: dict[str, Any] = ({"viewport": {"width": 390, "height": 844}, "has_touch": True,
                                 "is_mobile": True, "device_scale_factor": 2} if phone else
                                {"viewport": {"width": 1366, "height": 768}})
        self.ctx = browser.new_context(**opts)
        self.page = self.ctx.new_page()
        self.phone = phone
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.wait("window.classroom && window.classroom.ready")

    def js(self, expr: str) -> Any:
        return self.page.evaluate(f"() => ({expr})")

    def wait(self, expr: str, timeout: float = 15.0) -> float:
        """Seconds it took until ``expr`` held."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.js(expr):
                return time.monotonic() - t0
            self.page.wait_for_timeout(20)
        status = self.js("document.getElementById('status')?.textContent")
        raise AssertionError(f"timed out waiting for {expr} (status line: {status!r})")

    def draw(self, points: list[tuple[float, float]]) -> None:
        box = self.page.get_by_test_id("draw").bounding_box()
        xy = [(box["x"] + px * box["width"], box["y"] + py * box["height"]) for px, py in points]
        if self.phone:  # a finger: touch events through the DevTools protocol
            cdp = self.ctx.new_cdp_session(self.page)
            steps = [("touchStart", xy[0])] + [("touchMove", p) for p in xy[1:]]
            for kind, (x, y) in steps:
                cdp.send("Input.dispatchTouchEvent", {"type": kind,
                                                      "touchPoints": [{"x": x, "y": y}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
            cdp.detach()
            # a tap sooner after a swipe is taken for part of one gesture (no click)
            self.page.wait_for_timeout(300)
        else:
            self.page.mouse.move(*xy[0])
            self.page.mouse.down()
            for x, y in xy[1:]:
                self.page.mouse.move(x, y, steps=6)
            self.page.mouse.up()
        self.wait("window.classroom.prediction !== null && !window.classroom.inking")

    def tap(self, testid: str) -> None:
        el = self.page.get_by_test_id(testid)
        el.tap() if self.phone else el.click()

    def choose(self, digit: int) -> None:
        """Pick the digit meant. On a busy machine Chromium can still take a tap soon after a
        swipe for part of that gesture and send no click: tap again until the page has it."""
        for _ in range(5):
            self.tap(f"label-{digit}")
            try:
                self.wait(f"window.classroom.label === {digit}", timeout=2)
                return
            except AssertionError:
                self.page.wait_for_timeout(300)
        raise AssertionError(f"the page never took label {digit}")


def test_a_lesson(browser: Any, lesson: Classroom, shots: Path) -> None:
    teacher = Tab(browser, lesson.teacher)
    # the QR code on the teacher's page, read back from the pixels on screen
    import zxingcpp
    from PIL import Image
    png = teacher.page.get_by_test_id("qr").screenshot()
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [c.text for c in codes] == [lesson.student]
    assert teacher.page.get_by_test_id("student-url").inner_text() == lesson.student

    phone = Tab(browser, lesson.student, phone=True)
    desks = [Tab(browser, lesson.student) for _ in range(2)]
    names = {t.js("window.classroom.device") for t in (phone, *desks)}
    assert len(names) == 3  # each device its own pseudonym, kept across reloads
    mine = phone.js("window.classroom.device")
    phone.page.reload()
    phone.wait("window.classroom && window.classroom.ready")
    assert phone.js("window.classroom.device") == mine
    assert phone.page.get_by_test_id("pseudonym").inner_text() == mine
    with httpx.Client(base_url=lesson.base, timeout=10) as api:
        sent: list[Any] = []
        for tab, stroke, meant in ((phone, ONE, 1), (desks[0], SEVEN, 7), (desks[1], ZERO, 0)):
            tab.draw(stroke)
            page_says = tab.js("window.classroom.prediction")
            if tab is phone:  # the explorer's diagram, compact: whole on the phone, legible, lit
                facts = diagram_facts(phone.page, "window.classroom.diagram")
                assert facts["mode"] == "compact" and facts["textPx"] >= 12, facts
                assert not facts["scrolls"] and facts["width"] <= 390, facts
                assert squares_coloured(phone.page, "window.classroom.diagram") == 32 + 16
            tab.choose(meant)
            before = teacher.js("window.classroom.n")
            tab.tap("submit")
            tab.wait(f"window.classroom.sent === {sent.count(tab) + 1}")
            # the page and the server read the drawing alike (engine.js vs MLP.trace)
            assert tab.js("window.classroom.lastServer") == page_says
            assert teacher.wait(f"window.classroom.n === {before + 1}") < 1.0
            sent.append(tab)
        summary = api.get("/api/class/summary", params={"token": lesson.token}).json()
        assert summary["n"] == 3
        teacher.wait("window.classroom.rendered === window.classroom.events")
        for r in range(10):
            for c in range(10):
                cell = teacher.page.get_by_test_id(f"cm-{r}-{c}").inner_text()
                assert cell == (str(summary["confusion"][r][c]) if summary["confusion"][r][c]
                                else "")
        for meant in (1, 7, 0):
            assert teacher.page.get_by_test_id(f"gallery-{meant}").locator("figure").count() == 1
        assert teacher.page.get_by_test_id("class-accuracy").inner_text() == \
            f"{100 * summary['accuracy']:.1f}%"

        # the teacher's prompt fixes the students' label; pause stops sending
        teacher.page.get_by_test_id("prompt-select").select_option("7")
        phone.wait("window.classroom.prompt === 7", timeout=5)
        assert phone.page.get_by_test_id("prompt").inner_text() == "Everyone draw a 7!"
        phone.draw(SEVEN)
        assert phone.js("window.classroom.label") == 7
        assert phone.page.get_by_test_id("label-3").is_disabled()
        phone.tap("label-7")
        phone.tap("submit")
        phone.wait("window.classroom.sent === 2")
        phone.page.screenshot(path=str(shots / "classroom-student-390x844.png"))
        teacher.wait("window.classroom.n === 4")
        assert api.get("/api/class/summary", params={"token": lesson.token}).json()[
            "confusion"][7][phone.js("window.classroom.lastServer")] >= 1
        teacher.page.get_by_test_id("pause").click()
        desks[0].wait("window.classroom.paused === true", timeout=5)
        desks[0].draw(SEVEN)
        assert desks[0].page.get_by_test_id("submit").is_disabled()
        teacher.page.get_by_test_id("pause").click()
        teacher.page.get_by_test_id("prompt-select").select_option("")
        desks[0].wait("window.classroom.paused === false && window.classroom.prompt === null",
                      timeout=5)

        # removing a drawing takes it out of the lesson (and the matrix)
        teacher.wait("window.classroom.rendered === window.classroom.events")
        teacher.page.screenshot(path=str(shots / "classroom-teacher-1366x768.png"))
        first = teacher.page.get_by_test_id("gallery-1").locator("figure").first
        first.hover()
        first.locator("button.remove").click()
        teacher.wait("window.classroom.n === 3")
        teacher.wait("window.classroom.rendered === window.classroom.events")
        assert api.get("/api/class/summary", params={"token": lesson.token}).json()["n"] == 3
        assert teacher.page.get_by_test_id("gallery-1").locator("figure").count() == 0

    wrong = Tab(browser, lesson.teacher.replace("token=", "token=x"))
    assert "token is missing or wrong" in wrong.js("window.classroom.error")
    for tab in (teacher, phone, *desks):
        assert tab.errors == []
        tab.ctx.close()
    wrong.ctx.close()
