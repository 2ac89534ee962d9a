"""Training speed: digitlens vs PyTorch CPU on the S0 net (784-256-64-10 ReLU, Adam, batch 128).

Prints, from one run on this machine: epoch seconds for each, the ratio, the float32 matmul rate
measured now (a 2048² matmul), the FLOP rate of a digitlens epoch as a fraction of it, and the
peak memory of training on full MNIST. torch is an optional oracle: `pip install torch==2.13.0`.

Usage: python benchmarks/bench_train.py [--epochs 3] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

from digitlens.data.sources import load_dataset
from digitlens.nn import kernels
from digitlens.nn.mlp import MLP
from digitlens.nn.optim import make_optimizer
from digitlens.nn.step import BatchStepper

SIZES = (784, 256, 64, 10)
BATCH = 128


def matmul_rate(n: int = 2048, reps: int = 3, rounds: int = 5) -> float:
    """FLOP/s of a large float32 matmul, the best of ``rounds``: the machine's practical peak
    for this BLAS (a shared machine's slow moments would flatter the ratio against it)."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, a, out=c)
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            np.matmul(a, a, out=c)
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t))
    return best


def epoch_flops(n: int, sizes: tuple[int, ...] = SIZES) -> float:
    """Matmul FLOPs of forward + backward for one epoch (no input gradient for layer 1)."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    fwd = sum(2 * n * a * b for a, b in pairs)
    back = fwd + sum(2 * n * a * b for a, b in pairs[1:])
    return fwd + back


def digitlens_epochs(x: np.ndarray, y: np.ndarray, epochs: int,
                     variants: dict[str, bool]) -> dict[str, list[float]]:
    """Seconds per epoch for each variant (True: NumPy's kernels instead of the fused ones),
    epochs interleaved so that other work on the machine slows each variant alike."""
    from digitlens.nn import optim, step
    steppers = {}
    for name, plain in variants.items():
        pick = kernels.NUMPY.__getitem__ if plain else kernels.kernel
        step.kernel = optim.kernel = pick  # type: ignore[attr-defined]
        model = MLP.create(SIZES, "relu", seed=0)
        steppers[name] = BatchStepper(model, make_optimizer("adam", model.params.size), BATCH)
    step.kernel = optim.kernel = kernels.kernel  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(epochs):
        perm = rng.permutation(len(x))
        for name, stepper in steppers.items():
            t = time.perf_counter()
            for i in range(0, len(x), BATCH):
                stepper.step(x, y, perm[i:i + BATCH], 1e-3)
            times[name].append(time.perf_counter() - t)
    return times


def torch_epochs(x: np.ndarray, y: np.ndarray, epochs: int) -> list[float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        perm = torch.randperm(len(tx))
        for i in range(0, len(tx), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(tx[idx]), ty[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data-dir")
    args = ap.parse_args()
    ds = load_dataset("mnist", data_dir=args.data_dir, fallback=False)
    # each engine reads MNIST its usual way: digitlens (like `digitlens train`) gathers batches
    # from the uint8 pixels and scales them as it goes; PyTorch indexes a float32 copy
    x8 = np.ascontiguousarray(ds.train_images.reshape(-1, 784))
    x = x8.astype(np.float32) / np.float32(255)
    y = ds.train_labels.astype(np.int64)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f}: other work shares the cores; figures will be low")
    rate = matmul_rate()
    variants = {"fastest": False}
    if kernels.backend() == "numba":
        variants["numpy"] = True
    times = digitlens_epochs(x8, y, args.epochs, variants)
    ours = min(times["fastest"])
    plain = min(times["numpy"]) if "numpy" in times else None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = max(rate, matmul_rate())  # before and after the epochs: the best seen
    theirs = torch_epochs(x, y, args.epochs)
    flops = epoch_flops(len(x))
    print(f"S0 net 784-256-64-10 ReLU, Adam, batch {BATCH}, {len(x)} digits, best of {args.epochs}")
    print(f"float32 matmul rate (2048²):      {rate / 1e9:7.1f} GFLOP/s")
    print(f"digitlens epoch:                  {ours:7.3f} s  ({flops / ours / 1e9:.1f} GFLOP/s, "
          f"{flops / ours / rate:.0%} of the matmul rate; goal ≥65%; "
          f"{kernels.backend()} kernels)")
    if plain is not None:
        print(f"  same with NumPy's kernels:      {plain:7.3f} s  (fused loops {plain / ours:.2f}× "
              "faster)")
    if theirs is not None:
        best = min(theirs)
        print(f"PyTorch {__import__('torch').__version__} epoch:        {best:7.3f} s")
        print(f"speed-up digitlens / PyTorch:     {best / ours:7.2f}×  (goal ≥2×)")
    else:
        print("PyTorch not installed: pip install torch==2.13.0 for the comparison")
    print(f"peak memory (digitlens part):     {peak_mb:7.0f} MB  (goal ≤1024 MB)")


if __name__ == "__main__":
    main()
