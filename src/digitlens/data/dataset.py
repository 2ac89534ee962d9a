"""A dataset: four arrays, class names, and a record of where it came from.

The record is what a trained model keeps in its metadata (``meta["dataset"]``) so that later
commands find the same data again and can tell when it changed (see docs/datasets.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitlens.errors import DataError

DIGITS = tuple(str(d) for d in range(10))
KINDS = ("builtin", "package", "custom")


@dataclass(frozen=True)
class Dataset:
    """The four arrays of an MNIST-like dataset and where they came from."""

    name: str
    train_images: np.ndarray  # (n, height, width) uint8, ink bright
    train_labels: np.ndarray  # (n,) uint8, each below len(class_names)
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    checksums: dict[str, str] = field(default_factory=dict)
    class_names: tuple[str, ...] = DIGITS
    kind: str = "builtin"  # builtin (checksummed download), package, custom
    origin: dict[str, Any] = field(default_factory=dict)  # how to load it again (custom)

    def __repr__(self) -> str:  # a summary, not pages of pixels
        h, w = self.image_shape
        return (f"<dataset {self.name}: {len(self.train_labels):,} train + "
                f"{len(self.test_labels):,} test images of {h}×{w}, "
                f"{len(self.class_names)} classes, from {self.source}>")

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of every image."""
        return int(self.train_images.shape[1]), int(self.train_images.shape[2])

    @property
    def is_sample(self) -> bool:
        return self.name == "mnist-sample"

    def fit_layers(self, layers: tuple[int, ...], explicit: bool
                   ) -> tuple[tuple[int, ...], str | None]:
        """``layers`` with the first and last sizes made this dataset's pixel and class
        counts, and a sentence saying so (None when they already fit). Sizes the user chose
        (``explicit``) are not changed: a ``DataError`` names both instead."""
        (h, w), n = self.image_shape, len(self.class_names)
        if (layers[0], layers[-1]) == (h * w, n):
            return layers, None
        shown = "-".join(map(str, layers))
        if explicit:
            raise DataError(f"layers {shown} do not fit dataset {self.name!r} ({h}×{w} = "
                            f"{h * w} pixels, {n} classes): the first size must be {h * w} "
                            f"and the last {n}")
        fitted = (h * w, *layers[1:-1], n)
        return fitted, (f"{'-'.join(map(str, fitted))}: the preset's first and last sizes "
                        f"replaced by the {h}×{w} = {h * w} pixels and {n} classes of dataset "
                        f"{self.name!r}")

    def record(self) -> dict[str, Any]:
        """What a model trained on this keeps in ``meta["dataset"]``: enough to find and
        re-verify the data (``digitlens.data.recorded.dataset_for``)."""
        return {"name": self.name, "kind": self.kind, "sha256": dict(self.checksums),
                **self.origin}

    def info(self) -> dict[str, object]:
        """Counts per class, sizes, checksums: what `digitlens data info` prints."""
        def counts(labels: np.ndarray) -> list[int]:
            return np.bincount(labels, minlength=len(self.class_names)).tolist()
        return {
            "dataset": self.name, "kind": self.kind, "source": self.source,
            "is_sample": self.is_sample, "image_shape": list(self.image_shape),
            "n_classes": len(self.class_names),
            "train": int(len(self.train_labels)), "test": int(len(self.test_labels)),
            "train_per_class": counts(self.train_labels),
            "test_per_class": counts(self.test_labels),
            "class_names": list(self.class_names), "sha256": dict(self.checksums),
            **{k: v for k, v in self.origin.items() if k not in ("sha256",)},
        }
