"""The members every digitlens model file has, fully connected or convolutional: ``meta`` (a
JSON string) and each layer's ``W{i}`` and ``b{i}``, in one uncompressed ``.npz`` (no pickle).
``nn.io`` and ``nn.cnn_io`` write their files through it and read them back through the
loading boundary."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np


def npz_bytes(meta: dict[str, Any], weights: Sequence[np.ndarray],
              biases: Sequence[np.ndarray]) -> bytes:
    """The file's bytes: ``meta`` as JSON, then the layers' weights and biases in order."""
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        arrays[f"W{i}"], arrays[f"b{i}"] = w, b
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()
