"""ONNX import: walk a graph made elsewhere along its single chain and rebuild the MLP.

Accepts only what an MLP is made of (``CHAIN_OPS``); anything else is one ``ModelError`` naming
the node. Weights are read from the file's own bytes or, as ``torch.onnx.export(dynamo=True)``
writes them, from data files beside the model (only inside its folder, every range checked
against the tensor's shape and dtype); nothing is unpickled, and sizes are checked before
anything is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import ModelError
from digitlens.export import MAX_FILE_BYTES
from digitlens.export.imported import PIXELS, Imported, Record, assemble, settle
from digitlens.export.onnx_graph import (  # noqa: F401 - the limits, re-exported
    MAX_IR_VERSION,
    OPSETS,
    attrs,
    constants,
    node_label,
    read_proto,
    text,
)
from digitlens.nn.io import ARCHITECTURE, META_SCHEMA
from digitlens.nn.mlp import MLP
from digitlens.safeload import REQUIRED, check_schema, finite_as, parse_json, read_bounded

ACTIVATION_OPS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax",
                  "LogSoftmax": "softmax"}
CHAIN_OPS = ("Gemm", "MatMul", "Add", "Flatten", "Reshape", "Identity", *ACTIVATION_OPS)
TAIL_OPS = ("Identity", "ReduceSum", "Div", "ArgMax", "Softmax")  # extra outputs after the net
SUPPORTED = ("Gemm, MatMul + Add, Relu, Sigmoid, Tanh, Softmax, LogSoftmax, and Flatten/Reshape "
             "of a batch×N, batch×H×W or batch×1×H×W input")


@dataclass
class Chain:
    """What the walk along the graph has built so far."""

    name: str
    width: int  # features per example of the current tensor (after flattening)
    flat: bool
    layers: list[tuple[np.ndarray, np.ndarray, str]] = field(default_factory=list)
    weight: np.ndarray | None = None  # the open layer: (n_in, n_out)
    bias: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    image: tuple[int, int] | None = None  # the height×width the input declares
    names: list[str] = field(default_factory=list)  # the node that multiplies, per layer
    logits: bool = False  # the last layer had no activation (softmax assumed)

    def close(self, activation: str, node: str) -> None:
        if self.weight is None:
            raise ModelError(f"{self.name}: node {node!r} applies {activation} with no layer "
                             "before it")
        bias = self.bias if self.bias is not None else np.zeros(self.weight.shape[1], np.float32)
        self.layers.append((self.weight, bias, activation))
        self.weight = self.bias = None


def input_width(proto: Any, inits: dict[str, Any], name: str
                ) -> tuple[str, list[Any], int, tuple[int, int] | None]:
    """The graph's one real input: (name, its dims as declared, values per example, the
    height×width it declares, or None for a flat batch×N input)."""
    real = [i for i in proto.graph.input if i.name not in inits]
    if len(real) != 1:
        raise ModelError(f"{name}: expected one input, found {len(real)} "
                         f"({', '.join(i.name for i in real) or 'none'})")
    inp = real[0]
    dims = inp.type.tensor_type.shape.dim
    shape: list[int | None] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    declared = [s if s is not None else text(d.dim_param) or "?"
                for s, d in zip(shape, dims, strict=True)]
    if not shape:
        raise ModelError(f"{name}: input {inp.name!r} has no declared shape")
    if any(s is None for s in shape[1:]):
        raise ModelError(f"{name}: input {inp.name!r} has dynamic dimensions other than the "
                         f"batch ({declared})")
    rest = [int(s) for s in shape[1:] if s is not None]
    if len(rest) == 3 and rest[0] != 1:
        raise ModelError(f"{name}: input {inp.name!r} has shape {declared}: {rest[0]} "
                         "channels; digitlens reads one grey channel (batch×1×H×W)")
    if len(rest) not in (1, 2, 3) or min(rest) < 1:
        raise ModelError(f"{name}: input {inp.name!r} has shape {declared}; digitlens imports "
                         "networks reading batch×N, batch×H×W or batch×1×H×W")
    image = None if len(rest) == 1 else (rest[-2], rest[-1])
    return inp.name, declared, math.prod(rest), image


def step(chain: Chain, node: Any, current: str, values: dict[str, np.ndarray]) -> None:
    """Apply one chain node to what has been built; raise naming the node if it does not fit."""
    op, label, a = node.op_type, node_label(node), attrs(node, chain.name)
    others = [i for i in node.input if i != current and i]
    if op == "Identity":
        return
    if op in ("Flatten", "Reshape"):
        if chain.layers or chain.weight is not None:
            raise ModelError(f"{chain.name}: node {label} reshapes between layers; only the "
                             "input may be flattened")
        if op == "Flatten" and a.get("axis", 1) != 1:
            raise ModelError(f"{chain.name}: node {label} flattens from axis {a['axis']}; "
                             "expected axis 1 (keep the batch)")
        if op == "Reshape":
            shape = values.get(others[0]) if others else None
            if (shape is None or shape.ndim != 1 or len(shape) != 2
                    or int(shape[1]) != chain.width):
                raise ModelError(f"{chain.name}: node {label} reshapes to "
                                 f"{None if shape is None else shape.tolist()[:8]}; expected a "
                                 f"constant [batch or -1, {chain.width}]")
        chain.flat = True
        return
    if not chain.flat:
        raise ModelError(f"{chain.name}: node {label} reads the image input before it is "
                         f"flattened to {chain.width} values")
    if op in ("Gemm", "MatMul"):
        if chain.weight is not None:
            chain.close("identity", label)
        if len(others) < 1 or others[0] not in values or node.input[0] != current:
            raise ModelError(f"{chain.name}: node {label} must multiply the running tensor by a "
                             "constant weight matrix")
        w = floats(chain, values[others[0]], f"node {label}'s weights")
        if op == "Gemm":
            if a.get("transA", 0):
                raise ModelError(f"{chain.name}: node {label} uses transA=1, not supported")
            w = w.T if a.get("transB", 0) else w
            w = finite_as(w * np.float64(a.get("alpha", 1.0)), np.float32,
                          f"node {label}'s weights × alpha", chain.name, ModelError)
        if w.ndim != 2 or w.shape[0] != chain.width:
            raise ModelError(f"{chain.name}: node {label} has weights of shape {list(w.shape)} "
                             f"but its input has {chain.width} values")
        chain.weight = np.ascontiguousarray(w)
        chain.width = w.shape[1]
        chain.names.append(node.name or others[0])
        if op == "Gemm" and len(others) > 1:
            chain.bias = finite_as(bias_of(chain, values.get(others[1]), label)
                                   * np.float64(a.get("beta", 1.0)), np.float32,
                                   f"node {label}'s bias × beta", chain.name, ModelError)
        return
    if op == "Add":
        if chain.weight is None or chain.bias is not None or len(others) != 1:
            raise ModelError(f"{chain.name}: node {label} adds something that is not the bias "
                             "of the layer before it")
        chain.bias = bias_of(chain, values.get(others[0]), label)
        return
    act = ACTIVATION_OPS[op]
    if act == "softmax" and a.get("axis", -1) not in (-1, 1):
        raise ModelError(f"{chain.name}: node {label} normalises over axis {a['axis']}, "
                         "expected the class axis")
    if op == "LogSoftmax":
        chain.notes.append(f"{label} read as Softmax (same prediction; probabilities = exp)")
    chain.close(act, label)


def bias_of(chain: Chain, b: np.ndarray | None, label: str) -> np.ndarray:
    if b is None:
        raise ModelError(f"{chain.name}: node {label} needs a constant bias")
    if b.size != chain.width or (b.ndim == 2 and b.shape[0] != 1) or b.ndim > 2:
        raise ModelError(f"{chain.name}: node {label} has a bias of shape {list(b.shape)}, "
                         f"expected {chain.width} values")
    return floats(chain, b.reshape(-1), f"node {label}'s bias")


def floats(chain: Chain, values: np.ndarray, what: str) -> np.ndarray:
    """Weights as float32: float tensors only (int64 or bool weights are no trained network's;
    read as numbers they would silently be something else)."""
    if values.dtype.kind != "f":
        raise ModelError(f"{chain.name}: {what} are {values.dtype} values; digitlens imports "
                         "float weights only")
    return finite_as(values, np.float32, what, chain.name, ModelError)


def consumers(nodes: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for node in nodes:
        for i in node.input:
            out.setdefault(i, []).append(node)
    return out


def walk(proto: Any, name: str, folder: Path | None = None) -> tuple[Chain, list[Any]]:
    """Follow the single chain from the input; return it (layers, notes, node names) and the
    input's declared dims."""
    nodes = list(proto.graph.node)  # one wrapper per node, so id() is stable below
    values = constants(proto, nodes, name, folder)
    inits = {t.name for t in proto.graph.initializer}
    current, dims, width, image = input_width(proto, {n: 1 for n in inits}, name)
    chain = Chain(name, width, image is None, image=image)
    users = consumers(n for n in nodes if n.op_type != "Constant")
    outputs = {o.name for o in proto.graph.output}
    visited: set[int] = set()
    while True:
        nexts = [n for n in users.get(current, []) if n.op_type in CHAIN_OPS]
        if not nexts:
            others = users.get(current, [])
            if others and current not in outputs:
                raise ModelError(f"{name}: node {node_label(others[0])} is not supported "
                                 f"(digitlens imports MLPs made of {SUPPORTED})")
            break
        if len(nexts) > 1:
            raise ModelError(f"{name}: the graph branches at {current!r} (nodes "
                             f"{', '.join(node_label(n) for n in nexts)}); an MLP is one chain")
        node = nexts[0]
        if id(node) in visited:
            raise ModelError(f"{name}: the graph loops back at node {node_label(node)}")
        step(chain, node, current, values)
        visited.add(id(node))
        current = node.output[0]
    if chain.weight is not None:
        chain.close("identity", "the last layer")
        chain.notes.append("the last layer has no activation: its outputs are read as logits "
                           "and softmax applied")
        w, b, _ = chain.layers[-1]
        chain.layers[-1] = (w, b, "softmax")
        chain.logits = True
    check_tail(proto, nodes, visited, current, name)
    return chain, dims


