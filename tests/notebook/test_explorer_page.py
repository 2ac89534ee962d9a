"""``dl.Explorer``'s script in Chromium, without JupyterLab: its ESM (the page's modules packed in
front of explorer.js) renders on a stand-in anywidget model holding a real widget's traits. In
both modes the network is the explorer's diagram (diagram.js, compact): labels of 12 CSS px or
more, every hidden square in its activation's colour, and a click on a neuron's square selects
it (``selected`` set and saved), rings it in the focus colour and opens its inspector. In kernel
mode the test plays the kernel: what the page sends goes to the Python widget, its answer back.
A network too wide for its box scrolls sideways inside it, still legible."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import digitlens as dl
from diagram_pixels import diagram_facts, squares_coloured
from support import chromium, screenshot_folder

pytestmark = pytest.mark.e2e
TRAITS = ("compute", "network", "sizes", "activations", "class_names", "input_shape", "selected",
          "state")
# anywidget's model as the script sees it: get, set (firing change:KEY), on, save_changes
MODEL = """
window.values = %s; window.handlers = {}; window.saved = 0;
window.model = { get: (k) => window.values[k],
                 set: (k, v) => { window.values[k] = v;
                                  for (const cb of window.handlers["change:" + k] || []) cb(); },
                 on: (ev, cb) => { (window.handlers[ev] ||= []).push(cb); },
                 save_changes: () => { window.saved++; } };
