"""The explorer for everyone, in a real Chromium: zero axe-core violations (WCAG 2.2 A and AA)
on the served page at a laptop's and a phone's size and on the single file; a 1 drawn with the
keyboard alone and the prediction heard in words; every control reached by Tab with a visible
focus; no text under 12 CSS px in the DOM or on the diagram's canvas at 390×844, 1024×768 and
1366×768; every neuron chosen by touch through 24-px targets on a phone; pad, prediction and
diagram on one projector screen. Screenshots at the three sizes are saved for people to look at
(``DIGITLENS_SCREENSHOTS=folder`` keeps them)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from a11y import axe_violations, describe, small_text

from .conftest import Served
from .test_explorer_file import export

pytestmark = pytest.mark.e2e
LAPTOP, PROJECTOR, PHONE = (1366, 768), (1024, 768), (390, 844)


@pytest.fixture(scope="module")
def single_file(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("single") / "explorer.html"
    done = export(trained_run, out)
    assert done.returncode == 0, done.stderr
    return out


def open_page(browser: Any, url: str, size: tuple[int, int]) -> Any:
    """A page at ``size`` (a phone's with touch), ready, its console errors collected."""
    phone = size[0] < 600
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, has_touch=phone,
                              is_mobile=phone)
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    wait(page, "window.digitlens && window.digitlens.ready", 20.0)
    return page


def wait(page: Any, expr: str, timeout: float = 15.0) -> None:
    """Until ``expr`` holds (polled: the page's Content-Security-Policy forbids eval)."""
    for _ in range(int(timeout / 0.05)):
        if page.evaluate(f"() => ({expr})"):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {expr}")


def settle(page: Any) -> None:
    wait(page, "window.digitlens.last !== null && window.digitlens.idle()")
    page.wait_for_timeout(100)


def mouse_stroke(page: Any) -> None:
    """A vertical stroke down the middle of the pad (a 1)."""
    box = page.get_by_test_id("draw").bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 0.8, steps=8)
    page.mouse.up()
    settle(page)


def assert_no_violations(page: Any, where: str) -> None:
    found = axe_violations(page)
    assert not found, f"axe-core on {where}:\n{describe(found)}"


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366x768", "390x844"])
def test_axe_finds_nothing_on_the_explorer(browser: Any, served: Served, size: tuple[int, int]
                                           ) -> None:
    page = open_page(browser, served.url, size)
    assert_no_violations(page, f"the explorer at {size}, empty")
    mouse_stroke(page)
    page.get_by_test_id("circuit").click()  # the circuit switched on: it follows the drawing
    wait(page, "window.digitlens.why.shown !== null")
    assert_no_violations(page, f"the explorer at {size}, the circuit on")
    page.get_by_test_id("layer-open-0").click()  # the enlarged layer, then a neuron's inspector
    assert_no_violations(page, f"the explorer at {size}, a layer enlarged")
    page.get_by_test_id("pick-0-3").click()
    wait(page, "!document.getElementById('inspector').hidden && "
                           "document.querySelector('#insp-top canvas')")
    assert_no_violations(page, f"the explorer at {size}, the inspector open")
    page.get_by_test_id("tab-test").click()
    wait(page, "document.querySelectorAll('#gallery canvas').length > 0")
    assert_no_violations(page, f"the explorer's test set at {size}")
    assert not page.errors
    page.context.close()


def test_axe_finds_nothing_on_the_single_file(browser: Any, single_file: Path) -> None:
    page = open_page(browser, single_file.as_uri(), LAPTOP)
    assert_no_violations(page, "the single file")
    mouse_stroke(page)
    assert_no_violations(page, "the single file with a drawing")
    page.get_by_test_id("circuit").click()  # the circuit, computed in the page
    wait(page, "window.digitlens.why.shown !== null")
    assert_no_violations(page, "the single file with the circuit on")
    assert not page.errors
    page.context.close()


