"""Builders of small custom datasets on disk (IDX folders and image folders) for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from digitlens.data.idx import write_idx

FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
         "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
NAMES = ("top", "middle", "bottom")


def bars(n: int, seed: int, size: int = 12, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Images of a bright horizontal bar whose height is the class, over faint noise: easy to
    learn, so a few epochs must reach a high accuracy."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.uint8) % classes
    rng.shuffle(labels)
    images = rng.integers(0, 40, (n, size, size)).astype(np.uint8)
    step = max(1, (size - 2) // classes)
    for i, c in enumerate(labels):
        images[i, 1 + step * c:1 + step * c + max(1, step // 2), 1:size - 1] = 220
    return images, labels


def idx_folder(folder: Path, n_train: int = 240, n_test: int = 60, size: int = 12,
               names: tuple[str, ...] | None = NAMES, gz_test: bool = True) -> Path:
    """A custom IDX folder of ``size``×``size`` bars in len(NAMES) classes (test files gzipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    classes = len(names) if names else 3
    arrays = dict(zip(("train_images", "train_labels"), bars(n_train, 1, size, classes),
                      strict=True))
    arrays.update(zip(("test_images", "test_labels"), bars(n_test, 2, size, classes),
                      strict=True))
    for part, arr in arrays.items():
        gz = gz_test and part.startswith("test")
        write_idx(folder / (FILES[part] + (".gz" if gz else "")), arr)
    if names:
        (folder / "classes.txt").write_text("\n".join(names) + "\n")
    return folder


def image_folder(folder: Path, per_class: tuple[int, int] = (20, 6), size: int = 10,
                 classes: tuple[str, ...] = ("circle", "cross", "line")) -> Path:
    """train/<class>/*.png and test/<class>/*.png: dark shapes on white (as people draw)."""
    rng = np.random.default_rng(3)
    for split, n in zip(("train", "test"), per_class, strict=True):
        for c, name in enumerate(classes):
            (folder / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                a = np.full((size, size), 255, np.uint8)
                o = int(rng.integers(0, 2))
                if c == 0:
                    a[2 + o:size - 2, 2] = a[2 + o:size - 2, size - 3] = 0
                    a[2 + o, 2:size - 2] = a[size - 3, 2:size - 2] = 0
                elif c == 1:
                    for k in range(2, size - 2):
                        a[k, k] = a[k, size - 1 - k] = 0
                else:
                    a[size // 2 + o - 1, 1:size - 1] = 0
                Image.fromarray(a).save(folder / split / name / f"{i:03d}.png")
    return folder
