"""The report for everyone, in a real Chromium: built in the colour-blind palette, it has zero
axe-core violations (WCAG 2.2 A and AA), no text under 12 CSS px, a text alternative on every
figure, a legend naming the colours it uses, and figures drawn in those colours; the palette
goes back to the classic one afterwards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from a11y import axe_violations, describe, small_text
from digitlens import palette as C
from digitlens.data.sources import load_sample
from digitlens.render.report import build_report
from support import chromium

pytestmark = pytest.mark.e2e


def test_colourblind_report_reads_for_everyone(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    build_report(trained_run, out, load_sample(), train_twin_run=False, robustness_n=100,
                 palette="colourblind")
    assert C.SCHEME == "classic"  # the switch was for this report only
    with Image.open(out / "weights.png") as im:
        pixels = {tuple(p) for p in np.asarray(im.convert("RGB")).reshape(-1, 3)}
    cb, classic = C.SCHEMES["colourblind"], C.SCHEMES["classic"]
    assert cb["pos"] in pixels and cb["neg"] in pixels
    assert classic["pos"] not in pixels and classic["neg"] not in pixels
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto((out / "index.html").as_uri())
        page.wait_for_load_state("load")
        found = axe_violations(page)
        assert not found, describe(found)
        assert small_text(page) == []
        alts = page.eval_on_selector_all("img", "els => els.map(e => e.alt)")
        assert alts and all(len(a) > 20 for a in alts)
        lead = page.eval_on_selector("header p", "e => e.textContent")
        assert "orange positive" in lead and "purple negative" in lead
