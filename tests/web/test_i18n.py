"""The page in a second language. Without a browser: every catalogue (static/js/lang-*.js) has
the same keys with the same {placeholders}, each count in its two forms, and every key the
page, the story and the student page name (t("…"), tn("…"), data-i18n="…") is in each; the
German glossary has every term. In Chromium: ?lang=de, a German browser (locale de-DE) and
the picker give a German explorer (tabs, the spoken prediction, the story's first chapter, no
English label left), the single file too; axe-core finds nothing on it; an English browser
keeps the English page. Screenshots of the German page at 1366×768 and 390×844 are saved
(``DIGITLENS_SCREENSHOTS=folder`` keeps them)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from a11y import small_text
from support import require

from .conftest import Served
from .test_accessibility import (
    LAPTOP,
    PHONE,
    assert_no_violations,
    mouse_stroke,
    open_page,
    single_file,
    wait,
)

STATIC = Path(__file__).parents[2] / "src/digitlens/web/static"
JS = STATIC / "js"
CLASSROOM = STATIC.parents[1] / "classroom/static"
ENTRY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"):\s*("(?:[^"\\]|\\.)*"),\s*$', re.M)
__all__ = ["single_file"]  # the fixture this module borrows


def catalogue(code: str) -> dict[str, str]:
    """lang-CODE.js's entries, one per line, as Python strings."""
    text = (JS / f"lang-{code}.js").read_text(encoding="utf-8")
    entries = [(json.loads(k), json.loads(v)) for k, v in ENTRY.findall(text)]
    keys = [k for k, _ in entries]
    assert len(keys) == len(set(keys)), f"lang-{code}.js names a key twice"
    body = text[text.index("= {\n") + 4:text.rindex("}")]
    assert len(entries) == len([ln for ln in body.splitlines() if ln.strip()]), \
        f"lang-{code}.js: one entry per line, each a quoted key and a quoted string"
    return dict(entries)


def languages() -> list[str]:
    return sorted(p.stem.removeprefix("lang-") for p in JS.glob("lang-*.js"))


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def sources() -> list[Path]:
    return [*JS.glob("*.js"), STATIC / "index.html", *CLASSROOM.glob("*.html"),
            *CLASSROOM.glob("*.js"),
            STATIC.parents[1] / "export/html_explorer.py"]  # the single file's own footer


def referenced() -> tuple[set[str], set[str]]:
    """The keys the page's files name, and the prefixes of keys they build (t(`story.${k}…`))."""
    keys: set[str] = set()
    prefixes: set[str] = set()
    for path in sources():
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r'\bt\(\s*"([^"]+)"', text))
        for key in re.findall(r'\btn\(\s*"([^"]+)"', text):
            keys |= {f"{key}.one", f"{key}.other"}
        keys |= set(re.findall(r'data-i18n(?:-aria|-title|-alt)?="([^"]+)"', text))
        prefixes |= set(re.findall(r"\btn?\(\s*`([^`$]*)\$\{", text))
    return keys, prefixes


def test_every_catalogue_has_every_key_with_the_same_placeholders() -> None:
    codes = languages()
    assert {"en", "de"} <= set(codes)
    en = catalogue("en")
    for code in codes:
        other = catalogue(code)
        assert not set(en) - set(other), f"lang-{code}.js lacks {sorted(set(en) - set(other))}"
        assert not set(other) - set(en), f"lang-{code}.js has extra {sorted(set(other) - set(en))}"
        for key, text in en.items():
            assert placeholders(other[key]) == placeholders(text), (code, key)
            assert other[key] or not text, (code, key)
    for key in en:  # a count comes in both forms
        if key.endswith(".one"):
            assert key[:-4] + ".other" in en, key


def test_every_key_the_pages_name_is_in_every_catalogue() -> None:
    keys, prefixes = referenced()
    assert len(keys) > 200 and "story." in prefixes
    for code in languages():
        words = catalogue(code)
        assert not keys - set(words), f"lang-{code}.js lacks {sorted(keys - set(words))}"
        for prefix in prefixes:
            assert any(k.startswith(prefix) for k in words), (code, prefix)
    unused = {k for k in catalogue("en")
              if k not in keys and not any(k.startswith(p) for p in prefixes)}
    assert not unused, f"catalogue entries no page shows: {sorted(unused)}"


def test_a_missing_key_is_caught() -> None:
    """The check above fails on a key a page names but a catalogue lacks."""
    keys, _ = referenced()
    words = catalogue("de")
    words.pop("tab.explore")
    assert keys - set(words) == {"tab.explore"}


