"""Regenerate the README's explorer screenshot: draw a 3, inspect a neuron, save a PNG.

Usage: python scripts/screenshot_explorer.py RUN [--out docs/images/web-explore.png]
(needs Debian's Chromium at /usr/bin/chromium and the `playwright` package)
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import time
from typing import Any

from playwright.sync_api import sync_playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
# a "3": two arcs, in canvas pixels
THREE = ([(95 + 60 * math.sin(t / 10 * math.pi), 95 - 45 * math.cos(t / 10 * math.pi))
          for t in range(0, 11)] +
         [(95 + 65 * math.sin(t / 10 * math.pi), 185 - 45 * math.cos(t / 10 * math.pi))
          for t in range(0, 11)])


def start_server(run: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "digitlens", "serve", "--run", run,
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if match := re.search(r"(http://\S+)", line):
            return proc, match.group(1)
    proc.kill()
    raise SystemExit("the server did not print its address")


def wait(page: Any, expr: str, timeout: float = 20.0) -> None:
    """Poll ``expr`` (the page's CSP forbids string evaluation inside wait_for_function)."""
    for _ in range(int(timeout / 0.05)):
        if page.evaluate(f"() => ({expr})"):
            return
        page.wait_for_timeout(50)
    raise SystemExit(f"timed out waiting for {expr}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--out", default="docs/images/web-explore.png")
    args = ap.parse_args()
    proc, url = start_server(args.run)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            page.goto(url)
            wait(page, "window.digitlens && window.digitlens.ready")
            box = page.get_by_test_id("draw").bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + THREE[0][0], box["y"] + THREE[0][1])
            page.mouse.down()
            for x, y in THREE[1:]:
                page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
            page.mouse.up()
            wait(page, "window.digitlens.last && window.digitlens.idle()")
            active = page.evaluate("() => window.digitlens.last.activations[0]"
                                   ".indexOf(Math.max(...window.digitlens.last.activations[0]))")
            x, y = page.evaluate(f"() => window.digitlens.neuronPoint(0, {active})")
            page.mouse.click(x, y)
            page.wait_for_selector("[data-testid=inspector-title]")
            page.wait_for_timeout(500)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
