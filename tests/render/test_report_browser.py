"""The report opens in a real Chromium: every image and video loads, nothing is fetched."""

from __future__ import annotations

import pytest
from PIL import Image

from digitlens.data.sources import load_sample
from digitlens.render.animate import ffmpeg_exe
from digitlens.render.report import build_report


@pytest.mark.e2e
def test_report_in_chromium(trained_run, tmp_path, require_tool) -> None:
    chromium = require_tool("chromium")
    pw = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "report"
    build_report(trained_run, out, load_sample(), train_twin_run=False, robustness_n=100)
    requests: list[str] = []
    errors: list[str] = []
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((out / "index.html").as_uri())
        page.wait_for_load_state("load")
        imgs = page.eval_on_selector_all(
            "img", "els => els.map(e => { e.loading = 'eager'; return e.src; })")
        page.evaluate("() => Promise.all([...document.images].map(i => i.decode()))")
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        sections = page.eval_on_selector_all("section h2", "els => els.map(e => e.textContent)")
        explorer = page.eval_on_selector_all("a[href='explorer.html']", "els => els.length")
        videos = []
        for width in (1300, 700):  # wide and narrow: the frame scales, the controls do not
            page.set_viewport_size({"width": width, "height": 900})
            videos += page.eval_on_selector_all(
                "figure.video video", "els => els.map(e => [e.clientWidth, e.clientHeight, "
                "getComputedStyle(e).objectPosition])")
        browser.close()
    assert len(imgs) >= 10 and all(w > 100 for w in widths)
    assert len(sections) == 10  # seven views, the maps, asking the network, why this answer
    assert explorer == 1 and (out / "explorer.html").stat().st_size > 100_000  # links to one
    assert all(u.startswith("file://") for u in requests)
    assert not errors
    if ffmpeg_exe():
        # the frame (its legend at the bottom) sits at the top of the video box, and the
        # player's controls (about 90 px of bar and shade) get a band of their own below it
        with Image.open(out / "evolution-poster.png") as poster:
            w, h = poster.size
        assert len(videos) == 2
        for box_w, box_h, position in videos:
            assert position.startswith("50% 0%")
            assert box_h - box_w * h / w >= 90
