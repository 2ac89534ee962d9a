"""Accessibility checks in a real browser: axe-core (installed by ``make test`` from
package-lock.json into node_modules) run on a Playwright page with the WCAG 2.2 A and AA rules,
and a walk of the computed font sizes. Shared by the explorer, classroom and report tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def axe_source() -> str:
    """axe-core's browser bundle; skip without it, but fail in CI (DIGITLENS_REQUIRE_E2E)."""
    if not AXE.exists():
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail(f"{AXE} is missing: run `npm ci` (make test does)")
        pytest.skip("axe-core not installed (npm ci)")
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 A/AA violations on the page as it is now: rule id, impact, help and
    the first few offending elements, so a failure says what to fix."""
    if not page.evaluate("() => !!window.axe"):
        # evaluated through the DevTools protocol, which the pages' Content-Security-Policy
        # (script-src 'self') does not govern, unlike an injected <script>
        page.evaluate(axe_source() + "\n;true")
    result = page.evaluate(
        """async (tags) => {
             const r = await axe.run(document, { runOnly: { type: "tag", values: tags },
                                                 resultTypes: ["violations"] });
             return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.length,
               where: v.nodes.slice(0, 4).map(n => n.target.join(" ") + " :: " +
                                               (n.failureSummary || "").slice(0, 160)) }));
           }""", WCAG_TAGS)
    return list(result)


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per rule broken, with where, for an assertion message."""
    return "\n".join(f"{v['id']} ({v['impact']}, {v['nodes']}×): {v['help']}\n    "
                     + "\n    ".join(v["where"]) for v in violations)


SMALL_TEXT_JS = """(minPx) => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim()) continue;
    const el = n.parentElement, r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.closest("[hidden]")) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === "hidden" || cs.display === "none") continue;
    const px = parseFloat(cs.fontSize);
    if (px < minPx) out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}` +
                             `.${el.className} ${px}px: ${n.textContent.trim().slice(0, 40)}`);
  }
  return out;
}"""


def small_text(page: Any, min_px: float = 12.0) -> list[str]:
    """Visible text nodes whose computed font size is below ``min_px`` CSS pixels."""
    return list(page.evaluate(SMALL_TEXT_JS, min_px))
