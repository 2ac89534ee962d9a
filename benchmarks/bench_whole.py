"""The whole network and two networks, measured in one run on real MNIST and the default net:

* hidden-space maps: PCA of the 10,000 test digits for every hidden layer (budget 1 s), and
  the linear-probe separation per layer from the input pixels to the last hidden layer;
* compare: two 784-512-256-10 nets, evaluation and one-to-one neuron matching (budget 5 s);
* the neuron monitor's cost per epoch as a share of the run's epoch time (budget 5%);
* with ``--lr-runs`` run folders trained at several learning rates, their dead neurons per epoch.

Usage: python benchmarks/bench_whole.py --run runs/default [--other runs/other]
       [--lr-runs runs/lr-1e-3 runs/lr-1e-2 runs/lr-3e-2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from digitlens.analysis.compare import compare_models
from digitlens.analysis.maps import all_layers, fit_pca, probe_accuracy
from digitlens.analysis.monitor import PROBE_SIZE, counts_of
from digitlens.data.sources import load_dataset
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import get_preset
from digitlens.nn.run import Run
from digitlens.nn.threads import blas_threads
from digitlens.nn.train import as_float, train


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="runs/default")
    ap.add_argument("--other", help="a second run of the same shape (default: a fresh net)")
    ap.add_argument("--lr-runs", nargs="*", default=[])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--browser", action="store_true",
                    help="also time the moving point in Chromium (digitlens serve + Playwright)")
    a = ap.parse_args()
    if a.browser:
        browser_point(a.run)
    ds = load_dataset("mnist", fetch=False)
    model = load_model(a.run)
    x, y = ds.test_images, ds.test_labels
    with blas_threads(None) as threads:
        print(f"{model.describe()} on {len(y):,} MNIST test digits, {threads} BLAS thread(s)")
        t_fwd = best(lambda: all_layers(model, x), a.repeat)
        acts = all_layers(model, x)
        t_pca = best(lambda: [fit_pca(h).project(h) for h in acts[1:]], a.repeat)
        t_pix = best(lambda: fit_pca(acts[0]).project(acts[0]), a.repeat)
        print(f"maps: forward pass {t_fwd:.3f} s; PCA of every hidden layer {t_pca:.3f} s "
              f"(budget 1 s: {'ok' if t_pca <= 1 else 'OVER'}); with the forward pass "
              f"{t_fwd + t_pca:.3f} s; the pixels' PCA {t_pix:.3f} s")
        names = ["input pixels"] + [f"hidden layer {k + 1}" for k in range(len(acts) - 1)]
        seps = [probe_accuracy(h, y) for h in acts]
        print("separation (linear probe, fitted on 5,000 test digits, scored on 5,000): " +
              " -> ".join(f"{n} {s:.2%}" for n, s in zip(names, seps, strict=True)))

        other = load_model(a.other) if a.other else MLP.create(model.sizes, seed=99)
        t_cmp = best(lambda: compare_models(model, other, x, y), max(1, a.repeat // 2))
        c = compare_models(model, other, x, y).to_dict()
        print(f"compare {'-'.join(map(str, model.sizes))} vs {'-'.join(map(str, other.sizes))}:"
              f" {t_cmp:.2f} s with {len(c['matches'])} neurons matched (budget 5 s: "
              f"{'ok' if t_cmp <= 5 else 'OVER'}); accuracy {c['accuracy_a']:.2%} vs "
              f"{c['accuracy_b']:.2%}, {c['disagreements']['count']} disagreements, mean "
              f"similarity {c['mean_similarity']:+.3f}")

        trace = model.trace(as_float(x[:5000]))
        probe = [act[:PROBE_SIZE] for act in trace.activations]
        t_mon = best(lambda: counts_of(model, probe), a.repeat * 2)
        cfg = get_preset("default").config.with_overrides(epochs=1)
        t_epoch = best(lambda: train(cfg, ds, threads=threads), 1)
    print(f"monitor: {t_mon * 1000:.1f} ms per epoch on {PROBE_SIZE:,} probe digits (their "
          f"activations come from the epoch's test evaluation); one epoch of the default preset "
          f"here {t_epoch:.2f} s (with its evaluation) -> {t_mon / t_epoch:.2%} of an epoch "
          f"(budget 5%: {'ok' if t_mon / t_epoch <= 0.05 else 'OVER'})")
    for path in a.lr_runs:
        h = Run(path).history()
        cfg = json.loads((Path(path) / "config.json").read_text())
        rows = [r for r in h if r.get("neurons")]
        if not rows:
            continue
        dead = " ".join("/".join(str(n["dead"]) for n in r["neurons"]) for r in rows)
        print(f"lr {cfg['lr']:g} ({cfg['optimizer']}): dead per epoch (layer 1/layer 2 of "
              f"{'/'.join(str(n['n']) for n in rows[0]['neurons'])}): {dead}; test accuracy "
              f"{rows[-1]['test_accuracy']:.2%}")


def browser_point(run: str) -> None:
    """Milliseconds per update of the explorer's moving point (projection + redraw of the map
    with its 10,000 test digits), against a 60 Hz frame (16.7 ms)."""
    import re
    import subprocess
    import sys

    from playwright.sync_api import sync_playwright
    proc = subprocess.Popen([sys.executable, "-m", "digitlens", "serve", "--port", "0", "--run",
                             run], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = re.search(r"(http://\S+)", proc.stdout.readline()).group(1)  # type: ignore[union-attr]
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                  args=["--no-sandbox", "--disable-gpu"])
            page = b.new_page(viewport={"width": 1366, "height": 768})
            page.goto(url)
            for _ in range(1200):  # a function, not a string: the page's CSP forbids eval
                if page.evaluate("() => !!(window.digitlens && window.digitlens.map && "
                                 "window.digitlens.map.map)"):
                    break
                page.wait_for_timeout(100)
            ms = page.evaluate("""() => {
              const m = window.digitlens.map, n = m.map.mean.length, t = [];
              for (let k = 0; k < 200; k++) {
                const acts = Array.from({length: n}, () => Math.random());
                const res = {has_ink: true, activations: []};
                res.activations[m.map.layer] = Float32Array.from(acts);
                const t0 = performance.now(); m.update(res); t.push(performance.now() - t0);
              }
              t.sort((a, b) => a - b); return [t[100], t[190]];
            }""")
            b.close()
        print(f"explorer: moving point (projection + redraw) median {ms[0]:.2f} ms, 95th "
              f"percentile {ms[1]:.2f} ms per update (a 60 Hz frame is 16.7 ms)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
