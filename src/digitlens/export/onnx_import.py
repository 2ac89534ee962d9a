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

from digitlens.errors import DigitlensError, ModelError
from digitlens.export import MAX_FILE_BYTES, check_architecture
from digitlens.export.onnx_external import element_count, external_tensor
from digitlens.nn.io import ARCHITECTURE, META_SCHEMA, verified
from digitlens.nn.mlp import MLP
from digitlens.safeload import REQUIRED, check_schema, finite_as, parse_json, read_bounded

ACTIVATION_OPS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softmax": "softmax",
                  "LogSoftmax": "softmax"}
CHAIN_OPS = ("Gemm", "MatMul", "Add", "Flatten", "Reshape", "Identity", *ACTIVATION_OPS)
TAIL_OPS = ("Identity", "ReduceSum", "Div", "ArgMax", "Softmax")  # extra outputs after the net
OPSETS = range(13, 22)  # default-domain opsets whose MLP operators read as below
MAX_IR_VERSION = 10
SUPPORTED = ("Gemm, MatMul + Add, Relu, Sigmoid, Tanh, Softmax, LogSoftmax, and Flatten/Reshape "
             "of a flat, h×w or 1×h×w input")


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

    def close(self, activation: str, node: str) -> None:
        if self.weight is None:
            raise ModelError(f"{self.name}: node {node!r} applies {activation} with no layer "
                             "before it")
        bias = self.bias if self.bias is not None else np.zeros(self.weight.shape[1], np.float32)
        self.layers.append((self.weight, bias, activation))
        self.weight = self.bias = None


def node_label(node: Any) -> str:
    return f"{node.name or '(unnamed)'} ({node.op_type})"


def read_proto(data: bytes, name: str) -> Any:
    import onnx
    from google.protobuf.message import DecodeError

    if len(data) > MAX_FILE_BYTES:
        raise ModelError(f"{name}: {len(data)} bytes is larger than the {MAX_FILE_BYTES} allowed")
    try:
        proto = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, RecursionError, MemoryError) as exc:
        raise ModelError(f"{name}: not a readable ONNX file ({type(exc).__name__}; "
                         "truncated or corrupt?)") from None
    if not proto.graph.node:
        raise ModelError(f"{name}: not a readable ONNX file (no graph nodes)")
    if proto.ir_version > MAX_IR_VERSION:
        raise ModelError(f"{name}: ONNX IR version {proto.ir_version}; digitlens reads IR "
                         f"versions up to {MAX_IR_VERSION}")
    for opset in proto.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version not in OPSETS:
            raise ModelError(f"{name}: ONNX opset {opset.version}; digitlens reads opsets "
                             f"{OPSETS.start}-{OPSETS.stop - 1}")
    for node in proto.graph.node:
        if not node.output or not all(node.output):
            raise ModelError(f"{name}: node {node_label(node)} has no output")
    return proto


def tensor_array(tensor: Any, name: str, folder: Path | None = None) -> np.ndarray:
    """An initializer as a NumPy array, refusing sizes that lie; external data is read from
    the model's ``folder`` only (none given: refused)."""
    from onnx import TensorProto, numpy_helper

    if tensor.data_location == TensorProto.EXTERNAL:
        tensor = external_tensor(tensor, name, folder)
    element_count(tensor, name)
    try:
        array = numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 - onnx's own decoder: any failure is a corrupt file
        raise ModelError(f"{name}: initializer {tensor.name!r} is corrupt "
                         f"({type(exc).__name__}: {str(exc)[:60]})") from None
    if array.dtype.kind not in "fiub":
        raise ModelError(f"{name}: initializer {tensor.name!r} holds {array.dtype} values, "
                         "not numbers")
    if array.dtype.kind == "f":
        finite_as(array, np.float32, f"initializer {tensor.name!r}", name, ModelError)
    return array


