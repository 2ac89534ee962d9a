"""The page's own ES modules (web/static/js) inside a widget's ESM, so the widget draws and
computes with the explorer's code (engine.js above all) instead of a copy of it.

anywidget takes one ES module as a string. Each page module is wrapped by the single-file
explorer's packer (jspack.py) into a function scope, dependencies first, and the widget's
own script (static/NAME.js) reads them from ``PAGE``: no Blob URLs or extra requests, so it
runs wherever the front end runs ES modules.
"""

from __future__ import annotations

from pathlib import Path

WEB_JS = Path(__file__).resolve().parent.parent / "web" / "static" / "js"
HERE = Path(__file__).resolve().parent / "static"


def has_page_module(name: str) -> bool:
    return (WEB_JS / f"{name}.js").is_file()


def widget_esm(entry: str, modules: tuple[str, ...]) -> str:
    """static/ENTRY.js preceded by the page modules it uses (and theirs), as ``PAGE.name``."""
    from digitlens.jspack import var, wrap
    done: list[str] = []
    parts: list[str] = []

    def visit(name: str) -> None:
        if name in done or not has_page_module(name):
            return
        code, deps = wrap(WEB_JS / f"{name}.js")
        for dep in deps:
            visit(Path(dep).stem)
        done.append(name)
        parts.append(f"// ---- web/static/js/{name}.js\n{code}")

    for m in modules:
        visit(m)
    table = ", ".join(f"{m}: {var(m)}" for m in modules if m in done)
    parts.append(f"const PAGE = {{ {table} }};\n")
    parts.append((HERE / "helpers.js").read_text(encoding="utf-8"))
    parts.append((HERE / f"{entry}.js").read_text(encoding="utf-8"))
    return "\n".join(parts)


def widget_css(name: str) -> str:
    """The page's UI colours (web/static/css/colors.css), scoped to the widget's root (a
    notebook's :root is JupyterLab's), then static/NAME.css."""
    colors = (WEB_JS.parent / "css" / "colors.css").read_text(encoding="utf-8")
    colors = colors.replace(":root {", ".dl-explorer {").replace(
        '[data-palette="colourblind"] {', '[data-palette="colourblind"] .dl-explorer {')
    return colors + "\n" + (HERE / f"{name}.css").read_text(encoding="utf-8")
