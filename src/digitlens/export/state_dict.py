"""PyTorch ``state_dict`` import: ``.pt``/``.pth`` (read without PyTorch by a restricted
unpickler, ``export.torch_file``; never full unpickling) and ``.safetensors`` (safetensors' numpy
API) of an ``nn.Sequential`` of ``Linear`` layers, rebuilt as an MLP.

A state_dict holds weights only: the activations and the output are not in it, so they are
given (``--activation``, ``--output``) or assumed (ReLU, softmax) and reported as assumed.
Layers are ordered by their names with numbers compared as numbers (``0, 2, 4`` of a
Sequential, ``fc1, fc2, fc10``); the shapes must then chain, from any number of inputs to any
number of classes. The file does not say its image shape or class names either: they are given
or assumed (a square image, the outputs numbered) the same way (``imported.settle``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import ModelError, bad_param
from digitlens.export import MAX_FILE_BYTES, STATE_DICT_SUFFIXES, check_architecture
from digitlens.export.checkpoint import state_dict_of
from digitlens.export.imported import PIXELS, Imported, Record, assemble, settle
from digitlens.export.torch_file import load_torch_file
from digitlens.safeload import finite_as, parse_json, read_bounded

HIDDEN = ("relu", "sigmoid", "tanh")
OUTPUTS = ("softmax", "sigmoid")
DTYPES = ("float16", "float32", "float64")
SAFETENSORS_DTYPES = ("F16", "F32", "F64")
MAX_HEADER = 1 << 24  # 16 MiB of header JSON: thousands of tensor names, far beyond any MLP
KEY = re.compile(r"^(?P<layer>[A-Za-z0-9_.]{1,200})\.(?P<part>weight|bias)$")


def check_safetensors_header(data: bytes, name: str) -> None:
    """The header read first with digitlens's own JSON limits, so a file of another dtype
    (bfloat16, int8) or a header that is too long, too deep or not a table of tensors is named
    plainly before the library parses it (offsets are then the library's to check)."""
    if len(data) < 8:
        raise ModelError(f"{name}: not a readable safetensors file ({len(data)} bytes, shorter "
                         "than the 8-byte header length)")
    size = int.from_bytes(data[:8], "little")
    if size > min(MAX_HEADER, len(data) - 8):
        raise ModelError(f"{name}: not a readable safetensors file (its header claims {size} "
                         f"bytes; the file holds {len(data) - 8} after the length, and "
                         f"digitlens reads headers up to {MAX_HEADER})")
    try:  # decoded straight from the file's bytes: no copy of the header as bytes
        text = str(memoryview(data)[8:8 + size], "utf-8")
    except UnicodeDecodeError:
        raise ModelError(f"{name}: safetensors header: not UTF-8 text") from None
    header = parse_json(text, f"{name}: safetensors header", ModelError, max_depth=3)
    if not isinstance(header, dict):
        raise ModelError(f"{name}: not a readable safetensors file (its header is not a "
                         "table of tensors)")
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if not isinstance(dtype, str):
            raise ModelError(f"{name}: tensor {key[:80]!r} has no dtype in the header")
        if dtype not in SAFETENSORS_DTYPES:
            raise ModelError(f"{name}: tensor {key[:80]!r} holds {dtype[:12]} values; digitlens "
                             "reads F16, F32 and F64 (save float32, e.g. model.float())")


def load_safetensors(data: bytes, name: str) -> Mapping[str, Any]:
    """A ``.safetensors`` file's tensors through the library's own (header-checking) parser."""
    try:
        from safetensors.numpy import load
    except ImportError:
        raise ModelError(f"{name}: reading .safetensors files needs the safetensors package "
                         "(pip install 'digitlens[safetensors]')") from None
    check_safetensors_header(data, name)
    try:
        return load(data)
    except Exception as exc:  # noqa: BLE001 - the library's parser: any failure is corrupt
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise ModelError(f"{name}: not a readable safetensors file ({type(exc).__name__}: "
                         f"{first})") from None


def order_key(layer: str) -> list[tuple[int, Any]]:
    """Natural order: ``fc2`` before ``fc10``, ``2`` before ``10``."""
    return [(0, int(t)) if t.isdigit() else (1, t) for t in re.findall(r"\d+|\D+", layer)]


def layers_of(tensors: Mapping[str, Any], name: str) -> tuple[list[str], list[np.ndarray],
                                                             list[np.ndarray], list[str]]:
    """(layer names, weights (n_in, n_out) float32, biases, notes), checked to chain."""
    if not tensors:
        raise ModelError(f"{name}: holds no tensors")
    parts: dict[str, dict[str, np.ndarray]] = {}
    for key, array in tensors.items():
        m = KEY.match(key)
        if m is None:
            raise ModelError(f"{name}: tensor {key[:80]!r} is not a layer's weight or bias; "
                             "digitlens imports Sequentials of Linear layers (keys like "
                             "'0.weight', '0.bias')")
        if np.asarray(array).dtype.name not in DTYPES:
            raise ModelError(f"{name}: tensor {key!r} holds {np.asarray(array).dtype}; "
                             f"digitlens reads {', '.join(DTYPES)}")
        parts.setdefault(m["layer"], {})[m["part"]] = np.asarray(array)
    names = sorted(parts, key=order_key)
    weights, biases, notes = [], [], []
    width: int | None = None
    for layer in names:
        if "weight" not in parts[layer]:
            raise ModelError(f"{name}: layer {layer!r} has a bias but no weight")
        w = parts[layer]["weight"]
        if w.ndim != 2:
            raise ModelError(f"{name}: {layer}.weight has shape {list(w.shape)}; a Linear "
                             "layer's weight is (out, in)")
        n_out, n_in = (int(s) for s in w.shape)
        if width is not None and n_in != width:
            raise ModelError(f"{name}: {layer}.weight reads {n_in} values but the layer before "
                             f"it gives {width} (layers in name order: {', '.join(names)})")
        b = parts[layer].get("bias")
        if b is None:
            notes.append(f"layer {layer!r} has no bias: zeros used")
            b = np.zeros(n_out, np.float32)
        if b.shape != (n_out,):
            raise ModelError(f"{name}: {layer}.bias has shape {list(b.shape)}, expected "
                             f"[{n_out}]")
        weights.append(np.ascontiguousarray(
            finite_as(w, np.float32, f"{layer}.weight", name, ModelError).T))
        biases.append(finite_as(b, np.float32, f"{layer}.bias", name, ModelError))
        width = n_out
    return names, weights, biases, notes


def read_tensors(path: str | Path) -> tuple[Mapping[str, Any], list[str]]:
    """A ``.pt``/``.pth`` or ``.safetensors`` file's tensors by name (never unpickled), and
    notes on how they were found (which entry of a checkpoint held them)."""
    name = str(path)
    data = read_bounded(path, MAX_FILE_BYTES, ModelError, "state_dict file")
    found: list[str] = []
    if Path(path).suffix.lower() == ".safetensors":
        return state_dict_of(load_safetensors(data, name), name, lambda _v: True, found), found
    return load_torch_file(data, name, found), found


def import_state_dict(path: str | Path, activation: str | None = None,
                      output: str | None = None, class_names: list[str] | None = None,
                      input_shape: tuple[int, int] | None = None) -> Imported:
    """An MLP from a ``.pt``/``.pth``/``.safetensors`` state_dict of Linear layers, of any input
    size and class count; ``input_shape`` and ``class_names`` go into its metadata."""
    name = str(path)
    suffix = Path(path).suffix.lower()
    kind = suffix.lstrip(".")
    if suffix not in STATE_DICT_SUFFIXES:
        raise ModelError(f"{name}: a state_dict file ends in .pt, .pth or .safetensors")
    if activation is not None and activation not in HIDDEN:
        raise bad_param("activation", f"one of {', '.join(HIDDEN)}", activation)
    if output is not None and output not in OUTPUTS:
        raise bad_param("output", f"one of {', '.join(OUTPUTS)}", output)
    tensors, found = read_tensors(path)
    layers, weights, biases, notes = layers_of(tensors, name)
    notes = found + notes
    sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights]
    check_architecture(sizes, name)
    fmt = "safetensors" if kind == "safetensors" else "pytorch"
    rec = Record({
        "format": fmt, "layers": layers, "sizes": sizes, "activations": [None] * len(layers),
        "external_data": [],
        "tensors": {k: {"shape": list(np.asarray(v).shape), "dtype": np.asarray(v).dtype.name}
                    for k, v in tensors.items()}}, notes=notes)
    for key, value, default in (("activation", activation, "relu"),
                                ("output", output, "softmax")):
        (rec.given if value is not None else rec.assumed)[key] = value or default
    rec.assumed["input"] = PIXELS
    rec.assumed["layer_order"] = "layer names, numbers compared as numbers"
    meta: dict[str, Any] = {}
    settle(name, sizes, rec, meta, input_shape, class_names)
    meta["imported_from"] = {"format": fmt, "layers": layers, "notes": notes,
                             "assumed": {k: rec.assumed[k] for k in ("activation", "output",
                                                                     "input_shape",
                                                                     "class_names")
                                         if k in rec.assumed}}
    acts = [activation or "relu"] * (len(weights) - 1) + [output or "softmax"]
    return rec.of(assemble(name, list(zip(weights, biases, acts, strict=True)),
                           "cross_entropy", meta))
