"""Live feel of the explorer, measured in a real browser: time from a pointer move on the
drawing canvas to every view redrawn (prediction, bars, preprocessing strip, network diagram,
evidence panels; plus the inspector's arithmetic when a neuron is selected), with the drawing
loop computed in the page (engine.js; goal p50 ≤ 4 ms, p95 ≤ 8 ms) and, in the same run, by
the server (``?compute=server``); then the single-file explorer's size and time to open.

Starts ``digitlens serve`` and Debian's Chromium (through Playwright), draws strokes with the
mouse at about 120 moves per second, and reads the page's own measurements: for each answer
drawn, the time since the oldest pointer move it reflects, and its split into the engine's
compute in the page, or the request's round trip (over the live WebSocket while it is open,
else by fetch), and the drawing; and the server's own compute time per request
(``compute_ms`` in a socket answer, the Server-Timing header of a fetch). Prints p50/p95/p99
of each, and how many answers came by each path.

Usage: python benchmarks/bench_browser.py [--run RUN] [--strokes 6] [--inspect]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_web_load import find_run, start_server  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def strokes(n: int) -> list[list[tuple[float, float]]]:
    """Loops and bars across the canvas, ~100 points each."""
    out = []
    for s in range(n):
        if s % 2:
            out.append([(140 + 60 * math.sin(t / 100 * 2 * math.pi), 140 - 90 * math.cos(
                t / 100 * 2 * math.pi)) for t in range(101)])
        else:
            out.append([(120 + s * 4, 40 + 2 * t) for t in range(100)])
    return out


def draw_strokes(page: Any, n_strokes: int, after: Any = None) -> tuple[int, float]:
    """Draw ``strokes(n_strokes)`` on the page's pad at ~120 moves a second (``after()`` once
    each stroke is lifted); the moves made and the seconds it took."""
    box = page.get_by_test_id("draw").bounding_box()
    moves, t0 = 0, time.perf_counter()
    for pts in strokes(n_strokes):
        page.mouse.move(box["x"] + pts[0][0], box["y"] + pts[0][1])
        page.mouse.down()
        for x, y in pts[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y)
            moves += 1
            time.sleep(0.008)
        page.mouse.up()
        time.sleep(0.2)
        if after is not None:
            after()
    return moves, time.perf_counter() - t0


def row(name: str, values: list[float], width: int = 34) -> str:
    if not values:
        return f"{name:<{width}}{0:>6}"
    a = np.array(values)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return f"{name:<{width}}{len(a):>6}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{a.max():>9.1f}"


def draw_and_measure(browser: Any, url: str, n_strokes: int) -> dict[str, Any]:
    """Open ``url``, draw the strokes at ~120 moves a second, return the page's figures."""
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    page.goto(url)
    while not page.evaluate("() => !!(window.digitlens && window.digitlens.ready)"):
        time.sleep(0.05)
    time.sleep(0.3)
    page.evaluate("() => performance.setResourceTimingBufferSize(100000)")
    moves, seconds = draw_strokes(page, n_strokes)
    time.sleep(0.5)
    m: dict[str, Any] = page.evaluate(
        "() => ({t: window.digitlens.timings, e: window.digitlens.engine,"
        " f: window.digitlens.fetches, d: window.digitlens.draws, r: window.digitlens.renders,"
        " v: window.digitlens.via, s: window.digitlens.computes.concat("
        "performance.getEntriesByType('resource')"
        ".filter((e) => e.name.endsWith('/api/predict'))"
        ".flatMap((e) => e.serverTiming.map((t) => t.duration)))})")
    page.close()
    m.update(moves=moves, seconds=seconds)
    return m


def open_explorer_file(browser: Any, run: Path) -> tuple[float, int, float]:
    """``digitlens export RUN --format html``: its size, the ms from opening it (file://,
    network off) to the first view drawn, and the ms from then to a drawn digit's answer."""
    import tempfile
    out = Path(tempfile.mkdtemp(prefix="digitlens-bench-")) / "explorer.html"
    subprocess.run([sys.executable, "-m", "digitlens", "export", str(run), "--format", "html",
                    "--out", str(out)], check=True, capture_output=True)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, offline=True)
    page = ctx.new_page()
    page.goto(out.as_uri())
    page.wait_for_function("() => window.digitlens && window.digitlens.renders > 0")
    first = float(page.evaluate("() => window.digitlens.firstRender"))
    box = page.get_by_test_id("draw").bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 50)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 230, steps=10)
    page.mouse.up()
    page.wait_for_function("() => window.digitlens.last && window.digitlens.last.has_ink")
    ctx.close()
    return first, out.stat().st_size, float(out.stat().st_size) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run")
    ap.add_argument("--strokes", type=int, default=6)
    ap.add_argument("--inspect", action="store_true", help="with a neuron selected")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    run = find_run(args.run)
    proc, host, port = start_server(run)
    query = "?n=0.0&" if args.inspect else "?"
    results = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            for loop in ("page", "server"):
                url = f"http://{host}:{port}/{query}run={run.name}" + (
                    "&compute=server" if loop == "server" else "")
                results[loop] = draw_and_measure(browser, url, args.strokes)
            first, size, mb = open_explorer_file(browser, run)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"run {run}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
          + ("; a neuron selected" if args.inspect else ""))
    for loop, m in results.items():
        print(f"{loop} loop: {m['moves']} pointer moves in {m['seconds']:.1f} s "
              f"({m['moves'] / m['seconds']:.0f}/s), {m['r']} redraws; answers computed in the "
              f"page: {m['v']['page']}, over the live socket: {m['v']['socket']}, "
              f"by fetch: {m['v']['fetch']}")
    print(f"{'milliseconds':<44}{'n':>6}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    page, server = results["page"], results["server"]
    print(row("page: pointer move -> all views redrawn", page["t"], 44))
    print(row("  of which the engine (engine.js)", page["e"], 44))
    print(row("  of which drawing the views", page["d"], 44))
    print(row("server: pointer move -> all views redrawn", server["t"], 44))
    print(row("  of which request round trip", server["f"], 44))
    print(row("  of which drawing the views", server["d"], 44))
    print(row("  server compute per request", server["s"], 44))
    p50, p95 = (float(v) for v in np.percentile(page["t"], [50, 95]))
    print(f"goal page loop p50 <= 4 ms and p95 <= 8 ms: "
          f"{'met' if p50 <= 4 and p95 <= 8 else 'NOT met'} ({p50:.1f} / {p95:.1f} ms)")
    print(f"explorer.html: {mb:.2f} MB ({size} bytes, goal <= 4 MB: "
          f"{'met' if size <= 4_000_000 else 'NOT met'}); first view drawn {first:.0f} ms after "
          f"opening (goal <= 1000 ms: {'met' if first <= 1000 else 'NOT met'})")


if __name__ == "__main__":
    main()
