"""The "make it say" overlay in a real browser: time from the click on *nudge* to the nudged
digit drawn over the pad (the page's own measurement: the request, DeepFool on the server and
the drawing). Goal: within 100 ms.

Starts ``digitlens serve`` and Debian's Chromium (through Playwright), draws a zero, then asks
for every other digit in turn, ``--rounds`` times. Prints p50/p95/max.

Usage: python benchmarks/bench_ask_page.py [--run runs/default] [--rounds 3]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_browser import FLAGS  # noqa: E402
from bench_web_load import find_run, start_server  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    proc, host, port = start_server(find_run(args.run))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"http://{host}:{port}/")

            def wait(expr: str) -> None:
                for _ in range(600):
                    if page.evaluate(f"() => ({expr})"):
                        return
                    page.wait_for_timeout(20)
                raise SystemExit(f"timed out waiting for {expr}")

            wait("window.digitlens && window.digitlens.ready")
            box = page.get_by_test_id("draw").bounding_box()
            m = page.mouse
            for t in range(22):
                a = t / 20 * 2 * math.pi
                x, y = box["x"] + 140 + 55 * math.sin(a), box["y"] + 140 - 85 * math.cos(a)
                if t == 0:
                    m.move(x, y)
                    m.down()
                m.move(x, y, steps=3)
            m.up()
            wait("window.digitlens.idle() && window.digitlens.last?.has_ink")
            shown = page.evaluate("() => window.digitlens.last.prediction")
            for _ in range(args.rounds):
                for target in [str(k) for k in range(10) if k != shown]:
                    page.get_by_test_id("nudge-target").select_option(target)
                    n = page.evaluate("() => window.digitlens.nudge.timings.length")
                    page.get_by_test_id("nudge-go").click()
                    wait(f"window.digitlens.nudge.timings.length > {n}")
            ms = np.array(page.evaluate("() => window.digitlens.nudge.timings"))
            browser.close()
    finally:
        proc.terminate()
        proc.wait()
    print(f"click -> nudged digit drawn over the pad, {len(ms)} nudges (DeepFool, targeted): "
          f"p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
          f"max {ms.max():.1f} ms (goal: within 100 ms)")


if __name__ == "__main__":
    main()
