"""Convolutional model files: one ``.npz`` (no pickle), as an MLP's, in their own format.

Arrays: ``W0..W{P-1}`` for the layers with parameters in order (a convolution's kernels
``(out, in, k, k)`` as PyTorch stores them, a dense layer's ``(n_in, n_out)``), ``b0..``,
and ``meta``, a JSON string: ``format`` "digitlens-cnn", ``version`` 1, ``input_shape``
(channels, height, width), ``layers`` (records such as ``{"kind": "conv", "out": 6, "k": 5,
"stride": 1, "pad": 2, "activation": "relu"}``, ``{"kind": "pool", "type": "max", "k": 2}``,
``{"kind": "dense", "out": 120, "activation": "relu"}``), ``cost``, and what an MLP file keeps
besides (training, dataset, class names). An MLP's file (``digitlens-mlp`` v1) is unchanged;
docs/cnn.md describes it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError, ModelError
from digitlens.nn.cnn import CNN, Conv, Dense, Layer, Pool, param_shapes
from digitlens.nn.npz_layout import npz_bytes
from digitlens.safeload import (
    MAX_LAYERS,
    MAX_NEURONS,
    MAX_PARAMS,
    REQUIRED,
    check_class_names,
    check_schema,
    finite_as,
    read_npz,
)

FORMAT = "digitlens-cnn"
VERSION = 1
MAX_KERNEL = 64
ARCHITECTURE = ("format", "version", "input_shape", "layers", "cost")
META_SCHEMA = {REQUIRED: ARCHITECTURE, "format": (FORMAT,), "version": (VERSION,),
               "input_shape": [int], "layers": [dict], "cost": str, "training": dict,
               "dataset": dict, "class_names": [str], "imported_from": dict,
               "history_tail": dict}


def layer_record(layer: Layer) -> dict[str, Any]:
    if isinstance(layer, Conv):
        return {"kind": "conv", "out": layer.out, "k": layer.k, "stride": layer.stride,
                "pad": layer.pad, "activation": layer.activation}
    if isinstance(layer, Pool):
        return {"kind": "pool", "type": layer.kind, "k": layer.k}
    return {"kind": "dense", "out": layer.out, "activation": layer.activation}


def _whole(d: dict[str, Any], key: str, low: int, high: int, where: str,
           default: int | None = None) -> int:
    v = d.get(key, default)
    if not (isinstance(v, int) and not isinstance(v, bool) and low <= v <= high):
        raise ModelError(f"{where}: {key!r} must be an int in {low}..{high}, not "
                         f"{str(v)[:20]!r}")
    return v


def layer_from(d: dict[str, Any], where: str) -> Layer:
    """One layer record, its numbers bounded before anything is allocated."""
    kind, act = d.get("kind"), d.get("activation", "relu")
    if not isinstance(act, str):
        raise ModelError(f"{where}: 'activation' must be a name")
    if kind == "conv":
        return Conv(_whole(d, "out", 1, MAX_NEURONS, where), _whole(d, "k", 1, MAX_KERNEL, where),
                    _whole(d, "stride", 1, MAX_KERNEL, where, 1),
                    _whole(d, "pad", 0, MAX_KERNEL, where, 0), act)
    if kind == "pool":
        if d.get("type") not in ("max", "avg"):
            raise ModelError(f"{where}: a pool's 'type' is 'max' or 'avg'")
        return Pool(_whole(d, "k", 1, MAX_KERNEL, where), d["type"])
    if kind == "dense":
        return Dense(_whole(d, "out", 1, MAX_NEURONS, where), act)
    raise ModelError(f"{where}: unknown layer kind {str(kind)[:20]!r} (conv, pool or dense)")


def cnn_bytes(model: CNN) -> bytes:
    """The file's bytes; the architecture is written last, from the model itself."""
    extra = {k: v for k, v in model.meta.items() if k not in ARCHITECTURE}
    meta = {**extra, "format": FORMAT, "version": VERSION,
            "input_shape": list(model.input_shape),
            "layers": [layer_record(layer) for layer in model.layers], "cost": model.cost}
    return npz_bytes(meta, model.weights, model.biases)


