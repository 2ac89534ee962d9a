"""LeNet-5: digitlens against PyTorch CPU on the same net, batch, optimizer, schedule and threads
(the lenet5 preset's).

Prints, from one run on this machine: the test accuracy after each epoch for both (each trained
from its own initialisation, the same number of epochs), the seconds of each epoch, the ratio of
the best epochs (PyTorch first, with glibc's malloc as any process has it; then digitlens, which
keeps freed blocks for reuse as `digitlens train` does, ``digitlens.nn.heap``; then PyTorch
again under that same setting, so the setting's share shows), and one training step split into
its parts (which bound it). Both run one
thread by default (``--threads``), as `digitlens train` does on a server. torch is an optional
oracle: `pip install torch==2.13.0`.

Usage: python benchmarks/bench_cnn.py [--epochs 3] [--threads 1] [--batch 32]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from digitlens.data.sources import load_dataset
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN, LENET5
from digitlens.nn.cnn_step import CNNStepper, evaluate_cnn
from digitlens.nn.heap import keep_freed_memory
from digitlens.nn.optim import make_optimizer
from digitlens.nn.presets import TrainConfig, get_preset
from digitlens.nn.threads import blas_threads
from digitlens.nn.train import as_float, epoch_lr, run_epoch


def ours(x8: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray,
         c: TrainConfig) -> list[tuple[float, float]]:
    """(seconds, test accuracy) per epoch of the training loop `digitlens train` runs."""
    model = CNN.create((1, 28, 28), LENET5, seed=0)
    stepper = CNNStepper(model, make_optimizer("adam", model.params.size), c.batch_size)
    rng, out = np.random.default_rng(0), []
    for epoch in range(1, c.epochs + 1):
        perm = rng.permutation(len(x8))
        t = time.perf_counter()
        run_epoch(stepper, x8, y, perm, c.batch_size, epoch_lr(c, epoch))
        out.append((time.perf_counter() - t, evaluate_cnn(model, xt, yt).accuracy))
    return out


def theirs(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray,
           c: TrainConfig) -> list[tuple[float, float]] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    tx, ty = torch.from_numpy(x.reshape(-1, 1, 28, 28)), torch.from_numpy(y)
    out, batch = [], c.batch_size
    for epoch in range(1, c.epochs + 1):
        for group in opt.param_groups:  # the same schedule as ours
            group["lr"] = epoch_lr(c, epoch)
        t = time.perf_counter()
        perm = torch.randperm(len(tx))
        for i in range(0, len(tx), batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(tx[idx]), ty[idx]).backward()
            opt.step()
        seconds = time.perf_counter() - t
        with torch.no_grad():
            pred = net(torch.from_numpy(xt.reshape(-1, 1, 28, 28))).argmax(1).numpy()
        out.append((seconds, float(np.mean(pred == yt))))
    return out


def parts(batch: int, reps: int = 30) -> dict[str, float]:
    """Milliseconds of one step's parts, the best of ``reps`` (what bounds the step)."""
    from digitlens.nn import conv as C
    rng = np.random.default_rng(1)
    model = CNN.create((1, 28, 28), LENET5, seed=0)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    a = K.channels_last(x)
    z1, cols1 = C.conv_forward(a, model.weights[0], model.biases[0], 1, 2)
    p1, _ = K.FAST.max_pool(np.maximum(z1, 0), 2)
    z2, cols2 = C.conv_forward(p1, model.weights[1], model.biases[1])

    def best(f: object) -> float:
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            f()  # type: ignore[operator]
            times.append(time.perf_counter() - t)
        return 1e3 * min(times)

    return {
        "whole step (forward, backward)": best(lambda: K.loss_and_gradient(model, x, y)),
        "  conv 1 forward (patches + matmul)": best(lambda: C.conv_forward(
            a, model.weights[0], model.biases[0], 1, 2)),
        "  conv 2 forward": best(lambda: C.conv_forward(p1, model.weights[1], model.biases[1])),
        "  conv 1 backward (kernels only)": best(lambda: C.conv_backward(
            z1, cols1, model.weights[0], a.shape, 1, 2, need_input=False)),
        "  conv 2 backward (+ input, folded)": best(lambda: C.conv_backward(
            z2, cols2, model.weights[1], p1.shape, folding=K.FAST.fold)),
        "  max-pool 1 forward": best(lambda: K.FAST.max_pool(z1, 2)),
        "same step, NumPy's loops (textbook)": best(
            lambda: K.loss_and_gradient(model, x, y, moves=K.TEXTBOOK)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, help="batch size (the lenet5 preset's by default)")
    args = ap.parse_args()
    ds = load_dataset("mnist", fallback=False)
    x8 = np.ascontiguousarray(ds.train_images.reshape(-1, 784))
    x, y = as_float(ds.train_images), ds.train_labels.astype(np.int64)
    xt, yt = as_float(ds.test_images), ds.test_labels.astype(np.int64)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f}: other work shares the cores; figures will be low")
    c = get_preset("lenet5").config.with_overrides(epochs=args.epochs, batch_size=args.batch)
    with blas_threads(args.threads, None):
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            pass
        b = theirs(x, y, xt, yt, c)  # first: glibc's malloc as PyTorch meets it in a process
        keep_freed_memory()           # as `digitlens train` does (digitlens.nn.heap)
        a = ours(x8, y, xt, yt, c)
        # PyTorch again under the same malloc setting: what the setting alone would give it
        b2 = theirs(x, y, xt, yt, c) if b else None
        split = parts(c.batch_size)
    print(f"LeNet-5 (61,706 parameters), Adam lr {c.lr:g} ({c.schedule}), batch {c.batch_size}, "
          f"{len(x)} digits, {args.threads} thread(s)")
    print("epoch   digitlens s  accuracy    PyTorch s  accuracy")
    for k in range(args.epochs):
        right = f"{b[k][0]:9.1f}  {b[k][1]:8.2%}" if b else "    (no torch)"
        print(f"{k + 1:5d}  {a[k][0]:11.1f}  {a[k][1]:8.2%}  {right}")
    if b and b2:
        print(f"speed-up digitlens / PyTorch (best epochs): "
              f"{min(s for s, _ in b) / min(s for s, _ in a):.2f}×  (goal ≥1.0×); against "
              f"PyTorch run again under digitlens' malloc setting "
              f"({min(s for s, _ in b2):.1f} s an epoch): "
              f"{min(s for s, _ in b2) / min(s for s, _ in a):.2f}×")
    print(f"accuracy after {args.epochs} epochs: {a[-1][1]:.2%} (goals: ≥98.8% after 3, "
          "≥99.0% after 10)")
    print("one step of a batch, best of 30 (ms):")
    for name, ms in split.items():
        print(f"  {name:38s} {ms:7.2f}")


if __name__ == "__main__":
    main()