def test_a_one_drawn_with_the_keyboard_alone_is_announced(browser: Any, served: Served) -> None:
    page = open_page(browser, served.url, LAPTOP)
    page.wait_for_timeout(800)
    assert page.get_by_test_id("announce").text_content() == ""  # nothing said before a drawing
    for _ in range(40):  # Tab reaches the pad like any control
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.testid") == "draw":
            break
    else:
        raise AssertionError("Tab never reached the drawing pad")
    assert page.get_by_test_id("announce").get_attribute("aria-live") == "polite"
    for _ in range(10):  # from the middle to near the top
        page.keyboard.press("ArrowUp")
    page.keyboard.press("Space")  # pen down
    assert "Pen down" in page.get_by_test_id("pen-status").text_content()
    for _ in range(20):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # pen up
    wait(page, "document.querySelector('[data-testid=announce]').textContent !== ''")
    said = page.get_by_test_id("announce").text_content()
    m = re.fullmatch(r"Reads (\d), (\d+)% sure; next (\d), (\d+)%\.", said)
    assert m, said
    # it says what the page shows: the predicted class and its probability, rounded
    assert m[1] == page.get_by_test_id("prediction").text_content()
    shown = float(page.get_by_test_id("confidence").text_content().split("%")[0])
    assert int(m[2]) == round(shown) and int(m[4]) <= int(m[2]) and m[3] != m[1]
    # one vertical stroke of 21 points, 200 canvas px long: a 1
    stroke = page.evaluate("window.digitlens.pad.strokes.map(s => s.points)")
    assert len(stroke) == 1 and len(stroke[0]) == 21
    xs, ys = {p[0] for p in stroke[0]}, [p[1] for p in stroke[0]]
    assert len(xs) == 1 and ys[-1] - ys[0] == 200
    # the diagram's text alternative now says what each layer does
    label = page.get_by_test_id("diagram").get_attribute("aria-label")
    assert "layer 0 (hidden):" in label and "neurons active" in label and f"Output: {m[1]}" in label
    page.get_by_test_id("draw").press("Delete")
    wait(page, "document.querySelector('[data-testid=announce]').textContent"
                           ".startsWith('Empty')")
    assert not page.errors
    page.context.close()


# a control's name for the test: a radio group counts once (arrows move within it)
NAME_JS = ("(e) => e.type === 'radio' ? `radios ${e.name}`"
           " : (e.dataset.testid || e.id || e.textContent.trim().slice(0, 40))")


def test_every_control_is_reached_by_tab_with_a_visible_focus(browser: Any, served: Served
                                                              ) -> None:
    page = open_page(browser, served.url, LAPTOP)  # nothing focused yet: Tab starts at the top
    controls = set(page.evaluate(f"""() => [...document.querySelectorAll(
        '#tab-explore button, #tab-explore select, #tab-explore input,'
        + ' #tab-explore [tabindex="0"], header button, header select, header a[href]')]
      .filter(e => e.getClientRects().length && !e.disabled && !e.closest('[hidden]'))
      .map({NAME_JS})"""))
    reached, unseen = set(), []
    for _ in range(120):
        page.keyboard.press("Tab")
        el = page.evaluate(f"""() => {{ const e = document.activeElement, s = getComputedStyle(e);
            if (e === document.body) return null;  // past the last control
            return {{ name: ({NAME_JS})(e),
                      ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 }}; }}""")
        if el is None:
            break
        reached.add(el["name"])
        if not el["ring"]:
            unseen.append(el["name"])
    missing = controls - reached
    assert not missing, f"never reached by Tab: {missing}"
    assert not unseen, f"focused without a visible ring: {unseen}"
    page.context.close()


@pytest.mark.parametrize("size", [PHONE, PROJECTOR, LAPTOP],
                         ids=["390x844", "1024x768", "1366x768"])
def test_no_text_below_12_px(browser: Any, served: Served, shots: Path, size: tuple[int, int]
                             ) -> None:
    page = open_page(browser, served.url, size)
    mouse_stroke(page)
    page.screenshot(path=str(shots / f"readable-{size[0]}x{size[1]}.png"))
    page.get_by_test_id("layer-open-1").click()
    page.get_by_test_id("pick-1-2").click()
    wait(page, "!document.getElementById('inspector').hidden && "
                           "document.querySelector('#insp-top canvas')")
    page.wait_for_timeout(200)
    assert small_text(page) == []
    # the diagram's canvas: its smallest label, as drawn, times the canvas's on-screen scale
    assert page.evaluate("window.digitlens.diagramTextPx()") >= 12
    page.screenshot(path=str(shots / f"readable-{size[0]}x{size[1]}-inspector.png"))
    page.context.close()


