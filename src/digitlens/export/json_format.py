"""The network as JSON: a documented, versioned schema that round-trips bit for bit.

Schema ``digitlens-network`` version 1 (docs/export.md has the full description)::

    {"format": "digitlens-network", "version": 1,
     "sizes": [784, 64, 10], "cost": "cross_entropy",
     "input": {"shape": [28, 28], "order": "row-major", "range": [0, 1], "preprocessing": {...}},
     "output": {"classes": ["0", ...], "activation": "softmax", "probabilities": "..."},
     "layers": [{"inputs": 784, "neurons": 64, "activation": "sigmoid",
                 "weights": [[784 numbers], ...64 rows], "biases": [64 numbers]}, ...],
     "provenance": {"writer": "digitlens 0.1.0", "training": {...}, "dataset": {...}, ...}}

``weights[j][i]`` is the weight from input ``i`` to neuron ``j``: one row per neuron, so the
first layer's rows reshape to 28×28 weight images. Numbers are the shortest decimal strings that
read back to the same float32, so export → import is exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError, ModelError
from digitlens.export import MAX_JSON_BYTES, check_architecture, check_finite
from digitlens.fileio import atomic_write_text
from digitlens.nn.io import ARCHITECTURE, META_SCHEMA, check_io_meta, preprocessing_for, verified
from digitlens.nn.mlp import MLP, default_input_shape
from digitlens.safeload import REQUIRED, check_schema, parse_json, read_bounded
from digitlens.version import __version__

FORMAT = "digitlens-network"
VERSION = 1
RESERVED_META = ("format", "version", "preprocessing", "sizes", "activations", "cost")


def probability_rule(output: str) -> str:
    if output == "softmax":
        return "the softmax outputs"
    return "each sigmoid output divided by the sum of the 10 outputs"


def numbers(a: np.ndarray) -> str:
    """A float32 array as JSON text with each value's shortest exact decimal."""
    text = a.astype(np.float32).astype(str)  # numpy's shortest round-trip repr for float32
    if a.ndim == 1:
        return "[" + ",".join(text.tolist()) + "]"
    return "[\n    " + ",\n    ".join("[" + ",".join(r) + "]" for r in text.tolist()) + "\n   ]"


def to_json_text(model: MLP) -> str:
    """The whole document; parameters formatted by hand (one neuron per line) for speed."""
    for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        check_finite(w, f"layer {i} weights", "model")
        check_finite(b, f"layer {i} biases", "model")
    classes = list(model.class_names)
    provenance = {"writer": f"digitlens {__version__}",
                  **{k: v for k, v in model.meta.items() if k not in RESERVED_META}}
    doc: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "sizes": list(model.sizes), "cost": model.cost,
        "input": {"shape": list(model.input_shape), "order": "row-major", "range": [0, 1],
                  "preprocessing": preprocessing_for(model.input_shape)},
        "output": {"classes": classes, "activation": model.output_activation,
                   "probabilities": probability_rule(model.output_activation)},
        "layers": [{"inputs": n_in, "neurons": n_out, "activation": act,
                    "weights": f"@W{i}@", "biases": f"@b{i}@"}
                   for i, (n_in, n_out, act) in enumerate(zip(
                       model.sizes[:-1], model.sizes[1:], model.activations, strict=True))],
        "provenance": provenance,
    }
    text = json.dumps(doc, indent=1)
    for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        text = text.replace(f'"@W{i}@"', numbers(w.T), 1).replace(f'"@b{i}@"', numbers(b), 1)
    return text + "\n"


def export_json(model: MLP, path: str | Path) -> Path:
    """Write ``model`` as schema ``digitlens-network`` v1, atomically."""
    path = Path(path)
    atomic_write_text(path, to_json_text(model))
    return path


