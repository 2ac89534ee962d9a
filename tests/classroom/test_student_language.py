"""The classroom in German: the student's page (?lang=de and a phone set to German), every word
on it from the explorer's catalogue, the reading said with the German percent, and the
teacher's dashboard; still no axe-core violation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from a11y import axe_violations, describe

from .conftest import Classroom
from .test_browser import ONE, Tab

pytestmark = pytest.mark.e2e
ENGLISH = ["Clear", "the network reads", "Inside the network", "Which digit did you mean?",
           "Send to the class", "you are", "sure", "draw to see it light up"]


def left(text: str) -> list[str]:
    return [w for w in ENGLISH if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text)]


def test_the_student_page_in_german(browser: Any, lesson: Classroom) -> None:
    phone = Tab(browser, lesson.student + "?lang=de", phone=True)
    page = phone.page
    assert page.evaluate("document.documentElement.lang") == "de"
    assert page.locator("#meant-title").inner_text() == "Welche Ziffer hast du gemeint?"
    assert page.get_by_test_id("submit").inner_text() == "An die Klasse senden"
    assert page.get_by_test_id("clear").inner_text() == "Löschen"
    phone.draw(ONE)
    sure = page.locator("#sure").inner_text().replace("\u00a0", " ")
    assert re.fullmatch(r"\d+ % sicher", sure), sure
    assert "heller = aktiver" in page.locator("#net-note").inner_text()
    body = str(page.evaluate("() => document.body.innerText"))
    assert not left(body), left(body)
    found = axe_violations(page)
    assert not found, describe(found)
    assert not phone.errors, phone.errors
    phone.ctx.close()


def test_a_german_phone_gets_the_german_page(browser: Any, lesson: Classroom) -> None:
    ctx = browser.new_context(locale="de-DE", viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    page.goto(lesson.student)
    for _ in range(300):  # polled: the page's Content-Security-Policy forbids eval
        if page.evaluate("() => !!(window.classroom && window.classroom.ready)"):
            break
        page.wait_for_timeout(50)
    assert page.evaluate("document.documentElement.lang") == "de"
    assert page.get_by_test_id("submit").inner_text() == "An die Klasse senden"
    ctx.close()


def test_the_teachers_dashboard_in_german(browser: Any, lesson: Classroom) -> None:
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(lesson.teacher + "&lang=de")
    for _ in range(300):  # polled: the page's Content-Security-Policy forbids eval
        if page.evaluate("() => !!(window.classroom && window.classroom.ready)"):
            break
        page.wait_for_timeout(50)
    assert page.evaluate("document.documentElement.lang") == "de"
    body = str(page.evaluate("() => document.body.innerText"))
    for german in ("Mit dem Handy mitmachen", "Schwierigste Zeichnungen", "Zeichnungen", "Handys"):
        assert german in body, german
    for english in ("Join on your phone", "Hardest drawings", "phones", "Every digit"):
        assert english not in body, english
    assert page.get_by_test_id("pause").inner_text() == "Pause"
    assert page.locator("#qr").get_attribute("alt") == "QR-Code der Schülerseite"
    found = axe_violations(page)
    assert not found, describe(found)
    ctx.close()
