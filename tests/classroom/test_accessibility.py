"""The classroom for everyone, in a real Chromium: zero axe-core violations (WCAG 2.2 A and AA)
and no text under 12 CSS px (in the page or on the diagram's canvas) on the student's phone
page and the teacher's projected dashboard, with drawings in the gallery; the "×" that removes
a drawing shows without a hover (a whiteboard and a phone have none) and is a 24-px target."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from a11y import axe_violations, describe, small_text
from digitlens.data.sources import Dataset

from .conftest import Classroom, submit

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lesson(trained_run: Path, sample: Dataset, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Classroom]:
    c = Classroom(trained_run, tmp_path_factory.mktemp("a11y-lesson") / "class.sqlite")
    try:
        with httpx.Client(base_url=c.base, timeout=30) as api:
            for i in range(4):  # drawings in the gallery, so every part of the board is drawn
                r = submit(api, f"phone-{i}", int(sample.test_labels[i]), sample.test_images[i])
                assert r.status_code == 201, r.text
        yield c
    finally:
        c.stop()


def opened(browser: Any, url: str, phone: bool) -> Any:
    ctx = browser.new_context(**({"viewport": {"width": 390, "height": 844}, "has_touch": True,
                                  "is_mobile": True} if phone else
                                 {"viewport": {"width": 1366, "height": 768}}))
    page = ctx.new_page()
    page.goto(url)
    for _ in range(300):
        if page.evaluate("() => !!(window.classroom && window.classroom.ready)"):
            break
        page.wait_for_timeout(50)
    return page


def test_student_page_has_no_violations_and_no_small_text(browser: Any, lesson: Classroom) -> None:
    page = opened(browser, lesson.student, phone=True)
    found = axe_violations(page)
    assert not found, describe(found)
    assert small_text(page) == []
    # the network diagram's canvas: its smallest label as drawn, on screen
    assert page.evaluate("window.classroom.diagram.smallestTextPx()") >= 12
    page.context.close()


def test_teacher_page_has_no_violations_and_no_small_text(browser: Any, lesson: Classroom) -> None:
    page = opened(browser, lesson.teacher, phone=False)
    for _ in range(200):  # the gallery has the drawings sent
        if page.evaluate("() => document.querySelectorAll('.remove').length") >= 4:
            break
        page.wait_for_timeout(50)
    found = axe_violations(page)
    assert not found, describe(found)
    assert small_text(page) == []
    sizes = page.evaluate("""() => [...document.querySelectorAll('.remove')].map(b => {
        const r = b.getBoundingClientRect();
        return [r.width, r.height, b.getAttribute('aria-label')]; })""")
    assert len(sizes) >= 4
    assert all(w >= 24 and h >= 24 and "remove" in name for w, h, name in sizes), sizes
    page.context.close()
