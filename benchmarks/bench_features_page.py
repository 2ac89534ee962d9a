"""A hidden layer shown as its features in the explorer: the server's first and later answers
of ``GET /api/features`` (the atlas measured on the test set, then kept) and of a feature's
card, and, in Chromium, the features of one drawing computed in the page (engine.js
encodeFeatures and the list of firing features), per drawing.

Needs a run with an atlas where the explorer looks for it (``digitlens features RUN --layer L``
writes it there). Starts ``digitlens serve`` and Debian's Chromium (through Playwright).

Usage: python benchmarks/bench_features_page.py --run runs/default [--layer 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_browser import FLAGS  # noqa: E402
from bench_web_load import start_server  # noqa: E402

from digitlens.analysis.sae_file import FILE, run_atlas  # noqa: E402


def fetch(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as r:  # noqa: S310 - loopback
        size = len(r.read())
    return time.perf_counter() - t0, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/default")
    ap.add_argument("--layer", type=int, default=1)
    args = ap.parse_args()
    run = Path(args.run)
    if not (run_atlas(run, args.layer) / FILE).is_file():
        raise SystemExit(f"{run} has no atlas of layer {args.layer}: make one with "
                         f"`digitlens features {run} --layer {args.layer}`")
    from playwright.sync_api import sync_playwright
    proc, host, port = start_server(run)
    base, name = f"http://{host}:{port}", run.name
    try:
        q = f"run={name}&layer={args.layer}"
        first, size = fetch(f"{base}/api/features?{q}&format=packed")
        later = [fetch(f"{base}/api/features?{q}&format=packed")[0] for _ in range(5)]
        json_s, json_size = fetch(f"{base}/api/features?{q}")
        card, card_size = fetch(f"{base}/api/features/card?{q}&feature=0")
        kept = 1000 * float(np.median(later))
        print(f"GET /api/features, first (measured on the test set) {first:8.2f} s")
        print(f"GET /api/features, later (kept), packed, median     {kept:8.1f} ms"
              f"  ({size / 1e6:.2f} MB)")
        print(f"GET /api/features, JSON                              {1000 * json_s:8.1f} ms"
              f"  ({json_size / 1e6:.2f} MB)")
        print(f"GET /api/features/card                               {1000 * card:8.1f} ms"
              f"  ({card_size / 1e3:.0f} kB)")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{base}/?run={name}&feat={args.layer}")
            for _ in range(1200):
                if page.evaluate("() => window.digitlens?.ready && "
                                 "window.digitlens.features.shown.size === 1"):
                    break
                page.wait_for_timeout(50)
            else:
                raise SystemExit("the page did not show the features")
            box = page.get_by_test_id("draw").bounding_box()
            page.mouse.move(box["x"] + 80, box["y"] + 60)
            page.mouse.down()
            for x, y in ((200, 60), (170, 120), (140, 180), (120, 240)):
                page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
            page.mouse.up()
            page.wait_for_timeout(500)
            ms = page.evaluate("""() => {
              const f = window.digitlens.features, last = window.digitlens.last, out = [];
              for (let r = 0; r < 5; r++) {
                const t0 = performance.now();
                for (let i = 0; i < 200; i++) f.update(last);
                out.push((performance.now() - t0) / 200);
              }
              return out; }""")
            atlas = page.evaluate("() => { const a = window.digitlens.features.shown"
                                  ".values().next().value.atlas; return [a.n_hidden, "
                                  "a.n_features, a.k]; }")
            print(f"a drawing's features in the page ({atlas[0]} -> {atlas[1]}, k = {atlas[2]}), "
                  f"median of 5 x 200   {np.median(ms):6.2f} ms")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
