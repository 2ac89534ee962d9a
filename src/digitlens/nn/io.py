"""Model files: one ``.npz`` (no pickle) holding every weight and bias plus JSON metadata.

Arrays: ``W0..W{L-1}`` (n_in, n_out) float32, ``b0..b{L-1}`` float32, ``meta`` a 0-d unicode
array with JSON: format version, layer sizes, activations, cost, preprocessing, training settings,
dataset and checksums. Loading never unpickles and validates every shape against the metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError, ModelError
from digitlens.fileio import atomic_write_bytes
from digitlens.nn import cnn_io
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP, validate_architecture
from digitlens.nn.npz_layout import npz_bytes
from digitlens.safeload import (
    REQUIRED,
    check_architecture,
    check_class_names,
    check_schema,
    finite_as,
    parse_json,
    read_bounded,
    read_npz,
)

FORMAT = "digitlens-mlp"
VERSION = 1
PREPROCESSING = {
    "input": "28x28 grayscale, row-major, ink bright, values pixel/255 in 0..1",
    "drawings": "crop to ink, fit 20x20 keeping aspect, centre of mass at (14, 14) in 28x28",
}


def preprocessing_for(shape: tuple[int, int]) -> dict[str, str]:
    """What the model's input is, in words, for an image of ``shape`` (MNIST's text for 28×28;
    the drawing box is MNIST's 20-in-28 rule scaled, see docs/datasets.md)."""
    h, w = shape
    if (h, w) == (28, 28):
        return dict(PREPROCESSING)
    return {"input": f"{h}x{w} grayscale, row-major, ink bright, values pixel/255 in 0..1",
            "drawings": f"crop to ink, fit in {h}x{w} scaled from MNIST's 20-in-28 box, "
                        "centre of mass at the centre"}


ONLY_DENSE = ("this reads the neurons and weights of a fully connected network (a "
              "convolutional one answers train, evaluate, predict, export --format onnx or "
              "html, import, attribute, nudge, dream --class, compare, report, classroom, "
              "serve and render; docs/cnn.md)")
MODEL_FILE = "model.npz"  # a run folder's latest model (the folder layout: digitlens.nn.run)
ARCHITECTURE = ("format", "version", "sizes", "activations", "cost")
MAX_MODEL_BYTES = 1 << 30
MAX_META_CHARS = 1 << 20
# pre-activations beyond this could overflow float32 (3.4e38) in a product or a sum
MAX_PREACTIVATION = 1e30
# The metadata's types; fields not listed are kept as they are but never used for maths.
META_SCHEMA = {REQUIRED: ARCHITECTURE, "format": (FORMAT,), "version": (VERSION,),
               "sizes": [int], "activations": [str], "cost": str, "preprocessing": dict,
               "training": dict, "dataset": {"name": str, "sha256": dict},
               "class_names": [str], "input_shape": [int], "imported_from": dict,
               "history_tail": {"epoch": int, "test_accuracy": float, "test_loss": float,
                                "loss": float, "lr": float, "seconds": float, "threads": int}}


def model_bytes(model: MLP) -> bytes:
    """The file's bytes. The architecture is written last, from the arrays' model itself: no
    metadata key can stand in for it."""
    extra = {k: v for k, v in model.meta.items() if k not in ARCHITECTURE}
    meta = {"preprocessing": preprocessing_for(model.input_shape), **extra, "format": FORMAT,
            "version": VERSION, "sizes": list(model.sizes), "activations": list(model.activations),
            "cost": model.cost}
    return npz_bytes(meta, model.weights, model.biases)


def save_model(model: MLP, path: str | Path) -> Path:
    """Write ``model`` to ``path`` atomically."""
    path = Path(path)
    atomic_write_bytes(path, model_bytes(model))
    return path


def parse_meta(raw: np.ndarray, name: str, convolutional: bool = False) -> dict[str, Any]:
    """The metadata string: JSON with limits, then checked field by field against the schema
    (a convolutional network's is handed back as it is, when ``convolutional`` allows one)."""
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ModelError(f"{name}: metadata is not a JSON string")
    text = str(raw)
    if len(text) > MAX_META_CHARS:
        raise ModelError(f"{name}: metadata of {len(text)} characters (at most "
                         f"{MAX_META_CHARS})")
    meta = parse_json(text, f"{name}: metadata", ModelError)
    if isinstance(meta, dict) and meta.get("format") == cnn_io.FORMAT and not convolutional:
        raise ModelError(f"{name}: a convolutional network; {ONLY_DENSE}")
    if isinstance(meta, dict) and meta.get("format") == cnn_io.FORMAT:
        return meta
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{name}: not a digitlens model file")
    if meta.get("version") != VERSION:
        raise ModelError(f"{name}: unsupported model format version "
                         f"{str(meta.get('version'))[:20]}")
    check_schema(meta, META_SCHEMA, name, "metadata", ModelError)
    return meta


def check_bounded(activations: list[str], pieces: list[tuple[np.ndarray,
                  np.ndarray]], name: str) -> None:
    """Refuse weights whose products can overflow float32 on inputs in 0..1: each layer's
    largest possible pre-activation, bounded in float64 (sigmoid and tanh reset it to 1)."""
    bound = 1.0
    for i, ((w, b), act) in enumerate(zip(pieces, activations, strict=True)):
        # |w| is exact in float32; the sum runs in float64 without a float64 copy of w
        pre = float(np.max(np.abs(w).sum(axis=0, dtype=np.float64) * bound
                           + np.abs(b.astype(np.float64))))
        if not pre <= MAX_PREACTIVATION:
            raise ModelError(f"{name}: layer {i}'s weights are so large that its outputs "
                             f"can reach {pre:.3g}, beyond what float32 holds safely")
        bound = 1.0 if act in ("sigmoid", "tanh", "softmax") else pre


