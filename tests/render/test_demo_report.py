"""``make demo``'s steps on the embedded sample (one epoch each): every seed's section is drawn
from the seed's own run, S4's workbook is linked, and a second pass retrains and rebuilds
nothing. The report's stamp: unchanged runs skip, a changed run rebuilds."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train
from digitlens.render.report import build_report

ROOT = Path(__file__).resolve().parents[2]


def demo(runs: Path) -> str:
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--runs-dir",
                        str(runs), "--dataset", "mnist-sample", "--epochs", "1", "--no-serve"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout + r.stderr


@pytest.mark.e2e
def test_demo_draws_each_seed_from_its_own_run(tmp_path: Path, require_tool) -> None:
    runs = tmp_path / "runs"
    demo(runs)
    report = runs / "report"
    page = (report / "index.html").read_text()
    drawn = dict(re.findall(r'<section id="(\w+)">.*?Drawn from <code>([^<]+)</code>', page))
    assert {k: Path(html.unescape(v)).name for k, v in drawn.items()} == {
        "training": "s3-machine-academy", "fingerprints": "s0-fingerprints",
        "evidence": "s1-single-layer", "weights": "default", "neurons": "s3-machine-academy",
        "maps": "s0-fingerprints", "errors": "default", "robustness": "s3-machine-academy",
        "ask": "default", "why": "default", "workbook": "s4-excel"}
    assert 'href="explorer.html"' in page and (report / "explorer.html").exists()
    assert "weights-compare.png" in page  # S2's 500 images against all, from runs/s2-500
    with zipfile.ZipFile(report / "s4-excel.xlsx") as zf:
        assert "xl/workbook.xml" in zf.namelist()
    assert 'href="s4-excel.xlsx"' in page
    # every image says how big it is and what it shows
    for tag in re.findall(r"<img [^>]+>", page):
        assert re.search(r'width="\d+" height="\d+"', tag) and 'alt="' in tag
        assert not re.search(r'alt="[\w-]+(\.\w+)?"', tag)  # not a file-like name
        assert "&amp;#" not in tag  # escaped once
    # each picture links to itself, so a phone can show it whole
    for src in re.findall(r'<img src="([^"]+)"', page):
        assert f'<a href="{src}"><img src="{src}"' in page
    # on a phone the runs table scrolls inside its box; the page does not
    pw = pytest.importorskip("playwright.sync_api")
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_tool("chromium"),
                                    args=["--no-sandbox"])
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto((report / "index.html").as_uri())
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        browser.close()
    mtime = (report / "index.html").stat().st_mtime_ns
    t = time.perf_counter()
    again = demo(runs)
    assert "nothing to train" in again and "is up to date" in again
    assert (report / "index.html").stat().st_mtime_ns == mtime
    assert time.perf_counter() - t < 120


def test_demo_refuses_a_busy_port_before_training(tmp_path: Path) -> None:
    """A port in use is said at once, in one line, not after minutes of training."""
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--runs-dir",
                            str(tmp_path / "runs"), "--dataset", "mnist-sample", "--port",
                            str(port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and not (tmp_path / "runs").exists()
    assert r.stderr.strip() == (f"demo: port {port} is in use; choose another, e.g. "
                                f"make demo PORT={port + 1}")


def test_report_rebuilds_only_when_something_changed(sample, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """(One cheap section: the stamp is what is tested; the demo test builds whole pages.)"""
    import digitlens.render.report as R
    monkeypatch.setattr(R, "SECTIONS", [s for s in R.SECTIONS if s.anchor == "evidence"])
    run, out = tmp_path / "run", tmp_path / "report"
    config = TrainConfig(layers=(784, 10), epochs=1, batch_size=50, optimizer="sgd", lr=0.5,
                         init="xavier", dataset="mnist-sample", preset="s1-single-layer")
    train(config, sample, run)
    opts: dict[str, Any] = {"train_twin_run": False, "robustness_n": 50, "force": False}
    first = build_report(run, out, sample, **opts)
    assert not first["skipped"] and (out / "report-stamp.json").exists()
    assert build_report(run, out, sample, **opts)["skipped"]
    train(config.with_overrides(epochs=2), sample, run)  # resumes: one more epoch
    again = build_report(run, out, sample, **opts)
    assert not again["skipped"] and "2 epochs" in (out / "index.html").read_text()
    assert build_report(run, out, sample, **opts)["skipped"]
    (out / first["files"][0]).unlink()  # a figure gone: rebuild
    assert not build_report(run, out, sample, **opts)["skipped"]
    # the options are part of the stamp too
    assert not build_report(run, out, sample, **{**opts, "robustness_n": 60})["skipped"]
    # a damaged stamp (or one that is not a file) is read through the boundary: rebuilt
    for damaged in (b"{not json", b"[1, 2]", b"\xff"):
        (out / "report-stamp.json").write_bytes(damaged)
        assert not build_report(run, out, sample, **opts)["skipped"]
    assert build_report(run, out, sample, **opts)["skipped"]
