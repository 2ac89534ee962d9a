"""Strict IDX reader and writer (raw or gzipped).

IDX is MNIST's format: two zero bytes, a dtype code, the number of dimensions, each dimension as
a big-endian uint32, then the values big-endian. Every inconsistency is a ``DataError`` that names
the file and what is wrong, never a NumPy traceback or a silently short array.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from digitlens.errors import DataError
from digitlens.fileio import atomic_write_bytes
from digitlens.safeload import read_bounded

# IDX dtype code -> big-endian NumPy dtype.
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES = {dt.newbyteorder("="): code for code, dt in DTYPES.items()}
GZIP_MAGIC = b"\x1f\x8b"
MAX_RAW = 64 << 20  # MNIST's largest raw file is 47,040,016 bytes; gzip bombs stop here
MAX_DIMS = 4
MAX_SIDE = 256  # a dataset image's largest height or width (an MLP input of 65,536)


def decompress(data: bytes, name: str) -> bytes:
    """Return the raw bytes of ``data``, gunzipping it when it starts with gzip's magic."""
    if not data.startswith(GZIP_MAGIC):
        return data
    out, rest = bytearray(), data
    try:
        while rest:  # member by member (gzip allows several), never past MAX_RAW bytes
            d = zlib.decompressobj(wbits=31)
            out += d.decompress(rest, MAX_RAW + 1 - len(out))
            if len(out) > MAX_RAW:
                raise DataError(f"{name}: decompresses to more than {MAX_RAW} bytes")
            if not d.eof:
                raise DataError(f"{name}: corrupt or truncated gzip data (unexpected end)")
            rest = d.unused_data
    except zlib.error as exc:
        raise DataError(f"{name}: corrupt or truncated gzip data ({exc})") from None
    return bytes(out)


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse raw or gzipped IDX bytes into a native-endian array, validating everything."""
    raw = decompress(data, name)
    if len(raw) < 4:
        raise DataError(f"{name}: too short for an IDX header ({len(raw)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise DataError(f"{name}: not an IDX file (bad magic number 0x{raw[:4].hex()})")
    if code not in DTYPES:
        raise DataError(f"{name}: unknown IDX dtype code 0x{code:02x}")
    if not 1 <= ndim <= MAX_DIMS:
        raise DataError(f"{name}: unsupported number of dimensions {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated header (needs {header} bytes, has {len(raw)})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = DTYPES[code]
    expected = header + math.prod(dims) * dtype.itemsize  # exact: no int64 wrap-around
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(
            f"{name}: {what}: dimensions {list(dims)} need {expected} bytes, file has {len(raw)}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or gzipped) strictly: a regular file of at most ``MAX_RAW`` bytes."""
    return parse_idx(read_bounded(path, MAX_RAW, DataError, "IDX file"), str(path))


def encode_idx(arr: np.ndarray) -> bytes:
    """Encode an array as raw IDX bytes."""
    native = np.dtype(arr.dtype).newbyteorder("=")
    if native not in CODES:
        raise DataError(f"cannot write dtype {arr.dtype} as IDX")
    if not 1 <= arr.ndim <= MAX_DIMS:
        raise DataError(f"cannot write a {arr.ndim}-dimensional array as IDX")
    code = CODES[native]
    header = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=DTYPES[code]).tobytes()


def write_idx(path: str | Path, arr: np.ndarray, compress: bool | None = None) -> None:
    """Write ``arr`` as IDX atomically; gzipped when ``compress`` or the name ends in .gz."""
    path = Path(path)
    data = encode_idx(arr)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    atomic_write_bytes(path, data)


def check_images(arr: np.ndarray, name: str,
                 shape: tuple[int, int] | None = None) -> np.ndarray:
    """Images must be uint8 of shape (n, h, w): ``shape`` exactly when given (MNIST's 28×28),
    else any h and w in 1..``MAX_SIDE`` (a dataset's own size)."""
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise DataError(f"{name}: expected uint8 images of shape (n, height, width), "
                        f"got {arr.dtype} {arr.shape}")
    if shape is not None and arr.shape[1:] != shape:
        raise DataError(f"{name}: expected images of {shape[0]}×{shape[1]}, "
                        f"got {arr.shape[1]}×{arr.shape[2]}")
    if not (1 <= arr.shape[1] <= MAX_SIDE and 1 <= arr.shape[2] <= MAX_SIDE):
        raise DataError(f"{name}: images of {arr.shape[1]}×{arr.shape[2]}; each side must be "
                        f"1..{MAX_SIDE}")
    return arr


def check_labels(arr: np.ndarray, name: str, n_classes: int = 10) -> np.ndarray:
    """Labels must be a 1-D uint8 array with values below ``n_classes``."""
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D uint8 label array, got {arr.dtype} {arr.shape}")
    if arr.size and int(arr.max()) >= n_classes:
        raise DataError(f"{name}: label {int(arr.max())} out of range 0..{n_classes - 1}")
    return arr
