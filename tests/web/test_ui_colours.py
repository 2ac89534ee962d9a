"""The UI colours live in one stylesheet of variables (web/static/css/colors.css): no other
stylesheet or script of the explorer, the classroom or the notebook widgets types a colour out,
save the data's own (MNIST's white ink on black, the pixels the network reads) and uiColor's
answer without a stylesheet. The data's palette is palette.js (from palette.py)."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "digitlens"
FOLDERS = ("web/static", "classroom/static", "notebook/static")
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|rgba?\(\s*\d")
ALLOWED = {  # file -> the lines that may type a colour, and why
    "web/static/js/draw.js": ("#fff", "#000"),            # the pad's ink and ground: data
    "web/static/js/views.js": ("#000",),                  # the preprocessing strip's ground: data
    "web/static/js/colors.js": ('fallback = "#000"',),    # uiColor's answer without a stylesheet
}


def test_ui_colours_are_only_in_colors_css() -> None:
    typed = []
    for folder in FOLDERS:
        for path in sorted((SRC / folder).rglob("*")):
            rel = path.relative_to(SRC).as_posix()
            if path.suffix not in {".css", ".js", ".html"} or rel.endswith(
                    ("css/colors.css", "js/palette.js")):
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if COLOUR.search(line) and not any(a in line for a in ALLOWED.get(rel, ())):
                    typed.append(f"{rel}:{n}: {line.strip()}")
    assert typed == [], "UI colours belong in web/static/css/colors.css:\n" + "\n".join(typed)


def test_colors_css_is_linked_wherever_a_page_is() -> None:
    for page, href in (("web/static/index.html", "css/colors.css"),
                       ("classroom/static/student.html", "/explorer/css/colors.css"),
                       ("classroom/static/teacher.html", "/explorer/css/colors.css")):
        links = re.findall(r'<link rel="stylesheet" href="([^"]+)"',
                           (SRC / page).read_text(encoding="utf-8"))
        # before the page's own sheets (the explorer's and the student's page: cnn.css too)
        assert links[0] == href and len(links) >= 2, (page, links)
