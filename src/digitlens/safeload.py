"""The one loading boundary: every byte digitlens reads from a file passes through here.

A leaf module (it imports only ``digitlens.errors``) so data, nn, export and web all use the
same checks without breaking the data -> nn -> ... direction. It refuses, before allocating:
non-regular files (devices, FIFOs, sockets: ``st_size`` says nothing about them), files over a
bound (read with the bound, never trusting ``st_size``), ``.npy`` members whose header declares
more than their bytes hold, zip members that inflate past what they declare, JSON nested too
deep or with numbers too long or not finite, arrays not finite in the dtype they are used in,
and images in formats outside the allowlist or over the pixel limit. Every failure is one
``DigitlensError`` (the caller's subclass) naming the file and what is wrong.
"""

from __future__ import annotations

import array
import ast
import hashlib
import io
import json
import math
import os
import re
import stat
import struct
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from digitlens.errors import DataError, DigitlensError, ModelError

ErrorType = type[DigitlensError]

MAX_JSON_DEPTH = 64
MAX_NUMBER_CHARS = 64       # "-0.00012345678901234567e-123" is far shorter
MAX_NPY_HEADER = 4096
MAX_NPY_DIMS = 8
NPY_KINDS = "fiubU"         # numbers, booleans and the unicode metadata string; never objects
NPY_DESCR = re.compile(r"[<>|=]?[?bBhHiIlLqQpPefdgFDGSUVOMmcu][0-9]{0,9}")  # one type code, a size
# Decoders the server and the CLI hand image bytes to: Pillow would otherwise sniff any format
# it knows, EPS included (which runs Ghostscript).
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
MAX_IMAGE_SIDE = 4096       # CLI images: at most 4096×4096 pixels (checked before decoding)
MAX_IMAGE_FILE = 64 << 20
MAX_JPEG_SCANS = 64
MAX_NEURONS = 1 << 16       # per layer
MAX_PARAMS = 1 << 27        # 134M float32 values = 512 MiB
MAX_LAYERS = 64
MAX_CLASS_NAME = 64         # characters of one class name


def open_regular(path: str | Path, error: ErrorType = DataError, what: str = "file") -> BinaryIO:
    """``path`` opened for reading if it is a regular file. Opened non-blocking, so a FIFO
    cannot hang the open; checked with fstat on the open descriptor (no race with a rename)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{path}: is a folder, not a {what}")
        if not stat.S_ISREG(mode):
            raise error(f"{path}: is {kind_of(mode)}, not a regular file; digitlens reads "
                        f"a {what} only from a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: str | Path, limit: int, error: ErrorType = DataError,
                 what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refusing anything else and anything over
    ``limit`` bytes (read with the bound itself: ``st_size`` is never trusted)."""
    with open_regular(path, error, what) as fh:
        try:
            # st_size only sizes the first read (a regular file may still grow, and a huge
            # bound must not become a huge buffer); reading stops at the bound either way
            first = min(limit + 1, os.fstat(fh.fileno()).st_size + 1)
            chunks = [fh.read(first)]
            size = len(chunks[0])
            while size <= limit and chunks[-1]:
                chunks.append(fh.read(min(limit + 1 - size, 1 << 20)))
                size += len(chunks[-1])
            data = b"".join(chunks) if len(chunks) > 1 else chunks[0]
        except OSError as exc:
            raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise error(f"{path}: is larger than the {limit} allowed bytes of a {what}")
    return data


def digest_file(path: str | Path, limit: int, error: ErrorType = DataError,
                what: str = "file") -> str:
    """The SHA-256 (hex) of the regular file ``path``, read in 1 MiB pieces (never whole), or
    "-" if there is none; anything that is not a regular file, or over ``limit`` bytes, is
    refused as ``read_bounded`` would (a FIFO cannot hang the hash)."""
    if not os.path.lexists(path):
        return "-"
    h = hashlib.sha256()
    size = 0
    with open_regular(path, error, what) as fh:
        try:
            while piece := fh.read(1 << 20):
                size += len(piece)
                if size > limit:
                    raise error(f"{path}: is larger than the {limit} allowed bytes of a {what}")
                h.update(piece)
        except OSError as exc:
            raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    return h.hexdigest()


