"""Reading an ONNX file's protobuf safely: the model bounded and version-checked, initializers
(inline or external) as finite NumPy arrays, constants, and attributes of the right types.

The graph walk that rebuilds an MLP from these is ``onnx_import``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import ModelError
from digitlens.export import MAX_FILE_BYTES
from digitlens.export.onnx_external import element_count, external_tensor
from digitlens.safeload import finite_as

OPSETS = range(13, 22)  # default-domain opsets whose MLP operators read as onnx_import reads
MAX_IR_VERSION = 10


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


def text(value: Any) -> str:
    """A protobuf string field as text (a corrupt file can hold bytes that are not UTF-8)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:200]
