"""scikit-learn's 8×8 digits (1,797 images, 10 classes), a real dataset a package ships.

Values 0..16 are scaled to 0..255 (``round(v * 255 / 16)``). The split is fixed: for each
class, its images (in the package's order) are shuffled with ``numpy.random.default_rng(0)``
and the first 20% (rounded) are the test set, the rest train; 1,438 train + 359 test.
scikit-learn is the optional extra ``digitlens[sklearn]``.
"""

from __future__ import annotations

import numpy as np

from digitlens.data.dataset import DIGITS, Dataset
from digitlens.data.parts import sha256
from digitlens.errors import DataError

NAME = "sklearn-digits"
TEST_FRACTION = 0.2
SEED = 0
SPLIT = ("per class, shuffled with numpy.random.default_rng(0); the first 20% (rounded) of "
         "each class are test")


def split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices, sorted: the documented stratified split."""
    rng = np.random.default_rng(SEED)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = round(TEST_FRACTION * len(idx))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_sklearn_digits() -> Dataset:
    """The dataset, split and checksummed (the SHA-256 of each part's raw IDX encoding)."""
    try:
        import sklearn
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError(f"--dataset {NAME} needs scikit-learn: "
                        "pip install 'digitlens[sklearn]'") from None
    bunch = load_digits()
    values = np.asarray(bunch.images, dtype=np.float64)
    if values.shape[1:] != (8, 8) or values.min() < 0 or values.max() > 16:
        raise DataError(f"scikit-learn {sklearn.__version__}: digits are not 8×8 in 0..16")
    images = np.round(values * 255 / 16).astype(np.uint8)
    labels = np.asarray(bunch.target).astype(np.uint8)
    train, test = split_indices(labels)
    from digitlens.data.idx import encode_idx
    parts = {"train_images": images[train], "train_labels": labels[train],
             "test_images": images[test], "test_labels": labels[test]}
    sums = {p: sha256(encode_idx(a)) for p, a in parts.items()}
    origin = {"package": f"scikit-learn {sklearn.__version__}", "split": SPLIT}
    return Dataset(NAME, parts["train_images"], parts["train_labels"], parts["test_images"],
                   parts["test_labels"], "scikit-learn's load_digits (package data)", sums,
                   DIGITS, "package", origin)