def input_width(proto: Any, inits: dict[str, Any], name: str) -> tuple[str, int, bool]:
    """The graph's one real input: (name, values per example, already flat)."""
    real = [i for i in proto.graph.input if i.name not in inits]
    if len(real) != 1:
        raise ModelError(f"{name}: expected one input, found {len(real)} "
                         f"({', '.join(i.name for i in real) or 'none'})")
    inp = real[0]
    dims = inp.type.tensor_type.shape.dim
    shape: list[int | None] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    if not shape:
        raise ModelError(f"{name}: input {inp.name!r} has no declared shape")
    if any(s is None for s in shape[1:]):
        raise ModelError(f"{name}: input {inp.name!r} has dynamic dimensions other than the "
                         f"batch ({[s if s is not None else '?' for s in shape]})")
    rest = [int(s) for s in shape[1:] if s is not None]
    if not (len(rest) in (1, 2) or (len(rest) == 3 and rest[0] == 1)) or min(rest) < 1:
        raise ModelError(f"{name}: input {inp.name!r} has shape {shape}; digitlens imports "
                         "networks reading batch×pixels, batch×h×w or batch×1×h×w (one "
                         "grey channel)")
    return inp.name, int(np.prod(rest)), len(rest) == 1


def declared_image(proto: Any) -> list[int] | None:
    """[h, w] of an input declared batch×h×w or batch×1×h×w (a flat input says nothing)."""
    inits = {t.name for t in proto.graph.initializer}
    for inp in proto.graph.input:
        if inp.name in inits:
            continue
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim][1:]
        return [int(dims[-2]), int(dims[-1])] if len(dims) in (2, 3) else None
    return None


def constants(proto: Any, nodes: list[Any], name: str,
              folder: Path | None = None) -> dict[str, np.ndarray]:
    """Initializers, Constant nodes and Transposes of constants (exporters that keep a Linear's
    (out, in) weight and transpose it in the graph), by tensor name."""
    values = {t.name: tensor_array(t, name, folder) for t in proto.graph.initializer}
    for node in nodes:
        if node.op_type == "Transpose" and node.input and node.input[0] in values:
            source = values[node.input[0]]
            perm = attrs(node, name).get("perm") or None
            if perm is not None and sorted(perm) != list(range(source.ndim)):
                raise ModelError(f"{name}: node {node_label(node)} has perm {list(perm)[:8]}, "
                                 f"not a permutation of {source.ndim} axes")
            values[node.output[0]] = np.transpose(source, perm)
        if node.op_type == "Constant" and len(node.output) == 1:
            attr = {a.name: a for a in node.attribute}
            if "value" in attr:
                values[node.output[0]] = tensor_array(attr["value"].t, name)
            elif "value_ints" in attr:
                values[node.output[0]] = np.array(attr["value_ints"].ints, np.int64)
            elif "value_floats" in attr:
                values[node.output[0]] = np.array(attr["value_floats"].floats, np.float32)
    return values


def attrs(node: Any, name: str) -> dict[str, Any]:
    """A node's attributes; numbers must be finite (alpha=inf would poison every weight)."""
    from onnx import helper
    try:
        out = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    except Exception as exc:  # noqa: BLE001 - onnx's decoder: undefined attribute types
        raise ModelError(f"{name}: node {node_label(node)} has an unreadable attribute "
                         f"({str(exc)[:60]})") from None
    for key, value in out.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ModelError(f"{name}: node {node_label(node)}: attribute {key} is {value}")
        kind = ATTRIBUTE_TYPES.get(key)
        if kind is not None and not ok_attribute(value, kind):
            raise ModelError(f"{name}: node {node_label(node)}: attribute {key} must be "
                             f"{'a list of ints' if kind is list else kind.__name__}, not "
                             f"{type(value).__name__}")
    return out


# attributes the walk reads, and their types (anything else would reach the maths unchecked)
ATTRIBUTE_TYPES: dict[str, type] = {"alpha": float, "beta": float, "transA": int,
                                    "transB": int, "axis": int, "perm": list}


def ok_attribute(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(v, int) for v in value)


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
                                 f"{None if shape is None else shape.tolist()}; expected a "
                                 f"constant [batch or -1, {chain.width}]")
        chain.flat = True
        return
    if not chain.flat:
        raise ModelError(f"{chain.name}: node {label} reads the image input before it is "
                         f"flattened to {chain.width}")
    if op in ("Gemm", "MatMul"):
        if chain.weight is not None:
            chain.close("identity", label)
        if len(others) < 1 or others[0] not in values or node.input[0] != current:
            raise ModelError(f"{chain.name}: node {label} must multiply the running tensor by a "
                             "constant weight matrix")
        w = finite_as(values[others[0]], np.float32, f"node {label}'s weights", chain.name,
                      ModelError)
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
    return finite_as(b.reshape(-1), np.float32, f"node {label}'s bias", chain.name, ModelError)


