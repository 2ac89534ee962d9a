"""ONNX import of a small convolutional network (LeNet and its kin), as PyTorch's exporters
(``torch.onnx.export``, TorchScript and dynamo) and ``digitlens export`` write it.

The graph is walked along its single chain from the input: an optional Reshape of a flat input
to [batch, c, h, w], then Conv (square kernels, equal strides, the same padding on every side,
no dilation or groups), MaxPool/AveragePool (k×k tiles with stride k, no padding, floor mode),
Relu/Sigmoid/Tanh, one Flatten (or Reshape to [batch, n]) before the dense layers (Gemm, or
MatMul + Add), and an optional Softmax/LogSoftmax. Anything else is one ``ModelError`` naming
the node. Weights come through ``onnx_graph.constants`` (the file's own bytes, or data files in
its folder), and the network is read back through ``cnn_io``'s checks before it is returned.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError, ModelError
from digitlens.export import MAX_FILE_BYTES
from digitlens.export.onnx_graph import constants, node_label, read_proto
from digitlens.nn.cnn import CNN, Conv, Dense, Layer, Pool, param_shapes
from digitlens.nn.io import load_network_bytes, network_bytes
from digitlens.safeload import finite_as, read_bounded

ACTS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
OPS = ("Conv", "MaxPool", "AveragePool", "Flatten", "Reshape", "Gemm", "MatMul", "Add",
       "Identity", "Softmax", "LogSoftmax", *ACTS)
TAIL = ("Identity", "ReduceSum", "Div", "ArgMax", "Softmax", "Constant")


def cnn_in_file(path: str | Path) -> CNN | None:
    """The convolutional network of the ONNX file at ``path``, or None when its graph does
    not convolve (the MLP's reader is then the one to read it); read and parsed once."""
    name = str(path)
    proto = read_proto(read_bounded(path, MAX_FILE_BYTES, ModelError, "ONNX file"), name)
    if not any(n.op_type == "Conv" for n in proto.graph.node):
        return None
    return cnn_of(proto, name, Path(path).parent)


def _ints(node: Any, key: str, default: list[int]) -> list[int]:
    for a in node.attribute:
        if a.name == key:
            return [int(v) for v in a.ints] if a.ints else [int(a.i)]
    return default


def _int(node: Any, key: str, default: int) -> int:
    for a in node.attribute:
        if a.name == key:
            return int(a.i)
    return default


def _square(name: str, node: Any, key: str, value: list[int]) -> int:
    if len(value) not in (1, 2) or len(set(value)) != 1 or value[0] < 1:
        raise ModelError(f"{name}: node {node_label(node)}: {key} {value[:4]} is not one size "
                         "for both directions")
    return value[0]


def conv_layer(name: str, node: Any, w: np.ndarray) -> Conv:
    label = f"{name}: node {node_label(node)}"
    if w.ndim != 4 or w.shape[2] != w.shape[3]:
        raise ModelError(f"{label}: kernels of shape {list(w.shape)}; digitlens reads square "
                         "2-D kernels (out, in, k, k)")
    if _int(node, "group", 1) != 1 or set(_ints(node, "dilations", [1])) != {1}:
        raise ModelError(f"{label}: grouped or dilated convolutions are not supported")
    for a in node.attribute:
        if a.name == "auto_pad" and a.s not in (b"", b"NOTSET"):
            raise ModelError(f"{label}: auto_pad {a.s.decode(errors='replace')[:12]} is not "
                             "supported (explicit pads only)")
    pads = _ints(node, "pads", [0, 0, 0, 0])
    if len(set(pads)) != 1 or pads[0] < 0:
        raise ModelError(f"{label}: pads {pads[:8]}: digitlens pads every side alike")
    stride = _square(name, node, "strides", _ints(node, "strides", [1, 1]))
    return Conv(int(w.shape[0]), int(w.shape[2]), stride, pads[0], "identity")


def pool_layer(name: str, node: Any) -> Pool:
    label = f"{name}: node {node_label(node)}"
    k = _square(name, node, "kernel_shape", _ints(node, "kernel_shape", []))
    stride = _square(name, node, "strides", _ints(node, "strides", [k, k]))
    if stride != k or set(_ints(node, "pads", [0])) != {0} or _int(node, "ceil_mode", 0):
        raise ModelError(f"{label}: digitlens pools k×k tiles with stride k, no padding, "
                         "floor mode")
    if set(_ints(node, "dilations", [1])) != {1}:
        raise ModelError(f"{label}: dilated pooling is not supported")
    return Pool(k, "max" if node.op_type == "MaxPool" else "avg")


def read_cnn_onnx_bytes(data: bytes, name: str = "<onnx>", folder: Path | None = None) -> CNN:
    """The convolutional network of an ONNX file's bytes."""
    return cnn_of(read_proto(data, name), name, folder)


def cnn_of(proto: Any, name: str, folder: Path | None = None) -> CNN:
    """The convolutional network of a parsed ONNX graph, checked as a digitlens model file is."""
    nodes = list(proto.graph.node)
    values = constants(proto, nodes, name, folder)
    inits = {t.name for t in proto.graph.initializer}
    real = [i for i in proto.graph.input if i.name not in inits]
    if len(real) != 1:
        raise ModelError(f"{name}: expected one input, found {len(real)}")
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in real[0].type.tensor_type.shape.dim]
    if len(dims) < 2 or any(d is None or d < 1 for d in dims[1:]):
        raise ModelError(f"{name}: input {real[0].name!r} needs fixed sizes after the batch")
    fixed = [int(d) for d in dims[1:] if d is not None]
    shape: tuple[int, ...] | None = tuple(fixed) if len(dims) == 4 else None
    width = math.prod(fixed)
    users: dict[str, list[Any]] = {}
    for n in nodes:
        for i in n.input:
            users.setdefault(i, []).append(n)
    layers: list[Layer] = []
    params: list[tuple[np.ndarray, np.ndarray]] = []
    owners: list[str] = []  # the node of each layer with parameters
    current, flat, seen = real[0].name, False, set()
    bias_due = False  # a MatMul's layer, whose bias an Add may give next

    def weights(node: Any, idx: int, what: str) -> np.ndarray:
        if len(node.input) <= idx or node.input[idx] not in values:
            raise ModelError(f"{name}: node {node_label(node)} needs constant {what}")
        v = values[node.input[idx]]
        if v.dtype.kind != "f":
            raise ModelError(f"{name}: node {node_label(node)}'s {what} are {v.dtype}, not "
                             "floats")
        return finite_as(v, np.float32, f"node {node_label(node)}'s {what}", name, ModelError)

    def close(act: str) -> None:
        last = layers[-1]
        layers[-1] = (Conv(last.out, last.k, last.stride, last.pad, act)
                      if isinstance(last, Conv) else Dense(last.out, act))  # type: ignore[union-attr]

    while True:
        nexts = [n for n in users.get(current, []) if n.op_type in OPS]
        if not nexts:
            break
        if len(nexts) > 1:
            raise ModelError(f"{name}: the graph branches at {current!r}; digitlens reads one "
                             "chain of layers")
        node = nexts[0]
        if id(node) in seen:
            raise ModelError(f"{name}: the graph loops back at node {node_label(node)}")
        seen.add(id(node))
        op, label = node.op_type, node_label(node)
        if op == "Reshape" and not layers and shape is None:
            target = values.get(node.input[1]) if len(node.input) > 1 else None
            if target is None or target.ndim != 1 or len(target) != 4 \
                    or math.prod(int(t) for t in target[1:]) != width:
                raise ModelError(f"{name}: node {label} reshapes the input to "
                                 f"{None if target is None else target.tolist()[:6]}; expected "
                                 "[batch, channels, height, width]")
            shape = tuple(int(t) for t in target[1:])
        elif op in ("Flatten", "Reshape"):
            if flat or not layers:
                raise ModelError(f"{name}: node {label}: only the maps before the first dense "
                                 "layer may be flattened")
            flat = True
        elif op == "Conv":
            if flat:
                raise ModelError(f"{name}: node {label} convolves after the flatten")
            w = weights(node, 1, "kernels")
            layer = conv_layer(name, node, w)
            b = weights(node, 2, "bias") if len(node.input) > 2 and node.input[2] else \
                np.zeros(layer.out, np.float32)
            layers.append(layer)
            params.append((w, b.reshape(-1)))
            owners.append(label)
        elif op in ("MaxPool", "AveragePool"):
            layers.append(pool_layer(name, node))
        elif op in ("Gemm", "MatMul"):
            w = weights(node, 1, "weights")
            if op == "Gemm":
                if _int(node, "transA", 0):
                    raise ModelError(f"{name}: node {label} uses transA=1, not supported")
                w = w.T if _int(node, "transB", 0) else w
            b = weights(node, 2, "bias") if op == "Gemm" and len(node.input) > 2 else \
                np.zeros(w.shape[-1], np.float32)
            layers.append(Dense(int(w.shape[-1]), "identity"))
            params.append((np.ascontiguousarray(w), b.reshape(-1)))
            owners.append(label)
        elif op == "Add":
            if not bias_due:
                raise ModelError(f"{name}: node {label} adds something that is not a dense "
                                 "layer's bias")
            params[-1] = (params[-1][0], weights(node, 1, "bias").reshape(-1))
        elif op in ACTS or op in ("Softmax", "LogSoftmax"):
            act = ACTS.get(op, "softmax")
            if not layers:
                raise ModelError(f"{name}: node {label} applies {act} to the input")
            if isinstance(layers[-1], Pool):  # pool then ReLU: max(relu) = relu(max)
                before = layers[-2] if len(layers) > 1 else None
                if not (act == "relu" and layers[-1].kind == "max" and isinstance(before, Conv)
                        and before.activation == "identity"):
                    raise ModelError(f"{name}: node {label} applies {act} after a pool")
                layers[-2] = Conv(before.out, before.k, before.stride, before.pad, "relu")
            else:
                close(act)
        current = node.output[0]
        bias_due = op == "MatMul"
    left = [n for n in nodes if id(n) not in seen and n.op_type not in TAIL]
    if left:
        raise ModelError(f"{name}: node {node_label(left[0])} is not supported (digitlens "
                         "imports Conv, MaxPool, AveragePool, Relu, Sigmoid, Tanh, Flatten, "
                         "Gemm/MatMul+Add and Softmax)")
    if not layers or not isinstance(layers[-1], Dense):
        raise ModelError(f"{name}: no dense output layer found")
    if layers[-1].activation == "identity":
        close("softmax")  # logits: the class probabilities are their softmax
    if shape is None:
        raise ModelError(f"{name}: the input is flat and never reshaped into images")
    check_shapes(name, shape, layers, params, [f"node {o}" for o in owners])
    try:
        model = CNN(shape, tuple(layers), params=np.concatenate(
            [w.ravel() for w, _ in params] + [b for _, b in params]).astype(np.float32),
            meta={"imported_from": {"format": "onnx", "producer": proto.producer_name[:80]}})
    except DigitlensError as exc:
        raise ModelError(f"{name}: {str(exc).removeprefix(name + ': ')}") from None
    return load_network_bytes(network_bytes(model), name)  # type: ignore[return-value]


def check_shapes(name: str, shape: tuple[int, ...], layers: list[Layer],
                 params: list[tuple[np.ndarray, np.ndarray]], owners: list[str]) -> None:
    """Every layer's weights as the layers before it make them (a kernel reading 12 channels
    after a layer of 6 would otherwise be read as other numbers, not refused)."""
    try:
        expected = param_shapes(shape, layers)
    except DigitlensError as exc:
        raise ModelError(f"{name}: {str(exc).removeprefix(name + ': ')}") from None
    for (w, b), (w_shape, b_shape), owner in zip(params, expected, owners, strict=True):
        if w.shape != w_shape or b.shape != b_shape:
            raise ModelError(f"{name}: {owner}: weights {list(w.shape)} and bias "
                             f"{list(b.shape)}, where the layers before it make "
                             f"{list(w_shape)} and {list(b_shape)}")


def read_cnn_onnx(path: str | Path) -> CNN:
    data = read_bounded(path, MAX_FILE_BYTES, ModelError, "ONNX file")
    return read_cnn_onnx_bytes(data, str(path), Path(path).parent)
