"""Take a network anywhere: JSON (documented schema), ONNX (out and in) and an Excel workbook.

Every importer validates what it reads and raises ``ModelError`` with one clear line; nothing
is ever unpickled. Limits shared by the importers live here so JSON and ONNX refuse the same.
"""

from __future__ import annotations

import numpy as np

from digitlens.errors import ModelError

MAX_FILE_BYTES = 1 << 30  # ONNX (raw float bytes): 1 GiB, far above any MLP on MNIST
MAX_JSON_BYTES = 1 << 27  # JSON: 128 MiB (~10M numbers; each becomes a Python float when parsed)
MAX_NEURONS = 1 << 16  # per layer
MAX_PARAMS = 1 << 27  # 134M float32 values = 512 MiB
MAX_LAYERS = 64


def check_architecture(sizes: list[int], name: str) -> None:
    """Refuse absurd sizes before allocating anything."""
    if not 2 <= len(sizes) <= MAX_LAYERS + 1:
        raise ModelError(f"{name}: a network needs 1 to {MAX_LAYERS} weight layers, "
                         f"got {len(sizes) - 1}")
    if any(s < 1 or s > MAX_NEURONS for s in sizes):
        raise ModelError(f"{name}: layer sizes must be 1..{MAX_NEURONS}, got {sizes}")
    total = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if total > MAX_PARAMS:
        raise ModelError(f"{name}: {total} parameters is more than the {MAX_PARAMS} allowed")


def check_finite(array: np.ndarray, what: str, name: str) -> None:
    if not np.all(np.isfinite(array)):
        raise ModelError(f"{name}: {what} contains NaN or infinity")
