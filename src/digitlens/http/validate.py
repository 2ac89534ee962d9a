"""Request validation in one place: body limits, JSON shape, numbers, names, images.

Shared by the explorer and the classroom. Every check raises a ``DigitlensError`` whose kind
gives the HTTP status (``digitlens.http.statuses``), with one message shape ("The 'x'
parameter must be ... Got ... instead."), so bad input is a clear 4xx and never reaches the
maths or the file system unchecked.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from starlette.requests import Request

from digitlens import safeload
from digitlens.errors import DigitlensError, ParameterError, bad_param
from digitlens.http.statuses import TooLarge, UnsupportedMedia
from digitlens.safeload import IMAGE_FORMATS as DECODERS
from digitlens.safeload import decode_image

MAX_BODY = 4 * 1024 * 1024          # bytes of one request body
MAX_SIDE = 512                       # largest drawing side, in pixels
MAX_IMAGE_BYTES = 2 * 1024 * 1024    # decoded bytes of an uploaded image
NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")  # \Z: no trailing newline
# Only the loading boundary's decoders (digitlens.safeload.IMAGE_FORMATS) ever see request
# bytes, and only the one the data URL names.
IMAGE_FORMATS = {f.lower(): f for f in DECODERS}
IMAGE_PREFIXES = tuple(f"data:image/{f};base64," for f in IMAGE_FORMATS)
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # a PNG's last chunk: Pillow decodes without it


async def read_json(request: Request, limit: int = MAX_BODY) -> dict[str, Any]:
    """The request body as a JSON object, refusing oversize bodies before reading them."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise UnsupportedMedia(f"send the body as application/json (got {ctype or 'nothing'!r})")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge(f"request body too large: at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body too large: at most {limit} bytes")
        chunks.append(chunk)
    return parse_json(b"".join(chunks))


def parse_json(raw: bytes | str) -> dict[str, Any]:
    """A request's JSON object, from an HTTP body or a WebSocket message alike: parsed by the
    loading boundary's parser (``safeload.parse_json``: UTF-8 only, numbers of bounded length,
    no NaN or Infinity, bounded nesting), the same one every file digitlens reads goes through."""
    data = safeload.parse_json(raw, "the body", DigitlensError)
    if not isinstance(data, dict):
        raise DigitlensError("the body must be a JSON object")
    return data


def only(data: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse unknown fields, so a typo is an error rather than silently ignored."""
    extra = sorted(set(data) - allowed)
    if extra:
        raise DigitlensError(f"unknown field {extra[0]!r}; expected some of "
                             f"{', '.join(sorted(allowed))}")


def integer(value: Any, name: str, lo: int, hi: int, strict: bool = False) -> int:
    """An int in lo..hi; query strings of digits are accepted too, unless ``strict`` (a JSON
    body's field, where "5" is a type error)."""
    if not strict and isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise bad_param(name, f"an int in {lo}..{hi}", value)
    return value


def whole(value: Any, name: str, lo: int, hi: int) -> int:
    """An int of a JSON body in lo..hi: ``"3"``, ``3.0`` and ``true`` are type errors (a
    client that sends them has a bug worth hearing about)."""
    return integer(value, name, lo, hi, strict=True)


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise bad_param(name, f"one of {', '.join(options)}", value)
    return str(value)


def name(value: Any, what: str = "run") -> str:
    """A run or job name: letters, digits, '.', '_' and '-' only, never a path."""
    if not isinstance(value, str) or not NAME_RE.match(value) or ".." in value:
        got = value if isinstance(value, str) and len(value) < 80 else type(value).__name__
        raise bad_param(what, "a name of letters, digits, '.', '_' or '-' (at most 64)", got)
    return value


def pixels(value: Any, width: int, height: int) -> np.ndarray:
    """A flat list of ``width × height`` finite numbers in 0..1 -> (height, width) float32."""
    n = width * height
    if not isinstance(value, list) or len(value) != n:
        got = f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__
        raise bad_param("pixels", f"a list of {n} numbers ({height}×{width}) in 0..1", got)
    if not set(map(type, value)) <= {int, float}:  # no strings, booleans, nulls or lists
        raise bad_param("pixels", "numbers only", "a non-number")
    try:  # checked as float64: 1e300 would overflow float32 (a warning, then inf)
        arr = np.asarray(value, dtype=np.float64)
    except OverflowError:  # an int beyond float64
        raise bad_param("pixels", "numbers in 0..1", "a number too large") from None
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise bad_param("pixels", "numbers in 0..1", f"values in {arr.min()}..{arr.max()}")
    return arr.astype(np.float32).reshape(height, width)


def gray_bytes(value: Any, width: int, height: int) -> np.ndarray:
    """Base64 of ``width × height`` bytes (0 black .. 255 white, row by row) -> (height, width)
    float32 0..1: the same input as ``pixels`` at a tenth of the parsing cost (the page sends
    its canvas this way; a PNG costs more to encode and decode than it saves)."""
    n = width * height
    if not isinstance(value, str) or len(value) != 4 * ((n + 2) // 3):
        got = f"{len(value)} characters" if isinstance(value, str) else type(value).__name__
        raise bad_param("gray", f"base64 of {n} bytes ({height}×{width}), "
                        f"{4 * ((n + 2) // 3)} characters", got)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad_param("gray", "valid base64", "invalid base64") from None
    if len(raw) != n:
        raise bad_param("gray", f"base64 of {n} bytes", f"{len(raw)} bytes")
    return np.frombuffer(raw, np.uint8).reshape(height, width).astype(np.float32) / 255


def image(value: Any) -> np.ndarray:
    """A PNG/JPEG/WebP/GIF/BMP data URL -> grayscale float32 0..1 (alpha composited on
    white)."""
    from digitlens.data.preprocess import to_gray
    if not isinstance(value, str) or not value.startswith(IMAGE_PREFIXES):
        raise bad_param("image", "a data URL starting 'data:image/png;base64,' (or jpeg, webp, "
                        "gif, bmp)",
                        value[:30] if isinstance(value, str) else type(value).__name__)
    payload = value.split(",", 1)[1]
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise TooLarge(f"image too large: at most {MAX_IMAGE_BYTES} bytes")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise bad_param("image", "valid base64 after the comma", "invalid base64") from None
    fmt = IMAGE_FORMATS[value[len("data:image/"):].split(";", 1)[0]]
    if fmt == "PNG" and raw.startswith(b"\x89PNG") and PNG_END not in raw[-4096:]:
        raise bad_param("image", "a whole PNG (ending with its IEND chunk)", "a cut-off PNG")
    with decode_image(raw, "image", (fmt,), MAX_SIDE, ParameterError) as im:
        return to_gray(im)


def knockouts(value: Any) -> dict[int, list[int]]:
    """``{"0": [3, 17], "1": [5]}`` (an MLP's hidden layer -> neurons, a convolutional
    network's map layer -> channels) with ints checked later per model."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 16:
        raise bad_param("knockout", "an object mapping a hidden layer to a list of neurons", value)
    out: dict[int, list[int]] = {}
    for key, neurons in value.items():  # JSON keys are strings: "0" is layer 0 here
        layer = integer(key, "knockout layer", 0, 15)
        if not isinstance(neurons, list) or len(neurons) > 4096:
            raise bad_param("knockout", "lists of at most 4096 neuron indices",
                            type(neurons).__name__)
        out[layer] = sorted({whole(n, "knockout neuron", 0, 1_000_000) for n in neurons})
    return out


def finite(value: float) -> float | None:
    """JSON has no NaN or infinity: such a value becomes null."""
    return value if math.isfinite(value) else None
