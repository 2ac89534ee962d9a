"""Live feel of the explorer, measured in a real browser: time from a pointer move on the
drawing canvas to every view redrawn (prediction, bars, preprocessing strip, network diagram,
evidence panels; plus the inspector's arithmetic when a neuron is selected). Goal: p95 ≤ 15 ms
on loopback.

Starts ``digitlens serve`` and Debian's Chromium (through Playwright), draws strokes with the
mouse at about 120 moves per second, and reads the page's own measurements: for each answer
drawn, the time since the oldest pointer move it reflects, and its split into the request's
round trip (over the live WebSocket while it is open, else by fetch; the server computes
everything) and the drawing, and the server's own compute time per request (``compute_ms`` in
a socket answer, the Server-Timing header of a fetch). Prints p50/p95/p99 of each, and how
many answers came by each path.

Usage: python benchmarks/bench_browser.py [--run RUN] [--strokes 6] [--inspect]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

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


def row(name: str, values: list[float]) -> str:
    a = np.array(values)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return f"{name:<34}{len(a):>6}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{a.max():>9.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run")
    ap.add_argument("--strokes", type=int, default=6)
    ap.add_argument("--inspect", action="store_true", help="with a neuron selected")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    run = find_run(args.run)
    proc, host, port = start_server(run)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            page.goto(f"http://{host}:{port}/" + ("?n=0.0" if args.inspect else ""))
            while not page.evaluate("() => !!(window.digitlens && window.digitlens.ready)"):
                time.sleep(0.05)
            page.evaluate("() => performance.setResourceTimingBufferSize(100000)")
            box = page.get_by_test_id("draw").bounding_box()
            moves = 0
            t0 = time.perf_counter()
            for pts in strokes(args.strokes):
                page.mouse.move(box["x"] + pts[0][0], box["y"] + pts[0][1])
                page.mouse.down()
                for x, y in pts[1:]:
                    page.mouse.move(box["x"] + x, box["y"] + y)
                    moves += 1
                    time.sleep(0.008)
                page.mouse.up()
                time.sleep(0.2)
            seconds = time.perf_counter() - t0
            time.sleep(0.5)
            m = page.evaluate("() => ({t: window.digitlens.timings, f: window.digitlens.fetches,"
                              " d: window.digitlens.draws, r: window.digitlens.renders,"
                              " v: window.digitlens.via, s: window.digitlens.computes.concat("
                              "performance.getEntriesByType('resource')"
                              ".filter((e) => e.name.endsWith('/api/predict'))"
                              ".flatMap((e) => e.serverTiming.map((t) => t.duration)))})")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"run {run}; {moves} pointer moves in {seconds:.1f} s ({moves / seconds:.0f}/s), "
          f"{m['r']} redraws; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
          + ("; a neuron selected" if args.inspect else ""))
    print(f"answers over the live socket: {m['v']['socket']}, by fetch: {m['v']['fetch']}")
    print(f"{'milliseconds':<34}{'n':>6}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    print(row("pointer move -> all views redrawn", m["t"]))
    print(row("  of which request round trip", m["f"]))
    print(row("  of which drawing the views", m["d"]))
    print(row("server compute per request", m["s"]))
    p95 = float(np.percentile(m["t"], 95))
    print(f"goal p95 <= 15 ms: {'met' if p95 <= 15 else 'NOT met'} ({p95:.1f} ms)")


if __name__ == "__main__":
    main()