def read_head(path: str | Path, n: int, error: ErrorType = DataError, what: str = "file") -> bytes:
    """The first ``n`` bytes of the regular file ``path`` (to tell a format by its start)."""
    with open_regular(path, error, what) as fh:
        try:
            return fh.read(n)
        except OSError as exc:
            raise error(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_range(path: str | Path, offset: int, length: int, error: ErrorType = DataError,
               what: str = "file") -> bytes:
    """Exactly ``length`` bytes at ``offset`` of the regular file ``path`` (a tensor kept in a
    data file beside a model): a file too short for the range is refused, not padded."""
    if offset < 0 or length < 0:
        raise error(f"{path}: negative offset or length ({offset}, {length})")
    with open_regular(path, error, what) as fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            if offset + length > size:
                raise error(f"{path}: holds {size} bytes, fewer than the {offset + length} "
                            f"needed (offset {offset} + length {length})")
            fh.seek(offset)
            data = fh.read(length)
        except OSError as exc:
            raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) != length:
        raise error(f"{path}: ended after {len(data)} of {length} bytes at offset {offset}")
    return data


def beside(folder: str | Path, location: str, name: str, error: ErrorType = DataError) -> Path:
    """The file ``location`` names inside ``folder``, refusing absolute paths, ``..``, drive or
    backslash tricks and symlinks that lead out of the folder."""
    text = str(location)
    if not text or "\\" in text or "\0" in text or ":" in text:
        raise error(f"{name}: external data location {text[:80]!r} is not a plain file name")
    rel = Path(text)
    if rel.is_absolute() or ".." in rel.parts:
        raise error(f"{name}: external data location {text[:80]!r} leaves the model's folder; "
                    "only files beside the model are read")
    root = Path(os.path.realpath(folder))
    target = Path(os.path.realpath(root / rel))
    if target != root and root not in target.parents:
        raise error(f"{name}: external data location {text[:80]!r} is a link out of the "
                    "model's folder; only files beside the model are read")
    if not target.exists():
        raise error(f"{name}: external data file {text[:80]!r} is missing (it must be beside "
                    "the model, as the exporter wrote it)")
    return target


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, word in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return word
    return "not a plain file"


# --- JSON -----------------------------------------------------------------------------------

def parse_json(data: bytes | str, name: str, error: ErrorType = DataError,
               max_depth: int = MAX_JSON_DEPTH, packed: bool = False) -> Any:
    """JSON with limits: numbers of at most ``MAX_NUMBER_CHARS`` characters that are finite as
    float64, no NaN/Infinity, nesting at most ``max_depth``. ``packed``: every list that holds
    a number with a fraction or exponent comes back as a float64 array (16 bytes a number while
    parsing, 8 after, instead of a Python float's 32), and a key given twice is refused."""
    floats = array.array("d")

    def number(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise error(f"{name}: a number of {len(text)} characters (at most "
                        f"{MAX_NUMBER_CHARS})")
        value = float(text)
        if not math.isfinite(value):
            raise error(f"{name}: the number {text[:20]} is too large")
        if packed:
            floats.append(value)
            return PACKED
        return value

    def integer(text: str) -> int:
        if len(text) > MAX_NUMBER_CHARS:
            raise error(f"{name}: a number of {len(text)} digits (at most {MAX_NUMBER_CHARS})")
        return int(text)

    def constant(text: str) -> None:
        raise error(f"{name}: {text} is not a number JSON allows")

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) != len(pairs):
            raise error(f"{name}: a key appears twice in one object")
        return d

    try:
        if nesting(data) > max_depth:
            raise error(f"{name}: JSON nested deeper than {max_depth} levels")
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        doc = json.loads(text, parse_float=number, parse_int=integer, parse_constant=constant,
                         object_pairs_hook=unique if packed else None)
    except UnicodeError:
        raise error(f"{name}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise error(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno} column "
                    f"{exc.colno}; truncated?)") from None
    except RecursionError:
        raise error(f"{name}: JSON nested deeper than {max_depth} levels") from None
    del data, text  # the caller may have let go of the text: the arrays need not share with it
    return unpack(doc, np.frombuffer(floats, np.float64)) if packed else doc


