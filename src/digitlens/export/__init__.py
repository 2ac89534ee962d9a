"""Take a network anywhere: JSON (documented schema), ONNX (out and in) and an Excel workbook.

Every importer validates what it reads and raises ``ModelError`` with one clear line; nothing
is ever unpickled. Limits shared by the importers live here so JSON and ONNX refuse the same.
"""

from __future__ import annotations

import numpy as np

from digitlens.errors import ModelError
from digitlens.safeload import (  # noqa: F401 - the importers' shared limits
    MAX_LAYERS,
    MAX_NEURONS,
    MAX_PARAMS,
    check_architecture,
)

# files other tools write, read through `digitlens import` (and `dl.load`, `compare`)
STATE_DICT_SUFFIXES = (".pt", ".pth", ".safetensors")
IMPORT_SUFFIXES = (".json", ".onnx", *STATE_DICT_SUFFIXES)
MAX_FILE_BYTES = 1 << 30  # ONNX (raw float bytes): 1 GiB, far above any MLP on MNIST
MAX_JSON_BYTES = 1 << 27  # JSON: 128 MiB (~10M numbers; each becomes a Python float when parsed)


def check_finite(array: np.ndarray, what: str, name: str) -> None:
    if not np.all(np.isfinite(array)):
        raise ModelError(f"{name}: {what} contains NaN or infinity")
