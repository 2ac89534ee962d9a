"""Class names that are markup, script or formulas (a ``classes.txt`` a dataset shipped),
through every surface that shows them: the served explorer, the report's ``index.html`` and its
single-file ``explorer.html`` opened in real Chromium (nothing runs, the names read as text,
the pages' own scripts still work under their Content-Security-Policy), the figures (a ``$`` in
a name is not matplotlib maths) and the workbook recalculated by real LibreOffice (a name is a
string cell, never a formula or a link). The names pass the loading boundary (printable, at
most 64 characters): escaping, not refusal, is what keeps them harmless."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from datasets_support import idx_folder
from digitlens.data.sources import Dataset, load_dataset
from shapes import train_small
from support import require

from .conftest import Served

sys.path.insert(0, str(Path(__file__).parents[1] / "export"))
from export_libreoffice import convert  # noqa: E402

pytestmark = pytest.mark.e2e

NAMES = ("<img src=x onerror=window.__pwned=1>",
         "</script><script>window.__pwned=1</script>",
         '=HYPERLINK("http://x","$\\y$")')
WATCH = """window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(`${e.violatedDirective} ${e.sample || e.blockedURI}`));"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset]:
    """A custom IDX dataset whose ``classes.txt`` holds the hostile names (they pass the
    loading boundary as they are), a short real run on it, and its report (the single-file
    explorer beside it)."""
    from digitlens.render.report import build_report
    root = tmp_path_factory.mktemp("hostile-names")
    ds = load_dataset(None, idx_folder(root / "data", names=NAMES))
    assert ds.class_names == NAMES
    run = train_small(ds, (16, 8), root / "runs" / "hostile", epochs=2)
    out = build_report(run, root / "report", ds, train_twin_run=False, robustness_n=60)
    assert {"explorer.html", "errors.png", "maps.png"} <= set(out["files"])  # the named figures
    return root / "report", ds


class Opened:
    """A page with its console errors and CSP violations recorded."""

    def __init__(self, browser: Any, url: str) -> None:
        self.ctx = browser.new_context(viewport={"width": 1366, "height": 900})
        self.ctx.add_init_script(WATCH)
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)

    def js(self, expr: str) -> Any:
        return self.page.evaluate(f"() => ({expr})")

    def wait(self, expr: str, timeout_ms: int = 15000) -> None:
        self.page.wait_for_function(f"() => ({expr})", timeout=timeout_ms)

    def assert_nothing_ran(self) -> None:
        assert self.js("window.__pwned") is None
        assert self.js("document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert self.js("window.__violations") == [], "a page's own code was blocked"
        assert self.errors == []

    def assert_csp_blocks_markup(self) -> None:
        """Markup that slipped through would still not run: the policy blocks it."""
        self.js("document.body.insertAdjacentHTML('beforeend', "
                "'<img src=\"data:,\" onerror=\"window.__pwned=2\">'), 0")
        self.page.wait_for_timeout(200)
        assert self.js("window.__pwned") is None
        assert any("script-src" in v for v in self.js("window.__violations"))


@pytest.mark.parametrize("where", ["served", "single file"])
def test_the_explorer_shows_names_as_text(hostile: tuple[Path, Dataset], browser: Any,
                                          where: str) -> None:
    report, _ = hostile
    runs = report.parent / "runs"
    served = Served("--runs-dir", str(runs), "--run", str(runs / "hostile")) \
        if where == "served" else None
    p = Opened(browser, served.url if served else (report / "explorer.html").as_uri())
    try:
        p.wait("window.digitlens && window.digitlens.ready && window.digitlens.renders > 0")
        box = p.page.get_by_test_id("draw").bounding_box()
        p.page.mouse.move(box["x"] + 60, box["y"] + 60)
        p.page.mouse.down()
        p.page.mouse.move(box["x"] + 200, box["y"] + 200, steps=8)
        p.page.mouse.up()
        p.wait("window.digitlens.last !== null && window.digitlens.idle()")
        bars = p.js("[...document.querySelectorAll('[data-testid=bars] li b')]"
                    ".map((b) => b.textContent)")
        assert bars == list(NAMES)
        p.page.get_by_test_id("tab-test").click()
        p.wait("document.querySelector('[data-testid=cm-0-0]') !== null")
        heads = p.js("[...document.querySelectorAll('#confusion tr:first-child th')]"
                     ".map((t) => t.textContent)")
        assert heads == ["", *NAMES]
        p.wait("document.getElementById('gallery-title').textContent.length > 0")
        p.page.get_by_test_id("cm-1-1").dispatch_event("click")  # a class's own gallery
        p.wait(f"document.getElementById('gallery-title').textContent.includes({NAMES[1]!r})")
        p.assert_nothing_ran()
        p.assert_csp_blocks_markup()
    finally:
        p.ctx.close()
        if served is not None:
            served.stop()


def test_the_report_page_shows_names_as_text(hostile: tuple[Path, Dataset],
                                             browser: Any) -> None:
    report, _ = hostile
    p = Opened(browser, (report / "index.html").as_uri())
    try:
        p.wait("document.readyState === 'complete'")
        assert p.js("document.scripts.length") == 0
        alts = p.js("[...document.images].map((i) => i.alt).join('\\n')")
        assert any(name in alts for name in NAMES)  # whole, neither run nor double-escaped
        assert "&lt;" not in alts and "&amp;" not in p.js("document.body.innerText")
        p.js("[...document.images].forEach((i) => { i.loading = 'eager'; }), 0")
        p.wait("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
        p.assert_nothing_ran()
        p.assert_csp_blocks_markup()
    finally:
        p.ctx.close()


def test_the_workbook_writes_names_as_strings(hostile: tuple[Path, Dataset],
                                              tmp_path: Path) -> None:
    """Every cell holding a name is a string, before and after LibreOffice recalculates; no
    cell becomes a formula or a link, and the predicted class still computes."""
    import openpyxl

    from digitlens.export.xlsx import export_xlsx
    from digitlens.nn.io import load_model
    soffice = require("soffice")
    report, ds = hostile
    model = load_model(report.parent / "runs" / "hostile")
    image = ds.test_images[0] / 255.0
    path = export_xlsx(model, tmp_path / "names.xlsx", image, neuron=(model.n_layers - 1, 2),
                       max_maps=4, caption=f"test digit {NAMES[2]}")
    (out,) = convert(soffice, [path], "xlsx", tmp_path / "recalc", tmp_path)
    predicted = NAMES[int(np.argmax(model.trace(image.reshape(1, -1)).probabilities[0]))]
    for book, computed in ((path, False), (out, False), (out, True)):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".* extension is not supported", UserWarning)
            wb = openpyxl.load_workbook(book, data_only=computed)
        seen: dict[str, int] = {}
        for ws in wb.worksheets:
            assert not ws._hyperlinks, (book.name, ws.title)  # noqa: SLF001
            for row in ws.iter_rows():
                for cell in row:
                    if not isinstance(cell.value, str):
                        continue
                    assert "HYPERLINK" not in cell.value or cell.data_type == "s", (
                        book.name, ws.title, cell.coordinate, cell.value)
                    for name in NAMES:
                        seen[name] = seen.get(name, 0) + (name in cell.value)
        assert all(seen[n] for n in NAMES), (book.name, seen)  # Draw, Weight maps, Neuron
        if computed:  # the class's name, looked up by LibreOffice's own INDEX
            ((sheet, ref),) = list(wb.defined_names["predicted_class"].destinations)
            assert wb[sheet][ref.replace("$", "")].value == predicted