class _Packed:
    """The stand-in a packed parse puts where a float was (one object for all of them)."""

    def __repr__(self) -> str:
        return "<packed float>"


PACKED = _Packed()


def unpack(doc: Any, floats: np.ndarray) -> Any:
    """Put ``floats`` back where ``parse_json(packed=True)`` left stand-ins, in document order
    (the parser met them in that order and a packed document has no repeated keys): a list
    holding one becomes a float64 array (a read-only view when it holds floats only), a lone one
    a float."""
    at = 0

    def walk(value: Any) -> Any:
        nonlocal at
        if value is PACKED:
            at += 1
            return float(floats[at - 1])
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = walk(item)
            return value
        if not isinstance(value, list):
            return value
        n, k = len(value), value.count(PACKED)
        if k and (k == n or k + sum(type(v) is int for v in value) == n):
            if k == n:  # a view: the numbers stay where the parser put them
                out = floats[at:at + n]
            else:
                mask = np.fromiter((v is PACKED for v in value), bool, n)
                out = np.empty(n, np.float64)
                out[mask] = floats[at:at + k]
                out[~mask] = [v for v in value if v is not PACKED]
            at += k
            return out
        for i, item in enumerate(value):
            value[i] = walk(item)
        return value

    return walk(doc)


# Every byte but the five that shape JSON's nesting: a quote and the four brackets (UTF-8's
# multi-byte sequences never hold a byte below 0x80, so none can be mistaken for one).
NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
STEP = np.zeros(256, np.int64)
STEP[list(b"[{")], STEP[list(b"]}")] = 1, -1
CHUNK = 1 << 20


def nesting(data: bytes | str) -> int:
    """The deepest bracket nesting of JSON text (brackets inside strings skipped), before it
    is parsed, in time and memory linear in the text. Escaped backslashes and escaped quotes are
    dropped (a copy only where there are some), then, a megabyte at a time, every byte but
    quotes and brackets, and NumPy counts the rest: a bracket counts where the quotes before it
    are even. Exact for valid JSON; whatever it says of invalid JSON, the parser refuses that
    text. (A regex over the strings cost ~120 bytes of memory per character.)"""
    if isinstance(data, str):
        clean: bytes | str = data.replace("\\\\", "").replace('\\"', "")
    else:
        clean = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    deepest = level = quotes = 0
    for start in range(0, len(clean), CHUNK):
        piece = clean[start:start + CHUNK]
        raw = piece.encode("utf-8", "surrogatepass") if isinstance(piece, str) else piece
        marks = np.frombuffer(raw.translate(None, NOT_STRUCTURE), np.uint8)
        if not marks.size:
            continue
        seen = np.cumsum(marks == ord('"'), dtype=np.int64) + quotes  # quotes up to here
        levels = np.cumsum(STEP[marks] * (seen % 2 == 0)) + level
        deepest = max(deepest, int(levels.max()))
        level, quotes = int(levels[-1]), int(seen[-1])
    return deepest


# A schema: a type (``int`` excludes bool; ``float`` accepts ints), a tuple of allowed
# constants, a dict of field -> schema (fields optional unless listed in ``REQUIRED``), or a
# one-element list [schema] for a list of such values.
Schema = Any
REQUIRED = "__required__"


