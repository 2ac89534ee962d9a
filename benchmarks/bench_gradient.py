"""The page's gradient step (static/js/gradient.js) measured: parity with the Python engine
over the 1,000 test digits of the embedded sample with random labels, and one step's time in
Chromium for the 784-512-256-10 default beside the forward pass alone.

Parity: for each net (ReLU, sigmoid outputs + quadratic cost, tanh; trained one epoch on the
sample) engine.js's gradient of every digit, run in Node, against ``backward`` in float64
(``MLP.loss_and_gradient``); the error of a layer is its largest difference over its largest
entry. Goal: ≤ 1e-4. The default architecture is checked on the first 100 digits (its 535,818
gradients a digit make the full set 2 GB).

Timing, in Debian's Chromium (Playwright), on a 784-512-256-10 ReLU net trained one epoch on
the sample: the engine alone (``net.step``: forward, gradients, SGD update, the stepped net's
forward; beside ``net.trace``), then the served explorer: Step pressed on a test digit, from
the press to every view redrawn with the stepped network and the step card's pictures drawn,
beside the explorer's forward-only redraw. Goal for a step: p95 ≤ 16 ms (one frame).

Usage: python benchmarks/bench_gradient.py [--skip-parity] [--skip-browser] [--repeats 200]
[--steps 60]
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from digitlens.data.sources import load_sample
from digitlens.export.json_format import export_json
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train

ROOT = Path(__file__).parents[1]
JS = ROOT / "src/digitlens/web/static/js"
RUNNER = ROOT / "tests/web/gradient_runner.mjs"
NETS = {
    "relu 784-64-32-10": TrainConfig(layers=(784, 64, 32, 10), epochs=1, dataset="mnist-sample",
                                     seed=1),
    "sigmoid+quadratic 784-30-10": TrainConfig(
        layers=(784, 30, 10), activation="sigmoid", output="sigmoid", cost="quadratic",
        init="xavier", optimizer="sgd", lr=3.0, batch_size=10, epochs=1, dataset="mnist-sample",
        seed=2),
    "tanh 784-40-20-10": TrainConfig(layers=(784, 40, 20, 10), activation="tanh", init="xavier",
                                     epochs=1, dataset="mnist-sample", seed=3),
}
DEFAULT = TrainConfig(layers=(784, 512, 256, 10), epochs=1, dataset="mnist-sample", seed=0)


def trained(cfg: TrainConfig, folder: Path) -> MLP:
    train(cfg, load_sample(), folder)
    return load_model(folder)


def node_gradients(tmp: Path, model: MLP, x: np.ndarray, labels: list[int]) -> np.ndarray:
    """engine.js's gradient of each row, (n, params) in the runner's order."""
    export_json(model, tmp / "net.json")
    job = {"network": str(tmp / "net.json"), "labels": labels,
           "inputs": base64.b64encode(np.ascontiguousarray(x).tobytes()).decode()}
    (tmp / "job.json").write_text(json.dumps(job))
    subprocess.run(["node", str(RUNNER), str(JS / "engine.js"), str(tmp / "job.json"),
                    str(tmp / "out.json"), str(tmp / "out.bin")], check=True)
    out = json.loads((tmp / "out.json").read_text())
    if "error" in out:
        raise SystemExit(out["error"])
    return np.fromfile(tmp / "out.bin", np.float32).reshape(len(labels), -1)


def parity(name: str, model: MLP, n: int, chunk: int, tmp: Path) -> None:
    sample = load_sample()
    x = sample.test_images.reshape(-1, 784)[:n].astype(np.float32) / 255
    labels = np.random.default_rng(0).integers(0, 10, n).tolist()
    bounds = [*model.w_slices, *model.b_slices]
    errors = []
    for start in range(0, n, chunk):
        got = node_gradients(tmp, model, x[start:start + chunk], labels[start:start + chunk])
        for k, js in enumerate(got):
            _, grad = model.loss_and_gradient(x[start + k], np.array([labels[start + k]]))
            at, worst = 0, 0.0
            for layer, (a, b) in enumerate(bounds):
                ref = grad[a:b]
                if layer < model.n_layers:  # weights: the runner lays them out neurons × inputs
                    ref = ref.reshape(model.weights[layer].shape).T.ravel()
                part = js[at:at + b - a]
                at += b - a
                scale = float(np.abs(ref).max())
                if scale:
                    worst = max(worst, float(np.abs(part - ref).max()) / scale)
            errors.append(worst)
    e = np.array(errors)
    print(f"  {name:<32}{n:>6} digits   median {np.median(e):.1e}   max {e.max():.1e}   "
          f"{'ok' if e.max() <= 1e-4 else 'OVER 1e-4'}")


PAGE = """<!doctype html><meta charset="utf-8"><script type="module">
import { loadNetwork } from "./js/engine.js";
const doc = await (await fetch("net.json")).json(), net = loadNetwork(doc);
const digits = await (await fetch("digits.json")).json();
const time = (f) => { const t = performance.now(); f(); return performance.now() - t; };
const xs = digits.images.map((d) => Float32Array.from(d, (v) => v / 255));
const steps = [], traces = [];
for (let r = 0; r < REPEATS; r++) {
  const k = r % xs.length, label = (digits.labels[k] + 1 + (r % 9)) % 10;
  traces.push(time(() => net.trace(xs[k])));
  steps.push(time(() => net.step(xs[k], label, { lr: 0.01, optimizer: "sgd" })));
}
window.result = { steps, traces };
</script>"""


class Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves the benchmark's page without a log line per file."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: ARG002
        return None


def browser_timing(model: MLP, repeats: int, tmp: Path) -> None:
    from support import chromium  # tests/support.py: Debian's Chromium through Playwright
    site = tmp / "site"
    shutil.copytree(JS, site / "js")
    export_json(model, site / "net.json")
    sample = load_sample()
    (site / "digits.json").write_text(json.dumps({
        "images": sample.test_images[:50].reshape(50, -1).tolist(),
        "labels": sample.test_labels[:50].tolist()}))
    (site / "bench.html").write_text(PAGE.replace("REPEATS", str(repeats)))
    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/bench.html")
            page.wait_for_function("() => window.result", timeout=600_000)
            result = page.evaluate("() => window.result")
    finally:
        server.shutdown()
    print(f"  {'ms, Chromium, 784-512-256-10':<32}{'n':>6}{'p50':>9}{'p95':>9}{'max':>9}")
    for name, key in (("net.step (one SGD step)", "steps"), ("net.trace (forward only)", "traces")):
        a = np.array(result[key][5:])  # the first few run before the JIT settles
        p50, p95 = np.percentile(a, [50, 95])
        print(f"  {name:<32}{len(a):>6}{p50:>9.2f}{p95:>9.2f}{a.max():>9.2f}")


def explorer_timing(run: Path, repeats: int) -> None:
    """The explorer served with the default network: Step pressed ``repeats`` times (each
    undone, so every step starts from the trained net) on test digit 0 taught a wrong label.
    A step's time runs from the press to every view redrawn with the stepped network and the
    card's pictures drawn; the redraw is the page's forward pass and views alone."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_web_load import start_server  # type: ignore[import-not-found]

    from support import chromium, stop_process
    proc, host, port = start_server(run)
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"http://{host}:{port}/?test=0")
            page.wait_for_function("() => window.digitlens && window.digitlens.ready "
                                   "&& window.digitlens.last", timeout=120_000)
            page.evaluate("""() => { const s = document.querySelector('[data-testid=step-label]');
                s.value = String((window.digitlens.last.prediction + 1) % 10); }""")
            for _ in range(repeats):
                page.evaluate("() => document.querySelector('[data-testid=step-go]').click()")
                page.wait_for_timeout(150)
                page.evaluate("() => document.querySelector('[data-testid=step-undo]').click()")
                page.wait_for_timeout(50)
            live = page.evaluate("""() => ({ steps: window.digitlens.stepLab.timings,
                redraws: window.digitlens.engine.map((e, i) => e + window.digitlens.draws[i]) })""")
    finally:
        stop_process(proc)
    print(f"  {'ms, explorer, 784-512-256-10':<32}{'n':>6}{'p50':>9}{'p95':>9}{'max':>9}")
    for name, key in (("step + every view redrawn", "steps"), ("forward-only redraw", "redraws")):
        a = np.array(live[key][3:])
        p50, p95 = np.percentile(a, [50, 95])
        print(f"  {name:<32}{len(a):>6}{p50:>9.2f}{p95:>9.2f}{a.max():>9.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-parity", action="store_true")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--repeats", type=int, default=200, help="engine steps timed")
    ap.add_argument("--steps", type=int, default=60, help="steps pressed in the explorer")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        default = trained(DEFAULT, tmp / "default")
        if not args.skip_parity:
            print("gradient parity, engine.js vs backward (float64), random labels")
            for net, cfg in NETS.items():
                parity(net, trained(cfg, tmp / net.split()[0]), 1000, 250, tmp)
            parity("relu 784-512-256-10 (default)", default, 100, 20, tmp)
        if not args.skip_browser:
            browser_timing(default, args.repeats, tmp)
            explorer_timing(tmp / "default", args.steps)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    main()
