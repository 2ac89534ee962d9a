"""The four IDX files of a dataset: their names, MNIST's and Fashion-MNIST's checksums, and
reading, verifying and checking them.

Below ``digitlens.data.sources`` (which finds a dataset) and the loaders it dispatches to
(``custom_idx``, ``idx_folder``, ``image_folder``, ``sklearn_digits``): they share these, so
each imports them from here and ``sources`` imports the loaders, with no cycle.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from digitlens.data.dataset import DIGITS, Dataset
from digitlens.data.idx import MAX_RAW, check_images, check_labels, decompress, parse_idx
from digitlens.errors import DataError
from digitlens.safeload import read_bounded

PARTS = ("train_images", "train_labels", "test_images", "test_labels")
FILENAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SHA256 = {
    "mnist": {
        "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
CLASS_NAMES = {
    "mnist": DIGITS,
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(raw: bytes, expected: str, name: str) -> bytes:
    """Refuse ``raw`` unless its SHA-256 is ``expected``."""
    got = sha256(raw)
    if got != expected:
        raise DataError(f"{name}: checksum mismatch "
                        f"(sha256 {got[:16]}…, expected {expected[:16]}…)")
    return raw


def from_raw(name: str, raws: dict[str, bytes], source: str) -> Dataset:
    """Parse and check four verified raw IDX files."""
    arrays = {p: parse_idx(raws[p], f"{source}:{FILENAMES[p]}") for p in PARTS}
    n_classes = len(CLASS_NAMES.get(name, CLASS_NAMES["mnist"]))
    for p in ("train_images", "test_images"):
        check_images(arrays[p], FILENAMES[p], (28, 28))
    for p in ("train_labels", "test_labels"):
        check_labels(arrays[p], FILENAMES[p], n_classes)
    for split in ("train", "test"):
        if len(arrays[f"{split}_images"]) != len(arrays[f"{split}_labels"]):
            raise DataError(f"{source}: {split} images and labels differ in count")
    return Dataset(name, arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                   arrays["test_labels"], source, {p: sha256(raws[p]) for p in PARTS},
                   CLASS_NAMES.get(name, CLASS_NAMES["mnist"]))


def read_folder(folder: Path, name: str, verify_sums: bool = True) -> dict[str, bytes]:
    """Read the four files from ``folder`` (raw names or ``.gz``), verified; DataError if absent."""
    raws = {}
    for part in PARTS:
        base = folder / FILENAMES[part]
        path = next((p for p in (base, base.with_name(base.name + ".gz")) if p.is_file()), None)
        if path is None:
            raise DataError(f"{folder}: no {FILENAMES[part]}[.gz]")
        raw = decompress(read_bounded(path, MAX_RAW, DataError, "IDX file"), str(path))
        raws[part] = verify(raw, SHA256[name][part], str(path)) if verify_sums else raw
    return raws
