"""Why a 3 and not an 8, measured on the real MNIST: circuits (target = the prediction,
contrast = the runner-up, at most 30 neurons) and patching, on the default net. Goals: median
`restored` >= 0.8 and median `removed` >= 0.8 over 200 test digits; patching and circuit gaps
within 1e-5 of an independent float64 forward pass written out here.

Usage: python benchmarks/bench_circuits.py [--run runs/default] [--n 200] [--max-nodes 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from digitlens.analysis.patching import circuit, hidden_means, patch
from digitlens.data.sources import load_dataset
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP


def scores(model: MLP, x: np.ndarray, edit: dict[int, dict[int, float]] | None = None
           ) -> tuple[list[np.ndarray], np.ndarray]:
    """The independent forward pass: float64, one layer at a time, hidden values editable."""
    a = x.astype(np.float64).ravel() / 255
    hidden: list[np.ndarray] = []
    for layer in range(model.n_layers):
        z = a @ model.weights[layer].astype(np.float64) + model.biases[layer]
        if layer == model.n_layers - 1:
            return hidden, z
        a = np.maximum(z, 0) if model.activations[layer] == "relu" else np.tanh(z) \
            if model.activations[layer] == "tanh" else 1 / (1 + np.exp(-z))
        for j, v in (edit or {}).get(layer, {}).items():
            a[j] = v
        hidden.append(a.copy())
    raise SystemExit("a network without layers")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="runs/default")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--max-nodes", type=int, default=30)
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1, user_api="blas")
    model = load_model(f"{args.run}/model.npz" if not args.run.endswith(".npz") else args.run)
    ds = load_dataset("mnist", fallback=False)
    x = ds.test_images
    t0 = time.perf_counter()
    means = hidden_means(model, x)
    t_means = time.perf_counter() - t0
    restored, removed, times, gap_err = [], [], [], 0.0
    for i in range(args.n):
        t0 = time.perf_counter()
        c = circuit(model, x[i], means, max_nodes=args.max_nodes)
        times.append(time.perf_counter() - t0)
        restored.append(c.restored)
        removed.append(c.removed)
        _, z = scores(model, x[i])
        gap_err = max(gap_err, abs(c.gap - (z[c.target] - z[c.contrast])))
    patch_err = 0.0
    for i in range(min(args.n, 100)):
        a, b = x[i + 1], x[i]
        layer = i % (model.n_layers - 1)
        chosen = list(range(0, model.sizes[layer + 1], 7))
        p = patch(model, a, b, layer, chosen)
        h_a, _ = scores(model, a)
        _, z = scores(model, b, {layer: {j: h_a[layer][j] for j in chosen}})
        want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        patch_err = max(patch_err, float(np.abs(p.probabilities_after - want).max()))
    print(f"default net {'-'.join(map(str, model.sizes))}, {args.n} test digits, at most "
          f"{args.max_nodes} neurons per circuit (target = prediction, contrast = runner-up)")
    print(f"  median restored   {np.median(restored):.3f}   (goal >= 0.8; quartiles "
          f"{np.percentile(restored, 25):.2f}..{np.percentile(restored, 75):.2f})")
    print(f"  median removed    {np.median(removed):.3f}   (goal >= 0.8; quartiles "
          f"{np.percentile(removed, 25):.2f}..{np.percentile(removed, 75):.2f})")
    print(f"  circuit time      median {1000 * np.median(times):.0f} ms, p95 "
          f"{1000 * np.percentile(times, 95):.0f} ms (test-set means once: {t_means:.2f} s)")
    print(f"  gap vs independent float64 pass:        max |diff| {gap_err:.2e} (goal <= 1e-5)")
    print(f"  patching vs independent float64 pass:   max |diff| {patch_err:.2e} (goal <= 1e-5)")


if __name__ == "__main__":
    main()
