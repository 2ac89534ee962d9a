"""Memory of ``digitlens serve`` under 40 concurrent cold requests of each expensive kind.

For each kind (dream, map, map/near, nudge, attribute, neuron, ablate, test, workbook) a fresh
server process is started on the run and its RSS read from ``/proc`` (fresh), then again after
one prediction of a test digit (loaded: the model and its dataset in memory, every cache of
the kind still cold). 40 concurrent requests are fired while RSS is sampled every 10 ms
(peak), and RSS is read 2 s after the last answer (after; above loaded, what the kind's caches
keep). Two bursts per kind, each on its own fresh server: 40 identical requests (one
computation is shared) and 40 different ones (a few run, a few wait, the rest get 503 with
Retry-After). Goal: peak <= +500 MB over the fresh server, and memory handed back after.

A server whose RSS passes ``--ceiling-mb`` is stopped and the row says so (to measure an older
server without taking the machine down).

Usage: python benchmarks/bench_web_memory.py [--run RUN_FOLDER] [--requests 40] [--kinds dream,map]
(without --run: an untrained net of the ``default`` preset, as bench_hostile_server.py makes)
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from bench_hostile_server import make_runs, rss_mb, start

Request = tuple[str, str, dict[str, Any] | None]  # method, path (with query), JSON body


def drawing(i: int) -> dict[str, Any]:
    """A 280×280 canvas with one stroke, as the page sends it (base64 gray bytes): the i-th
    differs from every other."""
    rng = np.random.default_rng(i)
    canvas = np.zeros((280, 280), np.uint8)
    x0, y0 = rng.integers(60, 200, 2)
    for t in np.linspace(0, 1, 200):
        x, y = int(x0 + 60 * np.sin(6 * t + i)), int(y0 + 80 * t - 40)
        canvas[max(0, y - 8):y + 8, max(0, x - 8):x + 8] = 255
    return {"gray": base64.b64encode(canvas.tobytes()).decode(), "width": 280, "height": 280}


def requests(kind: str, i: int, sizes: list[int]) -> Request:
    """The i-th request of a kind (i = 0 for every request of an identical burst)."""
    hidden = len(sizes) - 2
    if kind == "dream":
        layer = i % (len(sizes) - 1)
        return "POST", "/api/dream", {"layer": layer, "neuron": i % sizes[layer + 1]}
    if kind == "map":
        return "GET", f"/api/map?layer={i % hidden}", None
    if kind == "map/near":
        acts = np.random.default_rng(i).random(sizes[hidden]).round(4).tolist()
        return "POST", "/api/map/near", {"layer": hidden - 1, "activations": acts}
    if kind == "nudge":
        return "POST", "/api/nudge", drawing(i)
    if kind == "attribute":
        return "POST", "/api/attribute", {**drawing(i), "target": "all"}
    if kind == "neuron":
        return "POST", "/api/neuron", {"layer": 0, "neuron": i, "test_index": 0}
    if kind == "ablate":
        return "POST", "/api/ablate", {"knockout": {"0": [i, i + 1]}}
    if kind == "test":  # test digits by class: one shared evaluation of the test set
        return "GET", f"/api/test?label={i % 10}&offset={i // 10}", None
    if kind == "workbook":
        return "GET", f"/api/runs/default/export/xlsx?digit={i % 10}", None
    raise ValueError(kind)


KINDS = ("dream", "map", "map/near", "nudge", "attribute", "neuron", "ablate", "test", "workbook")


def send(base: str, req: Request) -> int:
    method, path, body = req
    data = json.dumps({"run": "default", **body}).encode() if body is not None else None
    r = urllib.request.Request(base + path, data, {"Content-Type": "application/json"},  # noqa: S310
                               method=method)
    try:
        with urllib.request.urlopen(r, timeout=600) as answer:  # noqa: S310
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)
    except OSError:
        return 0  # the server was stopped at the ceiling


def burst(root: Path, kind: str, n: int, identical: bool, sizes: list[int],
          ceiling: float) -> dict[str, Any]:
    proc, host, port = start(root, root.parent / f"server-{kind.replace('/', '-')}.log")
    base = f"http://{host}:{port}"
    try:
        time.sleep(0.5)
        fresh = rss_mb(proc.pid)
        send(base, ("POST", "/api/predict", {"test_index": 0, "include": []}))
        time.sleep(0.5)
        loaded = rss_mb(proc.pid)
        samples: list[float] = []
        stop, stopped = threading.Event(), threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append(rss_mb(proc.pid))
                if samples[-1] > ceiling and not stopped.is_set():
                    stopped.set()
                    proc.kill()
                time.sleep(0.01)
        sampler = threading.Thread(target=sample)
        sampler.start()
        statuses: list[int] = []
        t0 = time.perf_counter()
        threads = [threading.Thread(target=lambda i=i: statuses.append(send(
            base, requests(kind, 0 if identical else i, sizes)))) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
        time.sleep(2)
        stop.set()
        sampler.join()
        after = rss_mb(proc.pid) if not stopped.is_set() else float("nan")
        return {"fresh": fresh, "loaded": loaded, "peak": max(samples), "after": after,
                "seconds": seconds, "statuses": Counter(statuses), "stopped": stopped.is_set()}
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def row(kind: str, how: str, m: dict[str, Any], budget: float) -> str:
    codes = " ".join(f"{c}×{k}" for k, c in sorted(m["statuses"].items()))
    verdict = ("STOPPED at the ceiling" if m["stopped"] else
               "ok" if m["peak"] - m["fresh"] <= budget else "OVER BUDGET")
    return (f"{kind:<10} {how:<9} {m['fresh']:6.0f} {m['loaded']:7.0f} {m['peak']:6.0f} "
            f"{m['peak'] - m['fresh']:+7.0f} {m['after']:6.0f} {m['after'] - m['loaded']:+14.0f} "
            f"{m['seconds']:7.1f}  {codes:<16} {verdict}")


def copy_run(run: Path) -> Path:
    root = Path(tempfile.mkdtemp(prefix="bench-web-memory-")) / "runs"
    dest = root / "default"
    dest.mkdir(parents=True)
    for f in run.iterdir():
        if f.is_file():
            shutil.copy2(f, dest / f.name)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a trained run folder (default: untrained net)")
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--budget-mb", type=float, default=500)
    ap.add_argument("--ceiling-mb", type=float, default=4000)
    args = ap.parse_args()
    if args.run:
        root, what = copy_run(args.run), str(args.run)
    else:
        root, what = make_runs()
    from digitlens.nn.io import load_model
    sizes = list(load_model(root / "default").sizes)
    print(f"serving {what} ({'-'.join(map(str, sizes))}); {args.requests} concurrent cold "
          f"requests per burst, each burst on a fresh server; RSS in MB")
    print(f"{'kind':<10} {'requests':<9} {'fresh':>6} {'loaded':>7} {'peak':>6} {'peak+':>7} "
          f"{'after':>6} {'after-loaded':>14} {'seconds':>7}  {'answers':<16} "
          f"goal: peak+ (over fresh) <= {args.budget_mb:.0f}")
    for kind in [k for k in args.kinds.split(",") if k]:
        for identical in (True, False):
            m = burst(root, kind, args.requests, identical, sizes, args.ceiling_mb)
            print(row(kind, "identical" if identical else "different", m, args.budget_mb),
                  flush=True)
    shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
