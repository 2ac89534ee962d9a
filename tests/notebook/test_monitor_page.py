"""``dl.TrainingMonitor``'s script in Chromium, without JupyterLab: its ESM (the page's chart.js
and colors.js packed in front of monitor.js) renders on a stand-in anywidget model, and the
curve it draws is the Train tab's chart in colors.css's colours, read on the widget's root."""

from __future__ import annotations

import json

import pytest

from support import chromium

pytestmark = pytest.mark.e2e

MODEL = """
window.values = { epochs: [], accuracy: [], total: 4, mosaic: "" };
window.handlers = {};
window.model = { get: (k) => window.values[k],
                 on: (ev, cb) => { (window.handlers[ev] ||= []).push(cb); } };
"""


def test_monitor_draws_the_train_tabs_chart_in_the_ui_colours() -> None:
    from digitlens.notebook.modules import widget_css, widget_esm
    from digitlens.notebook.monitor import PAGE_MODULES
    esm = widget_esm("monitor", PAGE_MODULES) + "\nwindow.monitorRender = render;\n"
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content(f"<!doctype html><html><head><style>{widget_css('explorer')}</style>"
                         "</head><body><div id=host></div></body></html>")
        page.add_script_tag(content=MODEL)
        page.add_script_tag(content=esm, type="module")
        page.wait_for_function("() => typeof window.monitorRender === 'function'")
        page.evaluate("() => window.monitorRender({ model: window.model, "
                      "el: document.getElementById('host') })")
        page.evaluate("""(v) => { Object.assign(window.values, v);
                                  for (const cb of window.handlers['change:epochs']) cb(); }""",
                      {"epochs": [1, 2, 3, 4], "accuracy": [0.5, 0.7, 0.8, 0.9]})
        status = page.get_by_test_id("dl-monitor-status").text_content()
        assert status == "epoch 4 of 4: test accuracy 90.00%"
        found = page.evaluate("""() => {
            const c = document.querySelector('[data-testid=dl-monitor-curve]');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const root = getComputedStyle(document.querySelector('.dl-explorer'));
            const seen = new Set();
            for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
            return { corner: [d[0], d[1], d[2], d[3]], teal: seen.has('20,145,155'),
                     accent: seen.has('11,60,93'),
                     tealVar: root.getPropertyValue('--teal').trim() };
        }""")
        assert errors == []
        assert found["tealVar"] == "#14919b", json.dumps(found)   # colors.css, scoped to the widget
        assert found["corner"] == [255, 255, 255, 255]            # the card's white, not black
        assert found["teal"] and found["accent"], json.dumps(found)  # the curve and its dots
