"""A convolutional network's feature maps redrawn live in the explorer, measured in a real
browser: time from a pointer move on the drawing canvas to every feature map of every
convolution and pooling repainted (with the prediction, its bars and the preprocessing strip),
the forward pass computed in the page (convnet.js; goal p95 <= 16 ms for lenet5).

Starts ``digitlens serve`` and Debian's Chromium (through Playwright), draws strokes with the
mouse at about 120 moves per second, and reads the page's own measurements: for each answer
drawn, the time since the oldest pointer move it reflects, split into the engine's compute and
the drawing. ``--inspect`` keeps a unit's inspector open, which is redrawn with the maps.

Usage: python benchmarks/bench_cnn_page.py [--run runs/lenet5] [--strokes 6] [--inspect]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_browser import FLAGS, draw_strokes, row  # noqa: E402
from bench_web_load import start_server  # noqa: E402


def draw_and_measure(browser: Any, url: str, n_strokes: int, inspect: bool) -> dict[str, Any]:
    """Open ``url``, draw the strokes at ~120 moves a second, return the page's figures."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(url)
    while not page.evaluate("() => !!(window.digitlens && window.digitlens.ready"
                            " && window.digitlens.conv)"):
        time.sleep(0.05)
    time.sleep(0.3)
    if inspect:
        page.get_by_test_id("cnn-map-0-0").click()
    page.evaluate("() => { const d = window.digitlens; d.timings.length = 0;"
                  " d.engine.length = 0; d.draws.length = 0; }")
    maps = int(page.evaluate("() => document.querySelectorAll('.cnn-map canvas').length"))
    moves, seconds = draw_strokes(page, n_strokes)
    time.sleep(0.5)
    m: dict[str, Any] = page.evaluate(
        "() => ({t: window.digitlens.timings, e: window.digitlens.engine,"
        " d: window.digitlens.draws, r: window.digitlens.renders})")
    page.close()
    m.update(moves=moves, seconds=seconds, maps=maps)
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/lenet5")
    ap.add_argument("--strokes", type=int, default=6)
    ap.add_argument("--inspect", action="store_true", help="with a unit's inspector open")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    run = Path(args.run)
    if not (run / "model.npz").exists():
        raise SystemExit(f"{run}: no trained run here (digitlens train --preset lenet5)")
    proc, host, port = start_server(run)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            m = draw_and_measure(browser, f"http://{host}:{port}/?run={run.name}",
                                 args.strokes, args.inspect)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"run {run}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
          + ("; a unit's inspector open" if args.inspect else ""))
    print(f"{m['moves']} pointer moves in {m['seconds']:.1f} s "
          f"({m['moves'] / m['seconds']:.0f}/s), {m['r']} redraws of {m['maps']} feature maps")
    print(f"{'milliseconds':<44}{'n':>6}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    print(row("pointer move -> every feature map redrawn", m["t"], 44))
    print(row("  of which the forward pass (convnet.js)", m["e"], 44))
    print(row("  of which drawing (maps, bars, strip)", m["d"], 44))
    p50, p95 = (float(v) for v in np.percentile(m["t"], [50, 95]))
    print(f"goal p95 <= 16 ms: {'met' if p95 <= 16 else 'NOT met'} "
          f"(p50 {p50:.1f} ms, p95 {p95:.1f} ms)")


if __name__ == "__main__":
    main()
