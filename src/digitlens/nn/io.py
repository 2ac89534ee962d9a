"""Model files: one ``.npz`` (no pickle) holding every weight and bias plus JSON metadata.

Arrays: ``W0..W{L-1}`` (n_in, n_out) float32, ``b0..b{L-1}`` float32, ``meta`` a 0-d unicode
array with JSON: format version, layer sizes, activations, cost, preprocessing, training settings,
dataset and checksums. Loading never unpickles and validates every shape against the metadata.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError, ModelError
from digitlens.fileio import atomic_write_bytes
from digitlens.nn.mlp import MLP

FORMAT = "digitlens-mlp"
VERSION = 1
PREPROCESSING = {
    "input": "28x28 grayscale, row-major, ink bright, values pixel/255 in 0..1",
    "drawings": "crop to ink, fit 20x20 keeping aspect, centre of mass at (14, 14) in 28x28",
}


def model_bytes(model: MLP) -> bytes:
    meta = {"format": FORMAT, "version": VERSION, "sizes": list(model.sizes),
            "activations": list(model.activations), "cost": model.cost,
            "preprocessing": PREPROCESSING, **{k: v for k, v in model.meta.items()
                                               if k not in ("format", "version")}}
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        arrays[f"W{i}"], arrays[f"b{i}"] = w, b
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def save_model(model: MLP, path: str | Path) -> Path:
    """Write ``model`` to ``path`` atomically."""
    path = Path(path)
    atomic_write_bytes(path, model_bytes(model))
    return path


def parse_meta(raw: np.ndarray, name: str) -> dict[str, Any]:
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ModelError(f"{name}: metadata is not a JSON string")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{name}: metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{name}: not a digitlens model file")
    if meta.get("version") != VERSION:
        raise ModelError(f"{name}: unsupported model format version {meta.get('version')!r}")
    return meta


def load_model_bytes(data: bytes, name: str = "<bytes>") -> MLP:
    """Parse a model file's bytes; any corruption is a ``ModelError`` naming ``name``."""
    if not data.startswith(b"PK"):
        raise ModelError(f"{name}: not a readable model file (not an .npz archive)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise ModelError(f"{name}: not a readable model file ({exc})") from None
    if "meta" not in arrays:
        raise ModelError(f"{name}: no metadata")
    meta = parse_meta(arrays.pop("meta"), name)
    sizes, activations, cost = meta.get("sizes"), meta.get("activations"), meta.get("cost")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and s >= 1 for s in sizes)):
        raise ModelError(f"{name}: bad layer sizes in the metadata: {str(sizes)[:80]}")
    if not isinstance(activations, list) or not isinstance(cost, str):
        raise ModelError(f"{name}: metadata lacks activations or cost")
    pieces = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w, b = arrays.get(f"W{i}"), arrays.get(f"b{i}")
        if w is None or b is None or w.shape != (n_in, n_out) or b.shape != (n_out,):
            raise ModelError(f"{name}: layer {i} weights/biases missing or not of shape "
                             f"({n_in}, {n_out})/({n_out},)")
        pieces.append((w, b))
    for w, b in pieces:
        if w.dtype.kind != "f" or b.dtype.kind != "f":
            raise ModelError(f"{name}: parameters must be floating-point, not {w.dtype}/{b.dtype}")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ModelError(f"{name}: parameters contain NaN or infinity")
    params = np.concatenate([w.ravel() for w, _ in pieces] + [b for _, b in pieces]).astype(
        np.float32)
    extra = {k: v for k, v in meta.items() if k not in ("sizes", "activations", "cost")}
    try:
        return MLP(tuple(sizes), tuple(activations), cost, params, extra)
    except DigitlensError as exc:
        raise ModelError(f"{name}: {exc}") from None


def load_model(path: str | Path) -> MLP:
    """Load a model file, or the model of a run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.npz"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return load_model_bytes(data, str(path))
