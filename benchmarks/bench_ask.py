"""Asking the net about a drawing, measured on the real MNIST: nudges (DeepFool beside FGSM),
integrated gradients (completeness and speed) and dreams (every output class against the best
training digit). Goals: DeepFool flips >= 99 % of the first 1,000 test digits, its median L2
at least 3x smaller than FGSM's, <= 20 ms per digit, every nudged digit really read as `to`;
integrated gradients' completeness error <= 1 % at 64 steps, <= 30 ms per digit; every class
dream above max_train_activation, <= 2 s per neuron.

Usage: python benchmarks/bench_ask.py [--run runs/default] [--n 1000] [--ig 1000] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from digitlens.analysis import dream as D
from digitlens.analysis import nudge as N
from digitlens.analysis.integrated import attribute
from digitlens.data.sources import load_dataset
from digitlens.nn.io import load_model


def timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="runs/default")
    ap.add_argument("--n", type=int, default=1000, help="test digits to nudge")
    ap.add_argument("--ig", type=int, default=1000, help="test digits for integrated gradients")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1, as the "
                    "web server uses: one digit's matrices are too small to share)")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=args.threads, user_api="blas")
    model = load_model(args.run)
    ds = load_dataset(model.meta.get("dataset", {}).get("name", "mnist"), None, fetch=False)
    print(f"model {model.describe()} on {ds.name}")
    x = ds.test_images[: args.n]

    df, t_df = timed(N.nudge_many, model, x)
    fg, t_fg = timed(N.nudge_many, model, x, "fgsm")
    ok = [r for r in df if r is not None and r.flipped]
    okf = [r for r in fg if r is not None and r.flipped]
    agree = all(int(model.trace(r.adversarial).prediction[0]) == r.to != r.source for r in ok)
    med_df = float(np.median([r.l2 for r in ok]))
    med_fg = float(np.median([r.l2 for r in okf]))
    eps = np.array([r.epsilon for r in okf], np.float64)
    step = float(np.median(eps)) * np.sqrt(784)  # the signed step's own L2, before the box
    print(f"nudge, first {len(x)} test digits")
    print(f"  DeepFool: flipped {len(ok)}/{len(x)} ({len(ok) / len(x):.1%}), median L2 "
          f"{med_df:.3f}, {1000 * t_df / len(x):.1f} ms per digit, engine agrees: {agree}")
    print(f"  FGSM:     flipped {len(okf)}/{len(x)}, median L2 of the change {med_fg:.3f} "
          f"(median eps {np.median(eps):.3f}; the step eps*sign, unclipped, L2 {step:.3f}), "
          f"{1000 * t_fg / len(x):.1f} ms per digit")
    print(f"  ratio FGSM / DeepFool median L2: {med_fg / med_df:.2f}x (clipped change), "
          f"{step / med_df:.2f}x (the signed step, as the paper measures it)")

    errs, t_ig = [], 0.0
    for im in ds.test_images[: args.ig]:
        a, dt = timed(attribute, model, im, steps=64)
        errs.append(a.completeness_error)
        t_ig += dt
    errs_a = np.array(errs)
    print(f"integrated gradients, 64 steps, black baseline, {len(errs_a)} test digits")
    print(f"  completeness error max {errs_a.max():.3%}, median {np.median(errs_a):.3%}, "
          f"<= 1 %: {np.mean(errs_a <= 0.01):.1%} of digits; {1000 * t_ig / len(errs_a):.1f} ms "
          f"per digit")

    train = model.as_input(ds.train_images)
    maxima, t_max = timed(D.train_maxima, model, train)
    start = train.mean(axis=0)
    out = model.n_layers - 1
    print(f"dreams (train maxima: one pass over {len(train)} digits, {t_max:.2f} s)")
    times, beat = [], 0
    for c in range(model.sizes[-1]):
        d, dt = timed(D.dream, model, out, c, start, max_train=float(maxima[out][c]))
        times.append(dt)
        beat += d.activation > float(maxima[out][c])
        print(f"  class {c}: {d.activation:7.2f} vs best training digit {maxima[out][c]:6.2f} "
              f"(start {d.start_activation:6.2f}), {dt:.2f} s")
    hidden = [D.dream(model, 0, j, start, max_train=float(maxima[0][j])) for j in range(10)]
    print(f"  {beat}/{model.sizes[-1]} class dreams above max_train_activation; max "
          f"{max(times):.2f} s per neuron; first-layer neurons 0-9 above their best digit: "
          f"{sum(h.activation > (h.max_train_activation or 0) for h in hidden)}/10")


if __name__ == "__main__":
    main()
