"""Rebuild the embedded sample: the first 200 train and 100 test digits of each class of MNIST.

Usage: python scripts/make_sample.py   (MNIST must be loadable: folder, cache or fetch)
"""

from __future__ import annotations

import numpy as np

from digitlens.data.idx import write_idx
from digitlens.data.parts import FILENAMES
from digitlens.data.sources import SAMPLE_DIR, load_dataset


def first_per_class(labels: np.ndarray, k: int) -> np.ndarray:
    """Indices of the first ``k`` examples of each class, in dataset order."""
    picks = [np.flatnonzero(labels == c)[:k] for c in range(10)]
    return np.sort(np.concatenate(picks))


def main() -> None:
    ds = load_dataset("mnist", fallback=False, log=print)
    tr = first_per_class(ds.train_labels, 200)
    te = first_per_class(ds.test_labels, 100)
    parts = {"train_images": ds.train_images[tr], "train_labels": ds.train_labels[tr],
             "test_images": ds.test_images[te], "test_labels": ds.test_labels[te]}
    for part, arr in parts.items():
        write_idx(SAMPLE_DIR / f"{FILENAMES[part]}.gz", arr, compress=True)
    print(f"wrote {len(tr)} train + {len(te)} test digits to {SAMPLE_DIR}")


if __name__ == "__main__":
    main()