def test_marked_html_elements_hold_only_text() -> None:
    """data-i18n replaces an element's text: an element with children would lose them."""
    for path in (STATIC / "index.html", *CLASSROOM.glob("*.html")):
        html = path.read_text(encoding="utf-8")
        for m in re.finditer(r'<(\w+)\b[^>]*\sdata-i18n="([^"]+)"[^>]*>(.*?)</\1>', html, re.S):
            assert "<" not in m.group(3), (path.name, m.group(2))


def test_the_german_glossary_has_every_term() -> None:
    from digitlens.glossary import GLOSSARY
    text = (JS / "glossary-de.js").read_text(encoding="utf-8")
    terms = [json.loads(k) for k in re.findall(r'^  ("(?:[^"\\]|\\.)*"): \[', text, re.M)]
    assert sorted(terms) == sorted(GLOSSARY)


def test_the_language_is_chosen_by_query_then_browser_then_english() -> None:
    script = f"""
      const {{ chooseLang }} = await import({json.dumps((JS / "i18n.js").as_uri())});
      console.log(JSON.stringify([
        chooseLang("?lang=de", ["en-US"]), chooseLang("?lang=DE", []),
        chooseLang("?lang=xx", ["de-AT"]), chooseLang("", ["fr-FR", "de-CH", "en"]),
        chooseLang("", ["fr-FR"]), chooseLang("?lang=en", ["de-DE"]),
      ]));"""
    out = subprocess.run([require("node"), "--input-type=module", "-e", script],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["de", "de", "de", "de", "en", "en"]



def test_a_run_says_what_its_accuracy_was_measured_on() -> None:
    """The picker: MNIST's accuracy as it was; a class's 3 drawings' 100% says so."""
    script = f"""
      const {{ runLabel }} = await import({json.dumps((JS / "views.js").as_uri())});
      const run = (over) => ({{ name: "r", sizes: [784, 10], test_accuracy: 1, dataset: "mnist",
                                n_test: 10000, ...over }});
      console.log(JSON.stringify([
        runLabel(run({{ test_accuracy: 0.9234 }})), runLabel(run({{ test_accuracy: null }})),
        runLabel(run({{ dataset: "class-7b", n_test: 3 }})),
        runLabel(run({{ dataset: "fashion-mnist", n_test: 10000, test_accuracy: 0.8812 }})),
      ]));"""
    out = subprocess.run([require("node"), "--input-type=module", "-e", script],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [
        "r (784-10 · 92.3%)", "r (784-10)", "r (784-10 · 100% on 3 class-7b test images)",
        "r (784-10 · 88.1% on 10,000 fashion-mnist test images)"]

# ------------------------------------------------------------------------------ in Chromium
# labels the English page shows; none may be left on the German one
ENGLISH = ["Explore", "Test set", "Draw a digit", "Prediction", "Inside the network",
           "Preprocessing", "Evidence for each", "Clear", "Undo", "feed the network",
           "centred like MNIST", "choose a neuron by layer", "Teach it", "learning rate",
           "sure", "download", "your drawing", "cropped to the ink", "make it say", "colours",
           "Reads", "Next", "Show the maths", "What the network sees", "layer 0 (hidden)"]


def visible_text(page: Any) -> str:
    return str(page.evaluate("() => document.body.innerText"))


def english_left(page: Any) -> list[str]:
    text = visible_text(page)
    return [w for w in ENGLISH if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]


@pytest.mark.e2e
def test_the_explorer_in_german(browser: Any, served: Served, shots: Path) -> None:
    page = open_page(browser, served.url + "?lang=de", LAPTOP)
    assert page.evaluate("document.documentElement.lang") == "de"
    assert page.get_by_test_id("tab-explore").inner_text() == "Erkunden"
    assert page.get_by_test_id("tab-test").inner_text() == "Testdaten"
    assert page.get_by_test_id("lang").input_value() == "de"
    mouse_stroke(page)
    wait(page, "document.querySelector('[data-testid=announce]').textContent !== ''", 5)
    said = page.get_by_test_id("announce").text_content()
    said = said.replace("\u00a0", " ")  # German writes "92 %", with a no-break space
    assert re.fullmatch(r"Erkannt: \d, \d+ % sicher; danach \d, \d+ %\.", said), said
    assert "sicher" in page.get_by_test_id("confidence").inner_text()
    assert "Schicht 0 (verborgen)" in page.get_by_test_id("diagram").get_attribute("aria-label")
    assert "Schwerpunkt" in page.locator("#strip-note").inner_text()
    assert not english_left(page), english_left(page)
    page.locator("button.term[data-term=neuron]").focus()  # the glossary speaks German too
    tip = page.get_by_test_id("glossary-tip").inner_text()
    assert tip.startswith("Ein winziger Rechner") and "Genau:" in tip, tip
    page.keyboard.press("Escape")
    page.get_by_test_id("evidence-method").select_option("integrated-gradients")  # the server's
    wait(page, "document.getElementById('ev-note').textContent.includes('Vollständigkeit')", 20)
    note = page.locator("#ev-note").inner_text()
    assert "integrierte Gradienten ab Schwarz" in note and ": sie ergeben zusammen" in note, note
    page.get_by_test_id("evidence-method").select_option("gradient")
    page.screenshot(path=str(shots / "german-1366x768.png"), full_page=True)
    page.get_by_test_id("tab-learn").click()
    wait(page, "!document.querySelector('[data-testid=story]').hidden")
    assert page.get_by_test_id("story-title").inner_text() == "Was das Netz sieht"
    story = page.get_by_test_id("story-text").inner_text()
    assert story.startswith("Das Netz sieht nie deine Striche"), story
    assert page.get_by_test_id("story-next").inner_text() == "Weiter"
    assert not english_left(page), english_left(page)
    assert_no_violations(page, "the German explorer, the story open")
    page.get_by_test_id("tab-explore").click()
    page.get_by_test_id("layer-open-0").click()
    page.get_by_test_id("pick-0-3").click()
    wait(page, "!document.getElementById('inspector').hidden && "
               "document.querySelector('#insp-top canvas')")
    assert "Neuron-Inspektor" in page.locator("#inspector").inner_text()
    assert "undefined" not in page.get_by_test_id("arithmetic").inner_text()
    assert not english_left(page), english_left(page)
    page.evaluate("scrollTo(0, 0)")  # the story left the page scrolled under the sticky header
    assert_no_violations(page, "the German explorer, the inspector open")
    page.get_by_test_id("tab-test").click()
    wait(page, "document.querySelectorAll('#gallery canvas').length > 0")
    assert "Testgenauigkeit" in page.locator("#test-acc").inner_text()
    assert not english_left(page), english_left(page)
    assert not page.errors, page.errors
    page.context.close()


@pytest.mark.e2e
def test_the_german_explorer_on_a_phone(browser: Any, served: Served, shots: Path) -> None:
    page = open_page(browser, served.url + "?lang=de", PHONE)
    mouse_stroke(page)
    assert_no_violations(page, "the German explorer on a phone")
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE[0], f"the German page is {wide} px wide on a {PHONE[0]} px phone"
    assert not small_text(page), small_text(page)
    page.screenshot(path=str(shots / "german-390x844.png"), full_page=True)
    page.context.close()


@pytest.mark.e2e
def test_a_german_browser_gets_german_and_an_english_one_english(browser: Any, served: Served
                                                                  ) -> None:
    ctx = browser.new_context(locale="de-DE", viewport={"width": LAPTOP[0], "height": LAPTOP[1]})
    page = ctx.new_page()
    page.goto(served.url)
    wait(page, "window.digitlens && window.digitlens.ready", 20.0)
    assert page.evaluate("document.documentElement.lang") == "de"
    assert page.get_by_test_id("tab-learn").inner_text() == "Lernen"
    # the picker: English chosen is kept in the link across views
    with page.expect_navigation():
        page.get_by_test_id("lang").select_option("en")
    wait(page, "window.digitlens && window.digitlens.ready", 20.0)
    assert "lang=en" in page.url and page.evaluate("document.documentElement.lang") == "en"
    assert page.get_by_test_id("tab-learn").inner_text() == "Learn"
    page.get_by_test_id("tab-test").click()
    assert "lang=en" in page.url and "tab=test" in page.url
    ctx.close()
    page = open_page(browser, served.url, LAPTOP)  # Playwright's default locale, en-US
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.get_by_test_id("tab-explore").inner_text() == "Explore"
    page.context.close()


@pytest.mark.e2e
def test_the_single_file_in_german(browser: Any, single_file: Path) -> None:
    page = open_page(browser, single_file.as_uri() + "?lang=de", LAPTOP)
    assert page.get_by_test_id("tab-explore").inner_text() == "Erkunden"
    assert "auf den 500 mitgelieferten Testziffern" in page.locator("footer").inner_text()
    mouse_stroke(page)
    assert "sicher" in page.get_by_test_id("confidence").inner_text()
    assert_no_violations(page, "the German single file")
    assert not page.errors, page.errors
    page.context.close()