class Maybe:
    """Schema: ``None`` or a value of ``schema``."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema


def check_schema(value: Any, schema: Schema, name: str, where: str,
                 error: ErrorType = DataError) -> None:
    """Refuse ``value`` unless it has the types ``schema`` says; the message names the field."""
    def bad(expected: str) -> DigitlensError:
        got = type(value).__name__
        return error(f"{name}: {where} must be {expected}, not {got}")

    if isinstance(schema, Maybe):
        if value is not None:
            check_schema(value, schema.schema, name, where, error)
    elif isinstance(schema, dict):
        if not isinstance(value, dict):
            raise bad("an object")
        for key in schema.get(REQUIRED, ()):
            if key not in value:
                raise error(f"{name}: {where} lacks {key!r}")
        for key, sub in schema.items():
            if key != REQUIRED and key in value:
                check_schema(value[key], sub, name, f"{where}.{key}", error)
    elif isinstance(schema, list):
        if not isinstance(value, list):
            raise bad("a list")
        for i, item in enumerate(value):
            check_schema(item, schema[0], name, f"{where}[{i}]", error)
    elif isinstance(schema, tuple):
        if not any(value == s and type(value) is type(s) for s in schema):
            raise error(f"{name}: {where} must be one of {', '.join(map(repr, schema))}, "
                        f"not {str(value)[:40]!r}")
    elif schema is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        if not math.isfinite(value):
            raise error(f"{name}: {where} is not a finite number")
    elif schema is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
    elif schema is Any:
        return
    elif schema is None:
        if value is not None:
            raise bad("null")
    elif not isinstance(value, schema) or (schema is not bool and isinstance(value, bool)):
        raise bad(f"a {schema.__name__}")


# --- npz / npy ------------------------------------------------------------------------------

def read_npz(data: bytes, name: str, limit: int | Mapping[str, int],
             error: ErrorType = DataError, what: str = ".npz archive",
             only: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive, never unpickling. ``limit``: the bytes all members
    may inflate to, or the most each named member may (any other member is refused). Declared
    sizes are checked before anything is inflated, members are inflated with that bound (a
    member lying about its size is caught, not trusted), and each ``.npy`` header must describe
    exactly the bytes that follow it. ``only``: read just these members."""
    if not data.startswith(b"PK"):
        raise error(f"{name}: not a readable {what} (not an .npz archive)")
    arrays: dict[str, np.ndarray] = {}
    total = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > 4096:
                raise error(f"{name}: {len(infos)} members, too many for a {what}")
            for info in infos:
                key = info.filename.removesuffix(".npy")
                if not info.filename.endswith(".npy") or key in arrays:
                    raise error(f"{name}: member {info.filename[:60]!r} is not one array")
                if only is not None and key not in only:
                    continue
                if isinstance(limit, Mapping):
                    if key not in limit:
                        raise error(f"{name}: unexpected member {key[:60]!r}")
                    if info.file_size > limit[key]:
                        raise error(f"{name}: member {key!r} declares {info.file_size} bytes, "
                                    f"more than its {limit[key]} can be")
                else:
                    total += info.file_size
                    if total > limit:
                        raise error(f"{name}: its members inflate to more than the {limit} "
                                    "bytes allowed")
                with zf.open(info) as fh:
                    raw = fh.read(info.file_size + 1)
                if len(raw) != info.file_size:
                    raise error(f"{name}: member {key!r} holds {len(raw)} bytes but declares "
                                f"{info.file_size}")
                arrays[key] = parse_npy(raw, f"{name}: member {key!r}", error)
    except DigitlensError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
            NotImplementedError, RuntimeError, OverflowError, struct.error,
            UnicodeDecodeError, IndexError) as exc:
        raise error(f"{name}: not a readable {what} ({type(exc).__name__}: "
                    f"{str(exc)[:80]})") from None
    return arrays