def field(d: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str,
          name: str) -> Any:
    if key not in d:
        raise ModelError(f"{name}: {where} lacks the field {key!r}")
    value = d[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ModelError(f"{name}: {where}.{key} has the wrong type ({type(value).__name__})")
    return value


def as_matrix(value: Any, shape: tuple[int, ...], where: str, name: str) -> np.ndarray:
    """A nested list of numbers of exactly ``shape`` as float32, or a clear error. Only JSON
    numbers: NumPy would read ``"0.5"`` and ``true`` as numbers too."""
    odd = sorted(t.__name__ for t in element_types(value, len(shape)) - {int, float})
    if odd:
        raise ModelError(f"{name}: {where} must be a {'×'.join(map(str, shape))} array of JSON "
                         f"numbers, not of {odd[0]} values")
    try:  # straight to float32: the parser refused non-finite numbers, so inf is overflow
        with np.errstate(over="ignore"):
            a = np.array(value, dtype=np.float32)
    except (ValueError, TypeError):
        raise ModelError(f"{name}: {where} must be a {'×'.join(map(str, shape))} array of "
                         "numbers") from None
    if a.shape != shape:
        raise ModelError(f"{name}: {where} has shape {'×'.join(map(str, a.shape))}, expected "
                         f"{'×'.join(map(str, shape))}")
    if not np.all(np.isfinite(a)):
        raise ModelError(f"{name}: {where} has values too large for float32")
    return a


def element_types(value: Any, depth: int) -> set[type]:
    """The types found ``depth`` lists down (``map`` and ``set`` in C: ~30 ns per number)."""
    if isinstance(value, np.ndarray):  # a packed row: float64 numbers only
        return {float}
    if not isinstance(value, list):
        return {type(value)}
    if depth <= 1:
        return set(map(type, value))
    return set().union(*(element_types(row, depth - 1) for row in value))


def plain(value: Any) -> Any:
    """A packed parse's arrays back to lists (a record, small, kept as JSON would read it)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return [plain(v) for v in value] if isinstance(value, list) else value


def model_from_doc(doc: Any, name: str) -> MLP:
    """Validate a parsed document against schema v1 and build the model."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelError(f"{name}: not a digitlens network JSON file (no \"format\": "
                         f"\"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise ModelError(f"{name}: unsupported schema version {doc.get('version')!r} "
                         f"(this digitlens reads version {VERSION})")
    sizes = field(doc, "sizes", list, "the file", name)
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
        raise ModelError(f"{name}: sizes must be integers, got {sizes}")
    check_architecture(sizes, name)
    cost = field(doc, "cost", str, "the file", name)
    layers = field(doc, "layers", list, "the file", name)
    if len(layers) != len(sizes) - 1:
        raise ModelError(f"{name}: {len(layers)} layers listed but sizes {sizes} need "
                         f"{len(sizes) - 1}")
    ws, bs, acts = [], [], []
    for i, layer in enumerate(layers):
        where = f"layers[{i}]"
        if not isinstance(layer, dict):
            raise ModelError(f"{name}: {where} must be an object")
        n_in, n_out = sizes[i], sizes[i + 1]
        if layer.get("inputs", n_in) != n_in or layer.get("neurons", n_out) != n_out:
            raise ModelError(f"{name}: {where} says {layer.get('inputs')}→{layer.get('neurons')}"
                             f" but sizes say {n_in}→{n_out}")
        acts.append(field(layer, "activation", str, where, name))
        w = as_matrix(field(layer, "weights", (list, np.ndarray), where, name), (n_out, n_in),
                      f"{where}.weights", name)
        ws.append(w.T)
        bs.append(as_matrix(field(layer, "biases", (list, np.ndarray), where, name), (n_out,),
                            f"{where}.biases", name))
    provenance = plain(doc.get("provenance", {}))
    if not isinstance(provenance, dict):
        raise ModelError(f"{name}: provenance must be an object")
    # provenance is a record, never the architecture: sizes, activations and cost come from
    # the layers and the top-level fields only
    meta = {k: v for k, v in provenance.items() if k not in ("writer", *RESERVED_META)}
    check_schema(meta, {k: t for k, t in META_SCHEMA.items() if k not in ARCHITECTURE
                        and k != REQUIRED}, name, "provenance", ModelError)
    # the image shape and class names the document states (older files: MNIST's 28×28 and
    # provenance's names); the same checks as a model file's metadata
    shape = doc.get("input", {}).get("shape") if isinstance(doc.get("input"), dict) else None
    if shape is not None:
        check_schema({"input_shape": shape}, {"input_shape": [int]}, name, "input", ModelError)
        if tuple(shape) != default_input_shape(sizes[0]):
            meta["input_shape"] = shape
    classes = doc.get("output", {}).get("classes") if isinstance(doc.get("output"),
                                                                  dict) else None
    if classes is not None:
        check_schema({"class_names": classes}, {"class_names": [str]}, name, "output",
                     ModelError)
        if meta.get("class_names", classes) != classes:
            raise ModelError(f"{name}: output.classes and provenance.class_names differ")
        if "class_names" in meta or classes != [str(i) for i in range(len(classes))]:
            meta["class_names"] = classes
    check_io_meta(sizes, meta, name)
    # filled in place: no float64 or transposed copy of the weights on the way
    params = np.empty(sum(w.size + b.size for w, b in zip(ws, bs, strict=True)), np.float32)
    at = 0
    for w in ws:
        params[at:at + w.size].reshape(w.shape)[...] = w
        at += w.size
    for b in bs:
        params[at:at + b.size] = b
        at += b.size
    try:
        model = MLP(tuple(sizes), tuple(acts), cost, params, meta)
    except DigitlensError as exc:
        raise ModelError(f"{name}: {exc}") from None
    return verified(model, name)


def import_json_bytes(data: bytes | str, name: str = "<json>") -> MLP:
    """A network from JSON text; the weights parsed straight into float64 arrays (packed)."""
    if len(data) > MAX_JSON_BYTES:
        raise ModelError(f"{name}: {len(data)} bytes is larger than the {MAX_JSON_BYTES} allowed")
    return model_from_doc(parse_json(data, name, ModelError, packed=True), name)


def import_json(path: str | Path) -> MLP:
    """Read a ``digitlens-network`` JSON file; every problem is a one-line ``ModelError``.
    The bytes go once decoded and the text once parsed (nothing else holds them), so reading
    stays within 3× the file (benchmarks/bench_json_reader.py)."""
    try:
        doc = parse_json(read_bounded(path, MAX_JSON_BYTES, ModelError, "JSON network")
                         .decode("utf-8"), str(path), ModelError, packed=True)
    except UnicodeError:
        raise ModelError(f"{path}: not UTF-8 text") from None
    return model_from_doc(doc, str(path))