def load_cnn_meta(meta: dict[str, Any], data: bytes, name: str) -> CNN:
    """The model of a file whose metadata (already parsed) says it is a CNN."""
    if meta.get("version") != VERSION:
        raise ModelError(f"{name}: unsupported convolutional model version "
                         f"{str(meta.get('version'))[:20]}")
    check_schema(meta, META_SCHEMA, name, "metadata", ModelError)
    if len(meta["layers"]) > MAX_LAYERS:
        raise ModelError(f"{name}: more than {MAX_LAYERS} layers")
    layers = tuple(layer_from(d, f"{name}: layer {i}") for i, d in enumerate(meta["layers"]))
    shape = tuple(meta["input_shape"])
    if len(shape) != 3 or not all(1 <= s <= MAX_NEURONS for s in shape):
        raise ModelError(f"{name}: input_shape must be (channels, height, width)")
    try:
        pshapes = param_shapes(shape, layers)
    except DigitlensError as exc:
        raise ModelError(f"{name}: {exc}") from None
    total = sum(int(np.prod(ws)) + int(np.prod(bs)) for ws, bs in pshapes)
    if total > MAX_PARAMS:
        raise ModelError(f"{name}: {total:,} parameters (at most {MAX_PARAMS:,})")
    names = meta.get("class_names")
    if names is not None:
        if len(names) != layers[-1].out:  # type: ignore[union-attr]
            raise ModelError(f"{name}: {len(names)} class names for "
                             f"{layers[-1].out} outputs")  # type: ignore[union-attr]
        check_class_names(names, f"{name}: metadata.class_names", ModelError)
    limits = {"meta": 4 * len(json.dumps(meta)) + 1024}
    for i, (ws, bs) in enumerate(pshapes):
        limits[f"W{i}"], limits[f"b{i}"] = 8 * int(np.prod(ws)) + 256, 8 * int(np.prod(bs)) + 256
    arrays = read_npz(data, name, limits, ModelError, "model file")
    pieces = []
    for i, (w_shape, b_shape) in enumerate(pshapes):
        if f"W{i}" not in arrays or f"b{i}" not in arrays:
            raise ModelError(f"{name}: array W{i} or b{i} is missing")
        w, b = arrays[f"W{i}"], arrays[f"b{i}"]
        if w.shape != w_shape or b.shape != b_shape:
            raise ModelError(f"{name}: parameters {i} have shapes {list(w.shape)}/"
                             f"{list(b.shape)}, not {list(w_shape)}/{list(b_shape)} as the "
                             "layers say")
        pieces.append((finite_as(w, np.float32, f"weights {i}", name, ModelError),
                       finite_as(b, np.float32, f"biases {i}", name, ModelError)))
    params = np.concatenate([w.ravel() for w, _ in pieces] + [b.ravel() for _, b in pieces])
    extra = {k: v for k, v in meta.items() if k not in ARCHITECTURE}
    try:
        return CNN(shape, layers, meta["cost"], params.astype(np.float32), extra)
    except DigitlensError as exc:
        raise ModelError(f"{name}: {exc}") from None


PAGE_FORMAT = "digitlens-cnn-network"  # the explorer's copy (static/js/convnet.js reads it)


def page_network(model: CNN, class_names: list[str], encode: Any) -> dict[str, Any]:
    """The page's copy of the network: layer records, kernels (out, in, k, k) as PyTorch stores
    them, dense weights (n_in, n_out), each parameter array as ``encode`` gives it (packed
    float32 for the server, base64 for the single-file explorer)."""
    return {"format": PAGE_FORMAT, "version": 1, "input_shape": list(model.input_shape),
            "layers": [layer_record(layer) for layer in model.layers],
            "class_names": list(class_names), "cost": model.cost,
            "params": [{"weights": encode(w), "biases": encode(b)}
                       for w, b in zip(model.weights, model.biases, strict=True)]}


def page_summary(model: CNN) -> dict[str, Any]:
    """What a run list says of a convolutional network: ``kind`` "cnn", its layers and map
    shapes; ``sizes`` counts the inputs, then the dense layers' neurons (the list's label)."""
    dense = [s[0] for s in model.shapes[1:] if len(s) == 1]
    return {"kind": "cnn", "sizes": [int(np.prod(model.input_shape)), *dense],
            "layers": [layer_record(layer) for layer in model.layers],
            "shapes": [list(s) for s in model.shapes], "cost": model.cost,
            "describe": model.describe(), "input_shape": list(model.input_shape[1:]),
            "feature_layers": []}


def float32_base64(a: np.ndarray) -> str:
    """Little-endian float32 bytes as base64 text: a page's inlined parameters."""
    return base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode("ascii")


def page_network_text(model: CNN, class_names: list[str]) -> dict[str, Any]:
    """``page_network`` with its parameters as base64 float32 (a page with no server: the
    single-file explorer, the classroom's phones)."""
    return page_network(model, class_names, float32_base64)