def parse_npy(raw: bytes, where: str, error: ErrorType = DataError) -> np.ndarray:
    """One ``.npy`` member: header checked (dtype kind, shape × itemsize = the bytes present)
    before the array is made; the array is a view of ``raw``, nothing more is allocated."""
    if not raw.startswith(b"\x93NUMPY") or len(raw) < 10:
        raise error(f"{where} is not a .npy array")
    major = raw[6]
    if major == 1:
        (hlen,), start = struct.unpack("<H", raw[8:10]), 10
    elif major in (2, 3) and len(raw) >= 12:
        (hlen,), start = struct.unpack("<I", raw[8:12]), 12
    else:
        raise error(f"{where} has an unknown .npy version {major}")
    if hlen > MAX_NPY_HEADER or start + hlen > len(raw):
        raise error(f"{where} has a corrupt .npy header (length {hlen})")
    try:
        header = ast.literal_eval(raw[start:start + hlen].decode("latin-1"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise error(f"{where} has a corrupt .npy header") from None
    if (not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}
            or not isinstance(header["descr"], str) or not isinstance(header["shape"], tuple)
            or not isinstance(header["fortran_order"], bool)):
        raise error(f"{where} has a corrupt .npy header")
    if not NPY_DESCR.fullmatch(header["descr"]):  # ',f4' is a SyntaxError inside NumPy
        raise error(f"{where} has an unreadable dtype {header['descr'][:20]!r}")
    try:
        dtype = np.dtype(header["descr"])
    except (TypeError, ValueError):
        raise error(f"{where} has an unreadable dtype {header['descr'][:20]!r}") from None
    if dtype.kind not in NPY_KINDS or dtype.fields or dtype.subdtype or dtype.itemsize == 0:
        raise error(f"{where} has dtype {dtype}, not plain numbers or text")
    shape = header["shape"]
    if len(shape) > MAX_NPY_DIMS or not all(isinstance(s, int) and not isinstance(s, bool)
                                            and s >= 0 for s in shape):
        raise error(f"{where} has a bad shape {str(shape)[:60]}")
    count = math.prod(shape)
    body = len(raw) - start - hlen
    if count * dtype.itemsize != body:
        raise error(f"{where} declares shape {list(shape)} of {dtype} ({count * dtype.itemsize} "
                    f"bytes) but holds {body}")
    arr = np.frombuffer(raw, dtype, count, offset=start + hlen)
    if dtype.kind == "U":  # UTF-32 text: every code point must be a real character
        points = np.frombuffer(raw, dtype.byteorder.replace("|", "=") + "u4", count * dtype.itemsize
                               // 4, offset=start + hlen)
        if np.any(points > 0x10FFFF) or np.any((points >= 0xD800) & (points <= 0xDFFF)):
            raise error(f"{where} holds text that is not valid Unicode")
    return arr.reshape(shape, order="F" if header["fortran_order"] else "C")


def finite_as(array: np.ndarray, dtype: Any, what: str, name: str,
              error: ErrorType = DataError) -> np.ndarray:
    """``array`` as ``dtype``, refusing NaN/infinity there: float64 1e300 is finite but
    becomes infinity in float32."""
    if array.dtype.kind not in "fiu":
        raise error(f"{name}: {what} must be numbers, not {array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(array).astype(dtype)
    if not np.all(np.isfinite(out)):
        raise error(f"{name}: {what} contains NaN or infinity (or values too large for "
                    f"{np.dtype(dtype).name})")
    return out


# --- images ---------------------------------------------------------------------------------

def decode_image(raw: bytes, name: str, formats: tuple[str, ...] = IMAGE_FORMATS,
                 max_side: int = MAX_IMAGE_SIDE, error: ErrorType = DataError) -> Any:
    """Decode image bytes with only the allowlisted decoders, after checking the declared size
    (Pillow reads it from the header without decoding). Returns a loaded PIL image."""
    from PIL import Image

    if raw[:2] == b"\xff\xd8" and raw.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise error(f"{name}: a JPEG with more than {MAX_JPEG_SCANS} scans")
    try:
        with warnings.catch_warnings():  # Pillow's own, looser, bomb warning: ours is stricter
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(raw), formats=list(formats))
        with im:
            if im.width > max_side or im.height > max_side:
                raise error(f"{name}: {im.width}×{im.height} pixels; at most "
                            f"{max_side}×{max_side}")
            im.load()
            return im.copy()
    except DigitlensError:
        raise
    except Image.UnidentifiedImageError:
        raise error(f"{name}: not a readable {', '.join(formats)} image") from None
    except Image.DecompressionBombError:
        raise error(f"{name}: far more pixels than {max_side}×{max_side}") from None
    except (OSError, ValueError, SyntaxError, EOFError,
            struct.error, TypeError, IndexError, ZeroDivisionError, MemoryError) as exc:
        raise error(f"{name}: not a readable image ({str(exc)[:80]})") from None


def load_image_file(path: str | Path, error: ErrorType = DataError) -> Any:
    """An image file for the CLI: the same allowlist and limits as the server's uploads."""
    return decode_image(read_bounded(path, MAX_IMAGE_FILE, error, "image"), str(path),
                        error=error)


# --- names ----------------------------------------------------------------------------------

def check_class_names(names: Sequence[object], where: str, error: ErrorType = DataError,
                      item: str = "class name") -> tuple[str, ...]:
    """Class names as every surface can show them: text of 1 to ``MAX_CLASS_NAME`` printable
    characters (no control, format or line-breaking characters, which would break a CLI line,
    a caption or a cell); ``item`` names what is counted ("line" for ``classes.txt``). Markup
    in a name stays allowed: every page, picture and workbook shows a name as text, never as
    HTML or a formula."""
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise error(f"{where}: {item} {i + 1} is a {type(name).__name__}, not text")
        if not 1 <= len(name) <= MAX_CLASS_NAME or not name.isprintable():
            raise error(f"{where}: {item} {i + 1} ({name[:40]!r}) is not 1 to "
                        f"{MAX_CLASS_NAME} printable characters")
    return tuple(names)  # type: ignore[arg-type]  # each checked to be a str above


# --- sizes against the data they meet ------------------------------------------------------

def check_fits(sizes: tuple[int, ...] | list[int], n_pixels: int, classes: Mapping[int, Any]
               | list[str] | tuple[str, ...], name: str, data: str,
               error: ErrorType = DataError) -> None:
    """A model reads ``sizes[0]`` values and answers ``sizes[-1]`` classes: both must match the
    data it is used on, or every answer would be wrong (or crash)."""
    if sizes[0] != n_pixels:
        raise error(f"{name}: the model reads {sizes[0]} inputs but {data} has {n_pixels} "
                    "pixels per image")
    if sizes[-1] != len(classes):
        raise error(f"{name}: the model has {sizes[-1]} outputs but {data} has "
                    f"{len(classes)} classes")


def check_architecture(sizes: list[int], name: str, error: ErrorType = ModelError) -> None:
    """Refuse absurd sizes before allocating anything."""
    if not 2 <= len(sizes) <= MAX_LAYERS + 1:
        raise error(f"{name}: a network needs 1 to {MAX_LAYERS} weight layers, "
                    f"got {len(sizes) - 1}")
    if any(s < 1 or s > MAX_NEURONS for s in sizes):
        raise error(f"{name}: layer sizes must be 1..{MAX_NEURONS}, got {str(sizes)[:80]}")
    if sizes[-1] < 2:  # one output has nothing to choose between: every answer is that class
        raise error(f"{name}: a model needs at least 2 classes (outputs), got {sizes[-1]}")
    total = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if total > MAX_PARAMS:
        raise error(f"{name}: {total} parameters is more than the {MAX_PARAMS} allowed")


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None``: JSON has no NaN or infinity,
    and a reader must never get ``NaN`` (invalid JSON). Loading refuses models that could
    produce one; this is the last guard on the way out (CLI ``--json`` and the API)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    if isinstance(value, np.floating | np.integer | np.ndarray):
        return finite_json(value.tolist())
    return value
