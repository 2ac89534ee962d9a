"""One BLAS thread for the server: its matrix products are small, and on a busy machine
OpenBLAS's worker threads cost more than they save (measured 35× slower for a 784-512-256-10
gradient on 2 loaded cores). Done through OpenBLAS's own setter, found beside numpy; a no-op
where numpy uses another BLAS."""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
           "openblas_set_num_threads64_", "openblas_set_num_threads")


def limit_blas_threads(n: int = 1) -> bool:
    """Set OpenBLAS's thread count; True when a setter was found and called."""
    base = os.path.dirname(np.__file__)
    for path in glob.glob(base + ".libs/*openblas*") + glob.glob(base + "/.dylibs/*openblas*"):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(n))
                return True
    return False
