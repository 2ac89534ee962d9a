"""The page's own ES modules (web/static/js) handed to a widget, so the widget draws and
computes with the same code as the explorer instead of a copy of it.

anywidget takes one ES module as a string; the widget imports these from Blob URLs at render
time (``loadModules`` in static/loader.js), rewriting their relative imports to match.
"""

from __future__ import annotations

import json
from pathlib import Path

WEB_JS = Path(__file__).resolve().parent.parent / "web" / "static" / "js"
HERE = Path(__file__).resolve().parent / "static"


def page_module(name: str) -> str | None:
    """Source of web/static/js/NAME.js, or None where this build of the page lacks it."""
    p = WEB_JS / f"{name}.js"
    return p.read_text(encoding="utf-8") if p.is_file() else None


def widget_esm(entry: str, modules: tuple[str, ...]) -> str:
    """The widget's ESM: static/ENTRY.js with the page modules it uses inlined as strings."""
    sources = {m: page_module(m) for m in modules}
    text = (HERE / "loader.js").read_text(encoding="utf-8")
    text += (HERE / f"{entry}.js").read_text(encoding="utf-8")
    return text.replace("__DIGITLENS_MODULES__", json.dumps(
        {k: v for k, v in sources.items() if v is not None}))


def widget_css(name: str) -> str:
    return (HERE / f"{name}.css").read_text(encoding="utf-8")