def check_tail(proto: Any, nodes: list[Any], visited: set[int], end: str, name: str) -> None:
    """Every node off the chain must be a harmless extra output computed from its end."""
    known = {end} | {t.name for t in proto.graph.initializer}
    for node in nodes:
        if id(node) in visited:
            continue
        source = node.input[0] if node.input else ""  # a Transpose of nothing is no constant
        if node.op_type == "Constant" or (node.op_type == "Transpose" and source in known
                                          and source != end):
            known.update(node.output)
            continue
        if node.op_type in TAIL_OPS and all(i in known for i in node.input if i):
            known.update(node.output)
            continue
        raise ModelError(f"{name}: node {node_label(node)} is not supported (digitlens imports "
                         f"MLPs made of {SUPPORTED})")


def read_onnx_bytes(data: bytes, name: str = "<onnx>", folder: Path | None = None,
                    input_shape: tuple[int, int] | None = None,
                    class_names: list[str] | None = None) -> Imported:
    """An MLP of any input size and class count from ONNX bytes (external data from
    ``folder``), with the record of what was read from the graph and what was assumed."""
    proto = read_proto(data, name)
    chain, dims = walk(proto, name, folder)
    layers = chain.layers
    if not layers:
        raise ModelError(f"{name}: no layers found between the input and the output")
    acts = [a for _, _, a in layers]
    for i, act in enumerate(acts[:-1]):
        if act == "softmax":
            raise ModelError(f"{name}: layer {i} ends in a softmax but is not the last layer "
                             "(layers count from 0)")
    meta = digitlens_meta(proto, name)
    # metadata never overrides the graph: sizes and activations come from the layers; the cost
    # (not in a graph) is taken only where the output allows a choice (sigmoid)
    cost = meta.pop("cost", "cross_entropy") if acts[-1] == "sigmoid" else "cross_entropy"
    for key in ARCHITECTURE:
        meta.pop(key, None)
    external = sorted({e.value[:200] for t in proto.graph.initializer for e in t.external_data
                       if e.key == "location"})
    opsets = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    sizes = [layers[0][0].shape[0]] + [w.shape[1] for w, _, _ in layers]
    rec = Record({"format": "onnx", "layers": chain.names, "sizes": sizes,
                  "activations": [*acts[:-1], None if chain.logits else acts[-1]],
                  "input": dims, "external_data": external,
                  "producer": text(proto.producer_name),
                  "producer_version": text(proto.producer_version),
                  "opset": opsets[0] if opsets else None, "ir_version": int(proto.ir_version),
                  # a digitlens export's own record of its image and classes (labels only)
                  "input_shape": None if chain.image else meta.pop("input_shape", None),
                  "class_names": meta.pop("class_names", None)}, notes=chain.notes)
    meta.pop("input_shape", None)
    if chain.logits:
        rec.assumed["output"] = "softmax"
    rec.assumed["input"] = PIXELS
    settle(name, sizes, rec, meta, input_shape, class_names, chain.image)
    meta.setdefault("imported_from", {k: rec.read[k] for k in (
        "format", "producer", "producer_version", "opset", "ir_version", "external_data")}
        | {"notes": chain.notes})
    return rec.of(assemble(name, layers, str(cost), meta))


