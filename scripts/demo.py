"""``make demo``: fetch MNIST, train the seeds' networks beside the default, build the gallery
report (only when a run changed) and serve the explorer, timing every step.

Each step is an ordinary ``digitlens`` command, so a re-run resumes finished runs instantly and
leaves an unchanged report alone. ``--dataset mnist-sample --epochs 1 --no-serve`` runs the same
steps in seconds (the tests do).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

# (run folder, preset, extra flags, what it adds to the report); the first trains in a second
# process beside the others, one core each on a two-core machine
RUNS = [
    ("s3-machine-academy", "s3-machine-academy", [], "S3: the 230-epoch training video"),
    ("s1-single-layer", "s1-single-layer", [], "S1: class weights and input × weights, exact"),
    ("s0-fingerprints", "s0-fingerprints", [], "S0: fingerprints of 784-256-64-10"),
    ("s4-excel", "s4-excel", ["--epochs", "10"], "S4: the workbook"),
    ("default", "default", [], "S2's composed weights, errors; the explorer's first run"),
    ("s2-500", "default", ["--train-size", "500", "--epochs", "20"],
     "S2: the same net on 500 images"),
]


def digitlens() -> list[str]:
    exe = Path(sys.executable).with_name("digitlens")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "digitlens"]


def step(name: str, args: list[str], times: list[tuple[str, float]]) -> None:
    print(f"== {name}: digitlens {' '.join(args)}", flush=True)
    t = time.perf_counter()
    subprocess.run([*digitlens(), *args], check=True)
    times.append((name, time.perf_counter() - t))
    print(f"== {name}: {times[-1][1]:.1f} s", flush=True)


def train_args(runs: Path, run: tuple[str, str, list[str], str], epochs: int | None,
               data: list[str]) -> list[str]:
    folder, preset, extra, _ = run
    flags = list(extra)
    if epochs is not None:
        if "--epochs" in flags:
            flags[flags.index("--epochs") + 1] = str(epochs)
        else:
            flags += ["--epochs", str(epochs)]
    return ["train", "--preset", preset, "--out", str(runs / folder), "--threads", "1",
            *flags, *data]


def last_line(log: Path) -> str:
    """Where a background run has got to: the last line its training printed."""
    try:
        lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return "starting"
    return lines[-1].strip()[:100] if lines else "starting"


def port_free(port: int) -> bool:
    """Whether the explorer could listen on ``port``: asked first, not after minutes of training."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs-dir", default="runs")
    ap.add_argument("--port", type=int, default=os.environ.get("PORT", "8000"))
    ap.add_argument("--dataset", default=None, help="e.g. mnist-sample for a quick try")
    ap.add_argument("--epochs", type=int, help="cap every run's epochs (quick tries)")
    ap.add_argument("--no-serve", action="store_true", help="stop after the report")
    a = ap.parse_args(argv)
    if not a.no_serve and not port_free(a.port):
        raise SystemExit(f"demo: port {a.port} is in use; choose another, e.g. "
                         f"make demo PORT={a.port + 1}")
    runs = Path(a.runs_dir)
    data = ["--dataset", a.dataset] if a.dataset else []
    times: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    if a.dataset in (None, "mnist"):
        step("MNIST", ["data", "fetch"], times)
    runs.mkdir(parents=True, exist_ok=True)
    first = RUNS[0]
    log = runs / f"{first[0]}.log"
    print(f"-- {first[3]}: training in the background (log: {log})", flush=True)
    t1 = time.perf_counter()
    with log.open("w") as fh:
        side = subprocess.Popen([*digitlens(), *train_args(runs, first, a.epochs, data)],
                                stdout=fh, stderr=subprocess.STDOUT)
    finished: list[float] = []
    watch = threading.Thread(target=lambda: finished.append((side.wait(), time.perf_counter())[1]))
    watch.start()
    for run in RUNS[1:]:
        print(f"-- {run[3]}", flush=True)
        step(run[0], train_args(runs, run, a.epochs, data), times)
        print(f"   {first[3]}, in the background: {last_line(log)}", flush=True)
    watch.join()
    if side.returncode:
        print(log.read_text()[-2000:], file=sys.stderr)
        raise SystemExit(f"training {first[0]} failed (see {log})")
    times.append((first[0] + " (beside the others)", finished[0] - t1))
    report = ["report", "--if-changed", "--out", str(runs / "report"), *data]
    for folder, *_ in sorted(RUNS, key=lambda r: r[0] != "default"):  # default's numbers lead
        report += ["--run", str(runs / folder)]
    step("report", report, times)
    total = time.perf_counter() - t0
    print("\ndemo steps: " + ", ".join(f"{n} {s:.0f} s" for n, s in times)
          + f"; total {total:.0f} s")
    print(f"report: {runs / 'report' / 'index.html'}")
    if a.no_serve:
        return 0
    print(f"explorer: http://127.0.0.1:{a.port}/ (every run in {runs}/ is in its model picker)",
          flush=True)
    serve = [*digitlens(), "serve", "--runs-dir", str(runs), "--run", str(runs / "default"),
             "--port", str(a.port)]
    try:
        return subprocess.call(serve)  # Ctrl-C stops the explorer and the demo
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
