"""The policy the file pages carry, without a browser: every inline script and stylesheet of the
single-file explorer and the report is allowed by its hash and nothing else is (the browser
tests, tests/web/test_hostile_names.py, show the same pages working and blocking)."""

from __future__ import annotations

import dataclasses
import html
import re

from digitlens.csp import source_hash
from digitlens.data.sources import Dataset
from digitlens.export.html_explorer import build_html, script_json
from digitlens.nn.mlp import MLP
from digitlens.render.report_html import page, section

POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">')
HOSTILE = "</script><!--<script>window.__pwned=1</script>"


def directives(text: str) -> dict[str, list[str]]:
    (policy,) = POLICY.findall(text)
    return {d.split()[0]: d.split()[1:] for d in html.unescape(policy).split("; ")}


def inline(text: str, tag: str) -> list[str]:
    """The contents of the executable ``tag`` elements (a JSON data block is not a script)."""
    found = re.findall(rf"<{tag}(\s[^>]*)?>(.*?)</{tag}>", text, flags=re.S)
    return [body for attrs, body in found if "application/json" not in attrs]


def test_single_file_allows_exactly_its_own_inline_code(trained_model: MLP, sample: Dataset
                                                         ) -> None:
    ds = dataclasses.replace(sample, class_names=(HOSTILE, *sample.class_names[1:]))
    text = build_html(trained_model, ds, HOSTILE)
    rules = directives(text)
    scripts, styles = inline(text, "script"), inline(text, "style")
    assert len(scripts) == 2 and len(styles) == 1
    assert sorted(rules["script-src"]) == sorted(source_hash(s) for s in scripts)
    assert rules["style-src"] == [source_hash(styles[0])]
    assert rules["default-src"] == ["'none'"] and rules["object-src"] == ["'none'"]
    assert text.index("Content-Security-Policy") < text.index("<script")
    assert text.count("</script>") == 3  # the name never closes the data block
    assert "<" not in script_json({"name": HOSTILE})


def test_report_page_allows_no_script_and_only_its_stylesheet() -> None:
    body = section("errors", f"1. {HOSTILE}", f"<p>{html.escape(HOSTILE)}</p>", "")
    text = page(HOSTILE, "", [body], rules=("#v-x { --w: 1; --h: 2; }",))
    rules = directives(text)
    (style,) = inline(text, "style")
    assert rules["script-src"] == ["'none'"] and rules["style-src"] == [source_hash(style)]
    assert "#v-x { --w: 1; --h: 2; }" in style
    assert "<script" not in text and " style=" not in text