def consumers(nodes: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for node in nodes:
        for i in node.input:
            out.setdefault(i, []).append(node)
    return out


def walk(proto: Any, name: str, folder: Path | None = None
         ) -> tuple[list[tuple[np.ndarray, np.ndarray, str]], list[str]]:
    """Follow the single chain from the input; return the layers and notes."""
    nodes = list(proto.graph.node)  # one wrapper per node, so id() is stable below
    values = constants(proto, nodes, name, folder)
    inits = {t.name for t in proto.graph.initializer}
    current, width, flat = input_width(proto, {n: 1 for n in inits}, name)
    chain = Chain(name, width, flat)
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
    check_tail(proto, nodes, visited, current, name)
    return chain.layers, chain.notes


def check_tail(proto: Any, nodes: list[Any], visited: set[int], end: str, name: str) -> None:
    """Every node off the chain must be a harmless extra output computed from its end."""
    known = {end} | {t.name for t in proto.graph.initializer}
    for node in nodes:
        if id(node) in visited:
            continue
        if node.op_type == "Constant" or (node.op_type == "Transpose" and node.input[0] in known
                                          and node.input[0] != end):
            known.update(node.output)
            continue
        if node.op_type in TAIL_OPS and all(i in known for i in node.input if i):
            known.update(node.output)
            continue
        raise ModelError(f"{name}: node {node_label(node)} is not supported (digitlens imports "
                         f"MLPs made of {SUPPORTED})")


def import_onnx_bytes(data: bytes, name: str = "<onnx>",
                      folder: Path | None = None) -> tuple[MLP, list[str]]:
    """An MLP from ONNX bytes, and notes on how it was read (external data from ``folder``)."""
    proto = read_proto(data, name)
    layers, notes = walk(proto, name, folder)
    if not layers:
        raise ModelError(f"{name}: no layers found between the input and the output")
    sizes = [layers[0][0].shape[0]] + [w.shape[1] for w, _, _ in layers]
    check_architecture(sizes, name)
    acts = [a for _, _, a in layers]
    for i, act in enumerate(acts[:-1]):
        if act == "softmax":
            raise ModelError(f"{name}: layer {i + 1} ends in a softmax but is not the last layer")
    meta = digitlens_meta(proto, name)
    # metadata never overrides the graph: sizes and activations come from the layers; the cost
    # (not in a graph) is taken only where the output allows a choice (sigmoid)
    cost = meta.pop("cost", "cross_entropy") if acts[-1] == "sigmoid" else "cross_entropy"
    for key in ARCHITECTURE:
        meta.pop(key, None)
    if "input_shape" not in meta and (image := declared_image(proto)) is not None:
        meta["input_shape"] = image  # the graph's own batch×h×w says what it reads
    external = sorted({e.value[:200] for t in proto.graph.initializer for e in t.external_data
                       if e.key == "location"})
    opsets = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    meta.setdefault("imported_from", {"format": "onnx", "producer": text(proto.producer_name),
                                      "producer_version": text(proto.producer_version),
                                      "opset": opsets[0] if opsets else None,
                                      "ir_version": int(proto.ir_version),
                                      "external_data": external, "notes": notes})
    params = np.concatenate([w.ravel() for w, _, _ in layers] +
                            [b for _, b, _ in layers]).astype(np.float32)
    try:
        model = MLP(tuple(sizes), tuple(acts), str(cost), params, meta)
    except DigitlensError as exc:
        raise ModelError(f"{name}: {exc}") from None
    return verified(model, name), notes


def text(value: Any) -> str:
    """A protobuf string field as text (a corrupt file can hold bytes that are not UTF-8)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:200]


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


def import_onnx(path: str | Path) -> tuple[MLP, list[str]]:
    """Read an ONNX file made by digitlens, PyTorch, Keras or by hand (see ``SUPPORTED``)."""
    return import_onnx_bytes(read_bounded(path, MAX_FILE_BYTES, ModelError, "ONNX file"),
                             str(path), Path(path).parent)
