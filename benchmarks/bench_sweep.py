"""Sweep figures, measured in one run on the S3 net (784-h-10 sigmoid) on MNIST:

- the points one after another in this process vs a local Dask cluster of ``--workers``
  processes, in alternating rounds: wall time ratio (goal ≤ 0.6) and scheduling overhead per
  point (goal ≤ 0.2 s: each round's wall time minus its busiest worker's time inside its
  tasks, per point);
- the same sweep on a ``dask scheduler`` and two ``dask worker`` processes on loopback: the
  numbers bit for bit the same as the local cluster's;
- again with one worker killed mid-sweep: every point completes, still bit-identical.

Usage: nice python benchmarks/bench_sweep.py [--hidden 8,32,64,128] [--seeds 0,1,2]
       [--epochs 30] [--dataset mnist] [--workers 2]   (quick: --epochs 2 --dataset mnist-sample)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.nn.presets import get_preset
from digitlens.sweep import grid as G
from digitlens.sweep.execute import Cluster, run_point

BIN = Path(sys.executable).parent


def specs_for(folder: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    base = get_preset("s3-machine-academy").config.with_overrides(epochs=args.epochs,
                                                                  dataset=args.dataset)
    pts = G.points(G.parse_grid(f"hidden={args.hidden}"), G.parse_seeds(args.seeds), base)
    return [{"name": p.name, "config": G.apply(base, p.settings, p.seed).to_dict(),
             "run_dir": str(folder / p.name), "data_dir": None, "fetch": True} for p in pts]


def numbers(folder: Path) -> dict[str, Any]:
    out = {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        hist = json.loads((d / "history.json").read_text())["epochs"]
        with np.load(d / "model.npz") as z:
            out[d.name] = ([(h["test_accuracy"], h["loss"]) for h in hist],
                           [z[k].tobytes() for k in z.files if k != "meta"])
    return out


def serial(specs: list[dict[str, Any]]) -> float:
    t0 = time.perf_counter()
    for s in specs:
        answer = run_point(s)
        assert answer["error"] is None, answer["error"]
    return time.perf_counter() - t0


def clustered(cluster: Cluster, specs: list[dict[str, Any]]) -> tuple[float, float]:
    """(wall seconds, the busiest worker's seconds inside its tasks)."""
    busy: dict[int, float] = defaultdict(float)
    t0 = time.perf_counter()
    cluster.map(specs, lambda _s, a: busy.__setitem__(a["pid"], busy[a["pid"]] + a["seconds"]))
    return time.perf_counter() - t0, max(busy.values())


def compare(root: Path, args: argparse.Namespace) -> None:
    """Serial and clustered in alternating rounds (one seed each, ABBA order), so that the
    load of a shared machine drifting during the run weighs on both alike."""
    t0 = time.perf_counter()
    cluster = Cluster(None, args.workers)
    cluster.client.wait_for_workers(args.workers)
    started = time.perf_counter() - t0
    serial_s = cluster_s = busy_s = 0.0
    n = 0
    for i, seed in enumerate(G.parse_seeds(args.seeds)):
        a = [s for s in specs_for(root / "serial", args) if s["name"].endswith(f"-seed{seed}")]
        b = [s for s in specs_for(root / "local", args) if s["name"].endswith(f"-seed{seed}")]
        rounds = [("s", a), ("c", b)] if i % 2 == 0 else [("c", b), ("s", a)]
        for kind, specs in rounds:
            if kind == "s":
                serial_s += serial(specs)
            else:
                wall, busy = clustered(cluster, specs)
                cluster_s, busy_s, n = cluster_s + wall, busy_s + wall - busy, n + len(specs)
        print(f"  seed {seed}: one after another {serial_s:7.1f} s, cluster {cluster_s:7.1f} s "
              f"so far (load average {os.getloadavg()[0]:.1f})", flush=True)
    cluster.close()
    print(f"one after another (1 thread each): {serial_s:8.1f} s", flush=True)
    print(f"local cluster, {args.workers} workers:     {cluster_s:8.1f} s  (+{started:.1f} s to "
          f"start the cluster)   ratio {cluster_s / serial_s:.2f} (goal ≤ 0.6), with start "
          f"{(cluster_s + started) / serial_s:.2f}", flush=True)
    print(f"scheduling overhead per point:     {busy_s / n:8.3f} s  (goal ≤ 0.2)", flush=True)


def cli_sweep(folder: Path, address: str, args: argparse.Namespace) -> subprocess.Popen[str]:
    cmd = [str(BIN / "digitlens"), "sweep", "--preset", "s3-machine-academy", "--grid",
           f"hidden={args.hidden}", "--seeds", args.seeds, "--epochs", str(args.epochs),
           "--dataset", args.dataset, "--out", str(folder), "--scheduler", address, "--json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def processes(folder: Path, args: argparse.Namespace, kill: bool) -> tuple[bool, float]:
    """A scheduler and two workers as processes; (all points done, wall seconds)."""
    from distributed import Client
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                    "--no-dashboard"])]
    try:
        procs += [start([str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads",
                         "1", "--no-dashboard", "--host", "127.0.0.1"]) for _ in range(2)]
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        t0 = time.perf_counter()
        sweep = cli_sweep(folder, address, args)
        if kill:
            while not any(len(json.loads(h.read_text())["epochs"]) >= 1
                          for h in folder.glob("*/history.json")):
                time.sleep(0.1)
            os.killpg(procs[1].pid, signal.SIGKILL)
        stdout, stderr = sweep.communicate()
        wall = time.perf_counter() - t0
        if sweep.returncode != 0:
            print(stderr.strip().splitlines()[-1])
        points = json.loads(stdout.splitlines()[-1])["points"]
        return all(p["status"] == "done" for p in points), wall
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", default="8,32,64,128")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = Path(tmp)
        n = len(specs_for(root, args))
        print(f"{n} points of the S3 net (hidden {args.hidden}, seeds {args.seeds}, "
              f"{args.epochs} epochs on {args.dataset}); load average {os.getloadavg()[0]:.2f}",
              flush=True)
        compare(root, args)
        same = numbers(root / "local") == numbers(root / "serial")
        print(f"local cluster == one after another, bit for bit: {same}", flush=True)
        done, wall = processes(root / "procs", args, kill=False)
        same = numbers(root / "procs") == numbers(root / "local")
        print(f"scheduler + 2 worker processes:    {wall:8.1f} s  all done: {done}; bit for bit "
              f"as the local cluster: {same}", flush=True)
        done, wall = processes(root / "killed", args, kill=True)
        same = numbers(root / "killed") == numbers(root / "local")
        print(f"same, one worker killed mid-sweep: {wall:8.1f} s  all done: {done}; bit for bit "
              f"as the local cluster: {same}", flush=True)


if __name__ == "__main__":
    main()
