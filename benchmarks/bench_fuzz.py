"""Hostile files, counted: seeded mutations of model files, run folders, ONNX, JSON, IDX and
images through the real loaders; prints, per loader, the cases and how they ended (clean
errors, loaded and verified, internal errors, hangs, NaN answers). Goal: 0 internal errors,
0 hangs, 0 NaN answers over >= 10,000 model/run files, >= 2,000 ONNX, >= 2,000 JSON,
>= 2,000 IDX and >= 1,000 images. The fuzzers are tests/fuzzing.py (the tests run fewer).

Usage: python benchmarks/bench_fuzz.py [--scale 1.0] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import fuzzing  # noqa: E402

COUNTS = {"model": 7000, "run": 3000, "onnx": 2000, "json": 2000, "idx": 2000, "image": 1000}


def small_run() -> Path:
    """A real two-epoch run on the embedded sample (config, history, checkpoint, snapshots)."""
    from digitlens.data.sources import load_sample
    from digitlens.nn.presets import TrainConfig
    from digitlens.nn.train import train
    run = Path(tempfile.mkdtemp(prefix="bench-fuzz-")) / "run"
    train(TrainConfig(layers=(784, 16, 10), epochs=2, batch_size=64, seed=1,
                      dataset="mnist-sample", preset="fuzz"), load_sample(), run)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every count")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = {k: max(1, int(v * args.scale)) for k, v in COUNTS.items()}
    run = small_run()
    runners = {"model": lambda: fuzzing.model_cases(n["model"], args.seed),
               "run": lambda: fuzzing.run_folder_cases(n["run"], args.seed + 1, run),
               "onnx": lambda: fuzzing.onnx_cases(n["onnx"], args.seed + 2),
               "json": lambda: fuzzing.json_cases(n["json"], args.seed + 3),
               "idx": lambda: fuzzing.idx_cases(n["idx"], args.seed + 4),
               "image": lambda: fuzzing.image_cases(n["image"], args.seed + 5)}
    bad = 0
    print(f"seed {args.seed}; a hang is a case over {fuzzing.HANG_S:.0f} s")
    for runner in runners.values():
        t0 = time.perf_counter()
        tally = runner()
        print(f"{tally.line()}  [{time.perf_counter() - t0:.1f} s]", flush=True)
        for failure in tally.failures:
            print("    " + failure)
        bad += tally.bad()
    files = n["model"] + n["run"]
    print(f"model + run files: {files} cases; total failures (internal + hangs + NaN): {bad}")
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