"""
DIAGRAM = "document.querySelector('.dl-explorer').dlDiagram"
SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.55, 0.5), (0.42, 0.85)]
FOCUS = [240, 140, 0]  # colors.css --focus: the selected neuron's ring


@pytest.fixture(scope="module")
def run(trained_run: Path) -> dl.LoadedRun:
    return dl.load(trained_run)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_folder(tmp_path_factory)


def rendered(browser: Any, widget: Any, errors: list[str]) -> Any:
    """A page showing ``widget``'s script on a stand-in model of its traits; its errors are
    collected in ``errors``."""
    from digitlens.notebook.explorer import PAGE_MODULES
    from digitlens.notebook.modules import widget_css, widget_esm
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_content(f"<!doctype html><html><head><style>{widget_css('explorer')}</style>"
                     "</head><body><div id=host></div></body></html>")
    values = {k: getattr(widget, k) for k in TRAITS}
    page.add_script_tag(content=MODEL % json.dumps(values))
    page.add_script_tag(content=widget_esm("explorer", PAGE_MODULES)
                        + "\nwindow.explorerRender = render;\n", type="module")
    page.wait_for_function("() => typeof window.explorerRender === 'function'")
    page.evaluate("() => window.explorerRender({ model: window.model, "
                  "el: document.getElementById('host') })")
    return page


def draw(page: Any, points: list[tuple[float, float]]) -> None:
    box = page.get_by_test_id("dl-canvas").bounding_box()
    xy = [(box["x"] + px * box["width"], box["y"] + py * box["height"]) for px, py in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def ring_pixel(page: Any, layer: int, index: int) -> list[int]:
    """The colour just left of a neuron's square, where the selected neuron's ring is drawn."""
    return list(page.evaluate(f"""() => {{ const d = {DIAGRAM}, c = d.layout.cols[{layer + 1}];
        const [x, y] = d.pos({layer + 1}, {index}), left = x - c.cell / 2 - 1.5;
        const p = d.canvas.getContext('2d').getImageData(Math.floor(left * d.dpr),
                                                         Math.floor(y * d.dpr), 1, 1).data;
        return [p[0], p[1], p[2]]; }}"""))


def click_neuron(page: Any, layer: int, index: int) -> None:
    x, y = page.evaluate(f"() => {DIAGRAM}.clientPoint({layer + 1}, {index})")
    page.mouse.click(x, y)


def check_diagram(page: Any, run: dl.LoadedRun) -> None:
    facts = diagram_facts(page, DIAGRAM)
    assert facts["mode"] == "compact" and facts["textPx"] >= 12 and not facts["scrolls"], facts
    assert squares_coloured(page, DIAGRAM) == sum(run.mlp.sizes[1:-1])
    assert page.evaluate(f"() => {DIAGRAM}.data.flow.length") == len(run.model.weights)


def test_page_mode_draws_the_diagram_and_picks_a_neuron(run: dl.LoadedRun, shots: Path) -> None:
    widget, errors = dl.Explorer(run, compute="page"), list[str]()
    with chromium() as browser:
        page = rendered(browser, widget, errors)
        draw(page, SEVEN)
        page.wait_for_function("document.querySelector('[data-testid=dl-prediction]')"
                               ".textContent !== '–'")
        check_diagram(page, run)
        assert ring_pixel(page, 1, 5) != FOCUS
        click_neuron(page, 1, 5)
        assert page.evaluate("() => [window.values.selected, window.saved > 0]") == [
            {"layer": 1, "index": 5}, True]
        assert ring_pixel(page, 1, 5) == FOCUS
        assert "neuron 1:5" in page.get_by_test_id("dl-inspector").inner_text()
        page.screenshot(path=str(shots / "widget-page-mode.png"))
    assert errors == []


def test_kernel_mode_draws_the_kernels_answer_and_picks_a_neuron(run: dl.LoadedRun,
                                                                shots: Path) -> None:
    widget, errors = dl.Explorer(run, compute="kernel"), list[str]()
    with chromium() as browser:
        page = rendered(browser, widget, errors)

        def answer() -> None:  # the kernel's side: the widget's new state, sent to the page
            page.evaluate("(s) => window.model.set('state', s)", widget.state)
        draw(page, SEVEN)
        page.wait_for_function("() => window.values.drawing !== undefined")
        page.wait_for_timeout(100)  # the last pointer move's send
        size, gray = page.evaluate("""() => [window.values.drawing_size,
            Array.from(new Uint8Array(window.values.drawing.buffer))]""")
        widget.drawing_size = size
        widget.drawing = np.asarray(gray, np.uint8).tobytes()
        assert widget.prediction is not None
        answer()
        assert page.get_by_test_id("dl-prediction").inner_text() == str(widget.prediction)
        check_diagram(page, run)
        click_neuron(page, 0, 3)
        selected = page.evaluate("() => window.values.selected")
        assert selected == {"layer": 0, "index": 3}
        widget.selected = selected
        answer()
        assert ring_pixel(page, 0, 3) == FOCUS
        assert "neuron 0:3" in page.get_by_test_id("dl-inspector").inner_text()
        page.screenshot(path=str(shots / "widget-kernel-mode.png"))
    assert errors == []


def test_a_wide_network_scrolls_in_a_narrow_cell_and_stays_legible() -> None:
    """Three hidden layers of 1024 in a 420-px wide page: the compact diagram keeps every neuron
    at 3 px or more and its labels at 12 px, and its box scrolls sideways; a click on a neuron
    scrolled into view still selects that neuron."""
    from digitlens.api import as_run
    from digitlens.nn.mlp import MLP
    wide = as_run(MLP.create([784, 1024, 1024, 1024, 10], seed=0))
    widget, errors = dl.Explorer(wide, compute="page"), list[str]()
    with chromium() as browser:
        page = rendered(browser, widget, errors)
        page.set_viewport_size({"width": 420, "height": 900})
        draw(page, SEVEN)
        page.wait_for_function("document.querySelector('[data-testid=dl-prediction]')"
                               ".textContent !== '–'")
        page.wait_for_timeout(200)  # the box's new width laid out (ResizeObserver)
        facts = diagram_facts(page, DIAGRAM)
        assert facts["scrolls"] and facts["textPx"] >= 12, facts
        cells = page.evaluate(f"() => {DIAGRAM}.layout.cols.slice(1, -1).map(c => c.cell)")
        assert cells == [3, 3, 3], cells
        assert squares_coloured(page, DIAGRAM) == 3 * 1024
        page.get_by_test_id("dl-diagram").scroll_into_view_if_needed()
        page.evaluate(f"() => {DIAGRAM}.canvas.parentElement.scrollLeft = 10000")
        click_neuron(page, 2, 1000)
        assert page.evaluate("() => window.values.selected") == {"layer": 2, "index": 1000}
    assert errors == []
