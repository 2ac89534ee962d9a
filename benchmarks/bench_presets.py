"""Accuracy figures of the presets on the real MNIST, against the goals the seeds set.

- default: ≥98.3% test accuracy within 10 epochs;
- s3-machine-academy: within 1.5 points of the seed's curve (80% at epoch 17, 90% at 79;
  the write-up also gives ~92.5% at 230);
- s4-excel (Nielsen's settings): ≥95% after 30 epochs;
- peak memory of `digitlens train` on full MNIST: ≤1 GB.

Usage: python benchmarks/bench_presets.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

from digitlens.data.sources import load_dataset
from digitlens.nn.presets import get_preset
from digitlens.nn.train import train

GOALS = {
    "default": [(10, 0.983, "≥")],
    "s3-machine-academy": [(17, 0.80, "±1.5"), (79, 0.90, "±1.5"), (230, 0.925, "±1.5")],
    "s4-excel": [(30, 0.95, "≥")],
}


def check(acc: float, goal: float, kind: str) -> bool:
    return acc >= goal if kind == "≥" else abs(acc - goal) <= 0.015


def peak_memory_mb() -> float:
    """Peak RSS of a child `digitlens train` of the default preset for one epoch."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "digitlens", "train", "--epochs", "1",
                        "--out", f"{tmp}/run", "--json"], check=True, capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=list(GOALS))
    args = ap.parse_args()
    ds = load_dataset("mnist", fallback=False)
    rows = []
    for name in args.only:
        t = time.perf_counter()
        result = train(get_preset(name).config, ds)
        seconds = time.perf_counter() - t
        accs = [h["test_accuracy"] for h in result.history]
        for epoch, goal, kind in GOALS[name]:
            acc = accs[epoch - 1]
            ok = check(acc, goal, kind)
            rows.append({"preset": name, "epoch": epoch, "accuracy": acc, "goal": f"{kind}{goal}",
                         "ok": ok})
            print(f"{name:<20} epoch {epoch:>3}: {acc:.2%}  goal {kind} {goal:.1%}  "
                  f"{'ok' if ok else 'MISSED'}  ({seconds:.0f} s for {len(accs)} epochs)")
    mem = peak_memory_mb()
    print(f"peak memory of `digitlens train` (default, full MNIST): {mem:.0f} MB (goal ≤1024)")
    print(json.dumps({"rows": rows, "peak_memory_mb": mem}))


if __name__ == "__main__":
    main()
