"""Custom datasets, measured: (1) MNIST's own 60,000 + 10,000 images re-written as a custom IDX
folder (with a classes.txt, so it is read as custom) train at the same speed per example as
MNIST itself: the same net, the same settings, epochs alternated, the best of each; plus a
synthetic 16×16, 26-class set of 60,000 to show another size and class count; and how long
loading each takes (the custom folder is checked by structure and hashed). (2) scikit-learn's
8×8 digits: a 64-32-10 net's test accuracy on the documented split (docs/datasets.md), for
several seeds, beside scikit-learn's own MLPClassifier of the same shape as a reference.

Usage: nice python benchmarks/bench_datasets.py [--epochs 3] [--repeats 3] [--threads 1] [--seeds 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from digitlens.data.idx import write_idx
from digitlens.data.parts import FILENAMES, PARTS
from digitlens.data.sources import load_dataset
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train

SPELLED = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def synthetic(folder: Path, n_train: int = 60_000, n_test: int = 10_000) -> None:
    """16×16 images of 26 classes: a class's bright 4×4 blob at its own place, plus noise."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    for split, n in (("train", n_train), ("test", n_test)):
        labels = (np.arange(n) % 26).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.integers(0, 90, (n, 16, 16)).astype(np.uint8)
        for c in range(26):
            r, col = divmod(c, 5)
            images[labels == c, 3 * r:3 * r + 4, 3 * col:3 * col + 4] = 230
        write_idx(folder / FILENAMES[f"{split}_images"], images)
        write_idx(folder / FILENAMES[f"{split}_labels"], labels)
    (folder / "classes.txt").write_text("\n".join(chr(65 + c) for c in range(26)) + "\n")


def speed(args: argparse.Namespace) -> None:
    mnist, t_mnist = timed(load_dataset, "mnist", fetch=False, fallback=False)
    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as tmp:
        folder = Path(tmp) / "mnist-renamed"
        folder.mkdir()
        for part in PARTS:
            write_idx(folder / FILENAMES[part], getattr(mnist, part))
        (folder / "classes.txt").write_text("\n".join(SPELLED) + "\n")
        custom, t_custom = timed(load_dataset, None, folder)
        synthetic(Path(tmp) / "letters16")
        letters, t_letters = timed(load_dataset, None, Path(tmp) / "letters16")
    assert custom.kind == "custom" and np.array_equal(custom.train_images, mnist.train_images)
    print(f"loading: MNIST (checksummed) {t_mnist:.2f} s, the same bytes as a custom folder "
          f"{t_custom:.2f} s, 16×16 26-class custom {t_letters:.2f} s")
    best: dict[str, float] = {}
    acc: dict[str, float] = {}
    for _ in range(args.repeats):
        for ds in (mnist, custom, letters):
            h, w = ds.image_shape
            c = TrainConfig(layers=(h * w, 100, len(ds.class_names)), epochs=args.epochs,
                            batch_size=128, dataset=ds.name, seed=0)
            r = train(c, ds, None, threads=args.threads)
            per = min(row["seconds"] for row in r.history)
            best[ds.name] = min(best.get(ds.name, per), per)
            acc[ds.name] = r.history[-1]["test_accuracy"]
    n = len(mnist.train_labels)
    print(f"training, {args.epochs} epochs × {args.repeats} alternated, best epoch, "
          f"{args.threads} BLAS thread(s), batch 128, Adam:")
    for ds in (mnist, custom, letters):
        h, w = ds.image_shape
        sizes = f"{h * w}-100-{len(ds.class_names)}"
        print(f"  {ds.name:<16} {ds.kind:<8} {sizes:<11} {best[ds.name]:6.2f} s/epoch  "
              f"{1e6 * best[ds.name] / n:6.1f} µs/example  test accuracy {acc[ds.name]:.2%}")
    print(f"  ratio custom / MNIST per example (same net): "
          f"{best[custom.name] / best[mnist.name]:.3f}")


def digits(args: argparse.Namespace) -> None:
    ds = load_dataset("sklearn-digits")
    accs = []
    for seed in range(args.seeds):
        c = TrainConfig(layers=(64, 32, 10), activation="tanh", lr=1e-3, epochs=150,
                        batch_size=16, l2=1.0, schedule="cosine", seed=seed, dataset=ds.name)
        r, t = timed(train, c, ds, None, threads=1)
        accs.append(r.history[-1]["test_accuracy"])
    print(f"sklearn digits ({len(ds.train_labels)} train + {len(ds.test_labels)} test; "
          f"split: {ds.origin['split']}):")
    print("  digitlens 64-32-10 tanh, Adam lr 1e-3 cosine, batch 16, L2 1.0, 150 epochs "
          f"({t:.1f} s each): test accuracy per seed "
          + ", ".join(f"{a:.2%}" for a in accs)
          + f"; mean {np.mean(accs):.2%}, min {min(accs):.2%} (goal >= 96%)")
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return
    x = ds.train_images.reshape(len(ds.train_images), -1) / 255.0
    xt = ds.test_images.reshape(len(ds.test_images), -1) / 255.0
    ref = [MLPClassifier((32,), max_iter=2000, random_state=s).fit(x, ds.train_labels)
           .score(xt, ds.test_labels) for s in range(args.seeds)]
    print("  scikit-learn MLPClassifier((32,)) on the same split and scaling: "
          + ", ".join(f"{a:.2%}" for a in ref) + f"; mean {np.mean(ref):.2%}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3, help="rounds of alternated training")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    digits(args)
    speed(args)


if __name__ == "__main__":
    main()