def check_io_meta(sizes: list[int], meta: dict[str, Any], name: str) -> None:
    """The image shape and class names a model file gives must fit its first and last layers:
    any image size and class count is allowed, but a 784-input model that calls itself 10×10
    would be drawn and fed wrongly everywhere."""
    shape = meta.get("input_shape")
    if shape is not None and (len(shape) != 2 or min(shape) < 1
                              or shape[0] * shape[1] != sizes[0]):
        raise ModelError(f"{name}: input_shape {str(shape)[:40]} is not a height×width of "
                         f"the model's {sizes[0]} inputs")
    names = meta.get("class_names")
    if names is not None and len(names) != sizes[-1]:
        raise ModelError(f"{name}: {len(names)} class names for {sizes[-1]} outputs")
    if names is not None:
        check_class_names(names, f"{name}: metadata.class_names", ModelError)


def read_meta(data: bytes, name: str, convolutional: bool = False) -> dict[str, Any]:
    head = read_npz(data, name, {"meta": 4 * MAX_META_CHARS + 256}, ModelError, "model file",
                    only=("meta",))
    if "meta" not in head:
        raise ModelError(f"{name}: no metadata")
    return parse_meta(head["meta"], name, convolutional)


def load_network_bytes(data: bytes, name: str = "<bytes>") -> MLP | CNN:
    """A model file's network, fully connected or convolutional (``digitlens.nn.cnn_io``)."""
    meta = read_meta(data, name, convolutional=True)
    if meta.get("format") == cnn_io.FORMAT:
        return cnn_io.load_cnn_meta(meta, data, name)
    return load_model_bytes(data, name)


def network_bytes(model: MLP | CNN) -> bytes:
    return cnn_io.cnn_bytes(model) if isinstance(model, CNN) else model_bytes(model)


def load_network(path: str | Path) -> MLP | CNN:
    """``load_model`` for either kind of network."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    return load_network_bytes(read_bounded(path, MAX_MODEL_BYTES, ModelError, "model file"),
                              str(path))


def load_model_bytes(data: bytes, name: str = "<bytes>") -> MLP:
    """Parse a model file's bytes; any corruption is a ``ModelError`` naming ``name``. Sizes
    come from the arrays and must agree with the metadata's; parameters must be finite as the
    float32 they are used in. A convolutional network is refused in one line (``ONLY_DENSE``):
    ``load_network_bytes`` reads it."""
    meta = read_meta(data, name)
    sizes, activations, cost = meta["sizes"], meta["activations"], meta["cost"]
    check_architecture(sizes, name)
    try:
        validate_architecture(sizes, activations, cost)
    except DigitlensError as exc:
        raise ModelError(f"{name}: {str(exc).removeprefix(name + ': ')}") from None
    check_io_meta(sizes, meta, name)
    # each member may hold at most its float64 array: a bomb is refused before it inflates
    limits = {"meta": 4 * MAX_META_CHARS + 256}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        limits[f"W{i}"], limits[f"b{i}"] = 8 * n_in * n_out + 256, 8 * n_out + 256
    arrays = read_npz(data, name, limits, ModelError, "model file")
    del arrays["meta"]
    expected = set(limits) - {"meta"}
    if set(arrays) != expected:
        odd = sorted(set(arrays) ^ expected)[0]
        state = "missing" if odd in expected else "unexpected"
        raise ModelError(f"{name}: array {odd[:20]!r} (layer {odd[1:][:8]}) is {state} for "
                         f"sizes {sizes}")
    pieces = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w, b = arrays[f"W{i}"], arrays[f"b{i}"]
        if w.shape != (n_in, n_out) or b.shape != (n_out,):
            raise ModelError(f"{name}: layer {i} weights/biases have shapes {list(w.shape)}/"
                             f"{list(b.shape)}, not ({n_in}, {n_out})/({n_out},) as the sizes say")
        if w.dtype.kind != "f" or b.dtype.kind != "f":
            raise ModelError(f"{name}: parameters must be floating-point, not {w.dtype}/{b.dtype}")
        pieces.append((finite_as(w, np.float32, f"layer {i} weights", name, ModelError),
                       finite_as(b, np.float32, f"layer {i} biases", name, ModelError)))
    check_bounded(activations, pieces, name)
    params = np.concatenate([w.ravel() for w, _ in pieces] + [b for _, b in pieces])
    extra = {k: v for k, v in meta.items() if k not in ARCHITECTURE}
    try:
        return MLP(tuple(sizes), tuple(activations), cost, params, extra)
    except DigitlensError as exc:
        raise ModelError(f"{name}: {exc}") from None


def verified(model: MLP, name: str) -> MLP:
    """``model`` as every command will load it: an importer hands back only what the loading
    boundary accepts, so no import writes a file that is refused afterwards."""
    load_model_bytes(model_bytes(model), name)
    return model


def load_model(path: str | Path) -> MLP:
    """Load a model file, or the model of a run folder (regular files only, read with a bound)."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    return load_model_bytes(read_bounded(path, MAX_MODEL_BYTES, ModelError, "model file"),
                            str(path))
