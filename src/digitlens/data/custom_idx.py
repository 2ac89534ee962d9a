"""A custom IDX folder: the four usual files of any image size and class count, checked by
their structure (no published checksum can vouch for them), with optional ``classes.txt``.

Rules (docs/datasets.md): uint8 images (n, h, w) with 1 <= h, w <= 256, the same h×w in train
and test; 1-D uint8 labels, as many as images; class names one per line in ``classes.txt``
(else "0".."n-1" with n = largest label + 1); every class has train and test images.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from digitlens.data.dataset import Dataset
from digitlens.data.idx import MAX_RAW, check_images, decompress, parse_idx
from digitlens.data.parts import FILENAMES, PARTS, sha256
from digitlens.errors import DataError
from digitlens.safeload import check_class_names, read_bounded

CLASSES_FILE = "classes.txt"
MAX_CLASSES = 1000
MAX_CLASSES_BYTES = 64 * 1024
RESERVED = ("mnist", "fashion-mnist", "mnist-sample", "sklearn-digits")


def dataset_name(folder: Path) -> str:
    """The folder's name as a dataset name: lower-case letters, digits and '-', at most 32."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")[:32].strip("-")
    if not name or not name[0].isalpha():
        name = ("data-" + name).strip("-")[:32]
    return name + "-custom" if name in RESERVED else name


def part_path(folder: Path, filename: str) -> Path:
    """The raw or gzipped file of a part; a missing one is named in the error."""
    for path in (folder / filename, folder / (filename + ".gz")):
        if path.exists() or path.is_symlink():
            return path
    raise DataError(f"{folder}: no {filename}[.gz] (an IDX folder holds "
                    "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
                    "and t10k-labels-idx1-ubyte, raw or .gz)")


def read_raw_parts(folder: Path) -> tuple[dict[str, bytes], dict[str, Path]]:
    """The decompressed bytes of the four files and where each was read."""
    raws, paths = {}, {}
    for part in PARTS:
        path = part_path(folder, FILENAMES[part])
        raws[part] = decompress(read_bounded(path, MAX_RAW, DataError, "IDX file"), str(path))
        paths[part] = path
    return raws, paths


def read_class_names(path: Path) -> tuple[str, ...]:
    """``classes.txt``: UTF-8, one non-empty, distinct name per line (outer spaces trimmed)."""
    raw = read_bounded(path, MAX_CLASSES_BYTES, DataError, "class names file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():  # a final newline (or a few) is not a class
        lines.pop()
    names = [line.strip() for line in lines]
    for i, name in enumerate(names):
        if not name:
            raise DataError(f"{path}: line {i + 1} is empty (one class name per line)")
        if name in names[:i]:
            raise DataError(f"{path}: line {i + 1} repeats the class name {name!r}")
    if not 2 <= len(names) <= MAX_CLASSES:
        raise DataError(f"{path}: {len(names)} class names; a dataset needs 2..{MAX_CLASSES}")
    return check_class_names(names, str(path), item="line")


def check_classes(labels: dict[str, np.ndarray], paths: dict[str, Path],
                  names: tuple[str, ...] | None, classes_path: Path) -> tuple[str, ...]:
    """Labels against the class names: in range, and every class in both splits."""
    top = max(int(labels[p].max(initial=0)) for p in labels)
    inferred = names is None
    if names is None:
        if top + 1 > MAX_CLASSES:
            raise DataError(f"{paths['train_labels']}: label {top}; at most {MAX_CLASSES} "
                            "classes")
        names = tuple(str(i) for i in range(top + 1))
    for part, arr in labels.items():
        if arr.size and int(arr.max()) >= len(names):
            raise DataError(f"{paths[part]}: label {int(arr.max())} is beyond the "
                            f"{len(names)} classes of {classes_path.name}")
    if len(names) < 2:
        raise DataError(f"{paths['train_labels']}: every label is 0; a dataset needs at "
                        "least 2 classes")
    for part, arr in labels.items():
        missing = np.flatnonzero(np.bincount(arr, minlength=len(names)) == 0)
        if missing.size:
            c = int(missing[0])
            split = part.split("_")[0]
            # without classes.txt the count comes from the largest label: say where it is,
            # a stray label is the likelier fault than hundreds of empty classes
            where = next(q for q in labels if int(labels[q].max(initial=0)) == top)
            stray = (f"; the classes are 0..{top} because label {top} is at index "
                     f"{int(np.argmax(labels[where] == top))} of {paths[where].name}"
                     if inferred else "")
            raise DataError(f"{paths[part]}: class {c} ({names[c]!r}) has no {split} images "
                            f"({missing.size} class{' has' if missing.size == 1 else 'es have'}"
                            " none; every class needs train and "
                            f"test images{stray})")
    return names


def parse_parts(raws: dict[str, bytes], paths: dict[str, Path],
                names: tuple[str, ...] | None,
                classes_path: Path) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """The four arrays, structurally checked, and the class names."""
    arrays = {p: parse_idx(raws[p], str(paths[p])) for p in raws}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        check_images(images, str(paths[f"{split}_images"]))
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise DataError(f"{paths[f'{split}_labels']}: expected a 1-D uint8 label array, "
                            f"got {labels.dtype} {labels.shape}")
        if len(images) != len(labels):
            raise DataError(f"{paths[f'{split}_labels']}: {len(labels)} labels for "
                            f"{len(images)} images in {paths[f'{split}_images'].name}")
        if len(images) == 0:
            raise DataError(f"{paths[f'{split}_images']}: no images")
    train_hw, test_hw = arrays["train_images"].shape[1:], arrays["test_images"].shape[1:]
    if train_hw != test_hw:
        raise DataError(f"{paths['test_images']}: images of {test_hw[0]}×{test_hw[1]} but the "
                        f"train images are {train_hw[0]}×{train_hw[1]}")
    by_part = {p: arrays[p] for p in ("train_labels", "test_labels")}
    return arrays, check_classes(by_part, paths, names, classes_path)


def load_custom_idx(folder: str | Path) -> Dataset:
    """The folder's dataset, every file checked; ``DataError`` naming the file otherwise."""
    folder = Path(folder)
    raws, paths = read_raw_parts(folder)
    classes_path = folder / CLASSES_FILE
    has_names = classes_path.exists() or classes_path.is_symlink()
    names = read_class_names(classes_path) if has_names else None
    arrays, names = parse_parts(raws, paths, names, classes_path)
    sums = {p: sha256(raw) for p, raw in raws.items()}
    if has_names:
        sums["classes"] = sha256("\n".join(names).encode())
    origin = {"format": "idx", "path": str(folder.resolve())}
    return Dataset(dataset_name(folder), arrays["train_images"], arrays["train_labels"],
                   arrays["test_images"], arrays["test_labels"], f"{folder} (custom IDX)",
                   sums, names, "custom", origin)
