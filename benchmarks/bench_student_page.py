"""What one frame of the student's phone page costs in Chromium at 390×844: reading the drawing
(local.js's ``localAnswer``: preprocessing, the trace, evidence and the diagram's strongest
signals) and drawing the compact network diagram (diagram.js), against the bare trace.

Starts ``digitlens classroom`` on the run, opens the student page as a phone, draws a seven, then
times each step over the pad's drawing ``--frames`` times, without and with Chromium's CPU
throttled ``--throttle`` times (DevTools' stand-in for a slower phone). Prints a table and one
JSON line.

Usage: python benchmarks/bench_student_page.py [--run runs/default] [--frames 200] [--throttle 4]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import chromium  # noqa: E402

SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.55, 0.5), (0.42, 0.85)]
TIMED = """async (frames) => {
  const { localAnswer } = await import("/explorer/js/local.js");
  const c = window.classroom, net = c.net, d = c.diagram;
  // the pad at half size, as the page reads it (draw.js's grayBytes)
  const pad = document.getElementById("draw"), w = pad.width / 2, h = pad.height / 2;
  const half = document.createElement("canvas"), x = half.getContext("2d");
  half.width = w; half.height = h; x.drawImage(pad, 0, 0, w, h);
  const rgba = x.getImageData(0, 0, w, h).data, gray = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) gray[i] = rgba[4 * i];
  const g = { gray, width: w, height: h };
  const res = localAnswer(net, g), out = { trace: [], answer: [], draw: [] };
  for (let k = 0; k < frames; k++) {
    let t0 = performance.now(); net.trace(res.input); out.trace.push(performance.now() - t0);
    t0 = performance.now(); localAnswer(net, g); out.answer.push(performance.now() - t0);
    t0 = performance.now(); d.draw(res, null, () => false); out.draw.push(performance.now() - t0);
  }
  return out;
}"""


def q(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="runs/default")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--throttle", type=float, default=4.0)
    args = ap.parse_args()
    db = Path(tempfile.mkdtemp()) / "class.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "digitlens", "classroom", "--run", args.run,
                             "--db", str(db), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    student = re.search(r"(http://\S+/)", proc.stdout.readline())
    assert student, "the classroom did not start"
    results: dict[str, dict[str, float]] = {}
    try:
        with chromium() as browser:
            ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                      has_touch=True, device_scale_factor=2)
            page = ctx.new_page()
            page.goto(student[1])
            page.wait_for_function("() => window.classroom && window.classroom.ready")
            box = page.get_by_test_id("draw").bounding_box()
            xy = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in SEVEN]
            page.mouse.move(*xy[0])
            page.mouse.down()
            for x, y in xy[1:]:
                page.mouse.move(x, y, steps=6)
            page.mouse.up()
            page.wait_for_function("() => window.classroom.prediction !== null")
            cdp = ctx.new_cdp_session(page)
            for rate in (1.0, args.throttle):
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
                got = page.evaluate(TIMED, args.frames)
                name = f"cpu {rate:g}× slower" if rate > 1 else "cpu as is"
                results[name] = {f"{k}_{s}_ms": round(q(v, p), 3) for k, v in got.items()
                                 for s, p in (("p50", 0.5), ("p95", 0.95))}
            sizes = page.evaluate("() => window.classroom.net.sizes.join('-')")
            ctx.close()
    finally:
        proc.terminate()
        proc.wait()
    print(f"student page at 390×844, network {sizes}, {args.frames} frames each")
    print(f"{'':<17}{'trace p50/p95':>18}{'localAnswer p50/p95':>24}{'diagram p50/p95':>20}")
    for name, r in results.items():
        print(f"{name:<17}{r['trace_p50_ms']:>9.2f}/{r['trace_p95_ms']:<8.2f}"
              f"{r['answer_p50_ms']:>14.2f}/{r['answer_p95_ms']:<9.2f}"
              f"{r['draw_p50_ms']:>11.2f}/{r['draw_p95_ms']:<8.2f}")
    print(json.dumps({"sizes": sizes, "frames": args.frames, **results}))


if __name__ == "__main__":
    main()
