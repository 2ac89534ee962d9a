"""Encoding the explorer's answers: JSON for everyone, and a packed binary form for the page.

Thousands of rounded floats written as JSON text only to be parsed straight back into numbers
by the page are costly to write, so arrays travel as ``Numbers`` until the last step: the JSON
form writes them rounded (values known to lie in 0..1 through a table of ready-made texts, the
same bytes ``json.dumps`` writes), and the packed form (``format: "packed"``) sends their
float32 bytes unrounded. ``benchmarks/bench_web_load.py`` measures both.

Packed layout: ``b"DLP1"``, a little-endian uint32 ``n``, ``n`` bytes of UTF-8 JSON (padded with
spaces so that the data starts at a multiple of 4 bytes), then little-endian float32 data. The
JSON is the answer itself with every array replaced by ``{"$f32": [offset, count], "shape":
[...]}`` (offset and count in floats from the start of the data).
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from digitlens.errors import DataError
from digitlens.safeload import parse_json

MAGIC = b"DLP1"
PACKED_TYPE = "application/vnd.digitlens.packed"
FORMATS = ("json", "packed")


@dataclass(frozen=True)
class Numbers:
    """An array for an answer: ``digits`` decimals in JSON; ``unit`` says it lies in 0..1."""

    values: np.ndarray
    digits: int = 4
    unit: bool = False

    def rounded(self) -> Any:
        return np.round(np.asarray(self.values, dtype=np.float64), self.digits).tolist()

    def json(self) -> str:
        a = np.asarray(self.values, dtype=np.float64)
        if not (self.unit and self.digits <= 4 and a.size and a.min() >= 0 and a.max() <= 1):
            return dumps(self.rounded())
        idx = np.rint(a * 10.0 ** self.digits).astype(np.intp)
        texts = _unit_texts(self.digits)[idx]
        if a.ndim == 1:
            return "[" + ",".join(texts.tolist()) + "]"
        rows = texts.reshape(a.shape[0], -1)
        return "[" + ",".join("[" + ",".join(row) + "]" for row in rows.tolist()) + "]"


@cache
def _unit_texts(digits: int) -> np.ndarray:
    """``repr(i / 10**digits)`` for i in 0..10**digits: what ``json.dumps`` writes for values
    that ``np.round`` made (it computes ``rint(x·10^d) / 10^d``)."""
    scale = 10.0 ** digits
    return np.array([repr(i / scale) for i in range(int(scale) + 1)], dtype=object)


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
dumps = _ENCODER.encode  # built once: json.dumps with options builds an encoder per call


def _has_numbers(value: Any) -> bool:
    if isinstance(value, Numbers):
        return True
    if isinstance(value, dict):
        return any(_has_numbers(v) for v in value.values())
    if isinstance(value, list):
        return any(isinstance(v, Numbers | dict) for v in value) and any(
            _has_numbers(v) for v in value)
    return False


def to_json(value: Any) -> str:
    """JSON text of an answer holding ``Numbers``; parses to what ``rounded()`` would give."""
    if isinstance(value, Numbers):
        return value.json()
    if not _has_numbers(value):
        return dumps(value)
    if isinstance(value, dict):  # the plain fields in one go, then those with arrays
        rest = [k for k, v in value.items() if _has_numbers(v)]
        head = dumps({k: v for k, v in value.items() if k not in rest})[:-1]
        return head + ("," if len(head) > 1 else "") + ",".join(
            dumps(str(k)) + ":" + to_json(value[k]) for k in rest) + "}"
    return "[" + ",".join(to_json(v) for v in value) + "]"


def plain(value: Any) -> Any:
    """The answer with every ``Numbers`` rounded into lists (what the JSON form parses to)."""
    if isinstance(value, Numbers):
        return value.rounded()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def to_packed(value: Any, since: float | None = None) -> bytes:
    """The packed form (see the module docstring). With ``since`` (a ``time.perf_counter()``
    reading), the head gains ``compute_ms``: the milliseconds from then until the data is
    packed, for channels without a Server-Timing header (the live WebSocket)."""
    chunks: list[np.ndarray] = []
    count = 0

    def walk(v: Any) -> Any:
        nonlocal count
        if isinstance(v, Numbers):
            a = np.ascontiguousarray(v.values, dtype="<f4")
            chunks.append(a.ravel())
            ref = {"$f32": [count, int(a.size)], "shape": list(a.shape)}
            count += int(a.size)
            return ref
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v] if _has_numbers(v) else v
        return v

    tree = walk(value)
    data = np.concatenate(chunks).tobytes() if chunks else b""
    if since is not None:
        tree["compute_ms"] = round(1000 * (time.perf_counter() - since), 3)
    head = dumps(tree).encode()
    head += b" " * (-(len(MAGIC) + 4 + len(head)) % 4)  # JSON allows trailing spaces
    return MAGIC + struct.pack("<I", len(head)) + head + data


def from_packed(blob: bytes) -> Any:
    """Decode the packed form; arrays come back as float32 ``np.ndarray``s of their shape."""
    if blob[:4] != MAGIC or len(blob) < 8:
        raise ValueError("not a packed digitlens answer")
    (n,) = struct.unpack("<I", blob[4:8])
    head = parse_json(blob[8:8 + n], "packed answer", DataError)
    data = np.frombuffer(blob[8 + n:], dtype="<f4")

    def walk(v: Any) -> Any:
        if isinstance(v, dict) and "$f32" in v:
            start, size = v["$f32"]
            return data[start:start + size].reshape(v["shape"])
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(head)
