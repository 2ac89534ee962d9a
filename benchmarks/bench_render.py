"""Render speed: S3's 230-epoch evolution video and the whole report, measured in one run.

Every timing is the best of ``--repeat`` runs (a shared machine is noisy). Prints, side by
side: seconds to load the snapshots; seconds to render the evolution as MP4 and
as GIF (target ≤ 3 s each); milliseconds per frame for our NumPy mosaic and for the same mosaic
drawn with matplotlib subplots in one reused figure (target ratio ≥ 20×); and the seconds to
build the whole report for the default run (target ≤ 60 s).

Needs two runs (about a minute each to train):
  digitlens train --preset s3-machine-academy --out runs/s3-machine-academy
  digitlens train --preset default --out runs/default

Usage: python benchmarks/bench_render.py [--s3 RUN] [--default RUN] [--frames 30] [--no-report]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digitlens.data.sources import load_dataset
from digitlens.nn.run import Run
from digitlens.render import charts
from digitlens.render.views.evolution import evolution


def matplotlib_frame_ms(anim_models: list, n: int) -> float:
    """ms per frame for 64 + 10 imshow panels and a curve in one reused figure (set_data+draw)."""
    m0 = anim_models[0]
    n_hidden = min(m0.sizes[1], 64)
    fig = charts.figure(1030, 618)
    fig.set_layout_engine("none")  # a fixed layout: the fair, fast way to reuse a figure
    grid = fig.add_gridspec(8, 16, left=0.02, right=0.98, bottom=0.04, top=0.96)
    hidden_axes = [fig.add_subplot(grid[i // 8, i % 8]) for i in range(n_hidden)]
    out_axes = [fig.add_subplot(grid[(k // 5) * 2:(k // 5) * 2 + 2, 8 + (k % 5) + 1])
                for k in range(10)]
    curve_ax = fig.add_subplot(grid[5:8, 9:16])
    side = int(np.sqrt(m0.sizes[-2]))
    ims = charts.mosaic_matplotlib(hidden_axes, np.zeros((n_hidden, 28, 28)), 1.0)
    outs = charts.mosaic_matplotlib(out_axes, np.zeros((10, side, side)), 1.0)
    (line,) = curve_ax.plot([], [])
    fig.canvas.draw()
    t = time.perf_counter()
    for i in range(n):
        m = anim_models[i % len(anim_models)]
        w = m.weights[0][:, :n_hidden].T.reshape(-1, 28, 28)
        vmax = float(np.percentile(np.abs(w), 99.5))
        for im, tile in zip(ims, w, strict=True):
            im.set_data(tile)
            im.set_clim(-vmax, vmax)
        wo = m.weights[-1].T[:, : side * side].reshape(-1, side, side)
        for im, tile in zip(outs, wo, strict=True):
            im.set_data(tile)
        line.set_data(range(i + 1), np.linspace(0, 1, i + 1))
        charts.to_rgb(fig)
    return (time.perf_counter() - t) / n * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--s3", default="runs/s3-machine-academy")
    ap.add_argument("--default", default="runs/default")
    ap.add_argument("--frames", type=int, default=30, help="frames for the per-frame timing")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for every timing")
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    run = Run(args.s3)
    if len(run.snapshot_epochs()) < 2:
        print(f"no snapshots in {args.s3}; train it first (see --help)", file=sys.stderr)
        return 2
    t = time.perf_counter()
    anim = evolution(run)
    load_s = time.perf_counter() - t
    n = anim.n_frames
    out = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        timings: dict[str, float] = {}
        for ext in ("mp4", "gif"):
            runs = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                anim.save(out / f"evolution.{ext}")
                runs.append(time.perf_counter() - t)
            timings[ext] = min(runs)
        k = min(args.frames, n)
        draws = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            for i in range(k):
                anim.frame(i * (n // k))
            draws.append((time.perf_counter() - t) / k * 1000)
        ours_ms = min(draws)
        from digitlens.nn.io import load_model
        epochs = run.snapshot_epochs()[:: max(1, n // k)]
        models = [load_model(run.snapshot_path(e)) for e in epochs]
        mpl_ms = min(matplotlib_frame_ms(models, k) for _ in range(args.repeat))
        gif_frame_ms = timings["gif"] / n * 1000
        print(f"S3 evolution ({n} frames, {anim.data['size'][0]}x{anim.data['size'][1]} px, "
              f"run {args.s3})")
        print(f"  load snapshots             {load_s:6.2f} s")
        print(f"  render MP4                 {timings['mp4']:6.2f} s   (target <= 3 s) "
              f"{(out / 'evolution.mp4').stat().st_size / 1e6:.1f} MB")
        print(f"  render GIF                 {timings['gif']:6.2f} s   (target <= 3 s) "
              f"{(out / 'evolution.gif').stat().st_size / 1e6:.1f} MB")
        print(f"  per frame, NumPy mosaic    {ours_ms:6.2f} ms  (GIF incl. encoding: "
              f"{gif_frame_ms:.2f} ms)")
        print(f"  per frame, matplotlib      {mpl_ms:6.2f} ms  (64+10 imshow subplots + curve, "
              "reused figure)")
        print(f"  ratio drawing              {mpl_ms / ours_ms:6.1f}x  (target >= 20x)")
        print(f"  ratio vs our GIF frame     {mpl_ms / gif_frame_ms:6.1f}x  (matplotlib not even "
              "encoded)")
        if not args.no_report:
            if not (Path(args.default) / "model.npz").exists():
                print(f"no run in {args.default}; skipping the report timing", file=sys.stderr)
                return 0
            from digitlens.render.report import build_report
            ds = load_dataset("mnist", fetch=False)
            t = time.perf_counter()
            build_report(args.default, out / "report", ds)
            print(f"report for {args.default}      {time.perf_counter() - t:6.2f} s   "
                  "(target <= 60 s, includes training the 500-image twin)")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