def import_onnx_bytes(data: bytes, name: str = "<onnx>",
                      folder: Path | None = None) -> tuple[MLP, list[str]]:
    """An MLP from ONNX bytes, and notes on how it was read (external data from ``folder``)."""
    got = read_onnx_bytes(data, name, folder)
    return got.model, got.notes


def digitlens_meta(proto: Any, name: str) -> dict[str, Any]:
    """The ``digitlens`` metadata entry a digitlens export leaves, if well-formed (else none:
    it is a record, not needed to read the graph)."""
    props = {p.key: p.value for p in proto.metadata_props}
    if "digitlens" not in props:
        return {}
    try:
        meta = parse_json(props["digitlens"], name, ModelError)
        schema = {k: t for k, t in META_SCHEMA.items() if k not in ARCHITECTURE and k != REQUIRED}
        check_schema(meta, {**schema, "cost": str}, name, "metadata", ModelError)
    except ModelError:
        return {}
    return dict(meta)


def read_onnx(path: str | Path, input_shape: tuple[int, int] | None = None,
              class_names: list[str] | None = None) -> Imported:
    """Read an ONNX file made by digitlens, PyTorch, Keras or by hand (see ``SUPPORTED``),
    its external data from the file's own folder."""
    return read_onnx_bytes(read_bounded(path, MAX_FILE_BYTES, ModelError, "ONNX file"),
                           str(path), Path(path).parent, input_shape, class_names)


def import_onnx(path: str | Path) -> tuple[MLP, list[str]]:
    """The model and notes of :func:`read_onnx` (what ``compare`` and the API need)."""
    got = read_onnx(path)
    return got.model, got.notes