def test_pad_prediction_and_diagram_fit_one_projector_screen(browser: Any, served: Served) -> None:
    page = open_page(browser, served.url, PROJECTOR)
    mouse_stroke(page)
    for testid in ("draw", "prediction", "bars", "diagram"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR[1], testid
        assert box["x"] >= 0 and box["x"] + box["width"] <= PROJECTOR[0], testid
    page.context.close()


def test_every_neuron_can_be_chosen_by_touch_on_a_phone(browser: Any, served: Served) -> None:
    page = open_page(browser, served.url, PHONE)
    mouse_stroke(page)
    sizes = [784, 32, 16, 10]  # the trained run's layers
    # a tap on the diagram's small squares opens that layer enlarged instead of a random neuron
    page.get_by_test_id("diagram").scroll_into_view_if_needed()
    x, y = page.evaluate("window.digitlens.neuronPoint(0, 5)")
    page.touchscreen.tap(x, y)
    assert page.get_by_test_id("layer-zoom").is_visible()
    assert page.get_by_test_id("layer-open-0").get_attribute("aria-expanded") == "true"
    for layer, n in enumerate(sizes[1:]):
        if page.get_by_test_id(f"layer-open-{layer}").get_attribute("aria-expanded") != "true":
            page.get_by_test_id(f"layer-open-{layer}").tap()
        boxes = page.evaluate(f"""() => [...document.querySelectorAll(
            '[data-testid^="pick-{layer}-"]')]
            .map(b => {{ const r = b.getBoundingClientRect(); return [r.width, r.height]; }})""")
        assert len(boxes) == n
        assert min(min(w, h) for w, h in boxes) >= 24, (layer, boxes[:3])
        last = page.get_by_test_id(f"pick-{layer}-{n - 1}")
        assert last.get_attribute("aria-label").startswith(f"neuron {layer}:{n - 1}")
        last.tap()
        wait(page,
            f"document.querySelector('[data-testid=inspector-title]')?.textContent"
            f".includes('neuron {layer}:{n - 1}')")
        assert page.get_by_test_id("layer-zoom").is_hidden()
    page.context.close()


def test_colour_blind_palette_in_the_page(browser: Any, served: Served) -> None:
    """?palette=colourblind draws the signs orange / purple, the words say so, axe-core still
    finds nothing; the picker switches back to red / blue."""
    page = open_page(browser, f"{served.url}?palette=colourblind", LAPTOP)
    mouse_stroke(page)
    ends = """() => { const seen = new Set();
        for (const c of document.querySelectorAll('#evidence canvas')) {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
        }
        return [...seen]; }"""
    colours = set(page.evaluate(ends))
    # the strongest evidence reaches an end of the colour-blind ramp, none of the classic one
    assert colours & {"230,97,1", "94,60,153"}
    assert not colours & {"178,24,43", "33,102,172"}
    assert "orange pixels push the class up, purple down" in page.locator("#ev-note").inner_text()
    assert "orange pushes up, purple down" in page.locator("#net-hint").inner_text()
    # prose that names colours follows the scheme too (the step card's sentences here)
    steps = "document.querySelector('[data-text=changesExplain]').textContent"
    assert page.evaluate(steps).startswith("orange: the weight went up, purple: down")
    assert_no_violations(page, "the explorer in the colour-blind palette")
    page.get_by_test_id("palette").select_option("classic")
    settle(page)
    assert "red pushes up, blue down" in page.locator("#net-hint").inner_text()
    assert page.evaluate(steps).startswith("red: the weight went up, blue: down")
    colours = set(page.evaluate(ends))
    assert colours & {"178,24,43", "33,102,172"}
    assert not colours & {"230,97,1", "94,60,153"}
    assert not page.errors
    page.context.close()


def test_one_glossary_for_page_and_docs() -> None:
    """The page's terms and docs/glossary.md are written from digitlens.glossary; every term
    the page marks has an entry."""
    from digitlens.glossary import DOC, GLOSSARY, JS, glossary_js, glossary_md
    assert JS.read_text(encoding="utf-8") == glossary_js()
    assert DOC.read_text(encoding="utf-8") == glossary_md()
    html = (JS.parent.parent / "index.html").read_text(encoding="utf-8")
    marked = set(re.findall(r'data-term="([^"]+)"', html))
    assert marked and marked <= set(GLOSSARY)


def test_a_term_explains_itself_on_focus_and_on_tap(browser: Any, served: Served) -> None:
    page = open_page(browser, served.url, LAPTOP)
    mouse_stroke(page)
    tip = page.get_by_test_id("glossary-tip")
    page.locator("button.term[data-term=neuron]").focus()
    assert tip.is_visible() and tip.inner_text().startswith("A tiny calculator")
    assert "Precisely:" in tip.inner_text()
    described = page.locator("button.term[data-term=neuron]").get_attribute("aria-describedby")
    assert page.locator(f"#{described}").text_content().startswith("A tiny calculator")
    page.keyboard.press("Escape")
    assert tip.is_hidden()
    # the evidence note: plain words first, the method a term
    assert page.locator("#ev-note").inner_text().startswith("red pixels push the class up")
    assert page.locator("#ev-note button.term").inner_text() == "gradient × input"
    page.context.close()
    phone = open_page(browser, served.url, PHONE)
    phone.locator("button.term[data-term='signal a·w']").tap()
    tip = phone.get_by_test_id("glossary-tip")
    assert tip.is_visible() and "line of the diagram" in tip.inner_text()
    box = tip.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0]
    phone.locator("h2:visible").first.tap()  # a tap elsewhere closes it
    assert tip.is_hidden()
    phone.context.close()
