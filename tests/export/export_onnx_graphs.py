"""ONNX files written with onnx.helper in the layouts other exporters use (no torch needed).

``torch``: Gemm with weights (n_out, n_in) and transB=1; ``keras``: MatMul with (n_in, n_out)
weights then Add of the bias; ``plain``: Gemm with (n_in, n_out) and transB=0; ``transpose``:
(n_out, n_in) weights through a Transpose node into MatMul, then Add.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def random_layers(sizes: tuple[int, ...], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W (n_in, n_out), b) per layer, scaled so activations stay in a useful range."""
    rng = np.random.default_rng(seed)
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    return [(rng.normal(0, 1 / np.sqrt(a), (a, b)).astype(np.float32),
             rng.normal(0, 0.1, b).astype(np.float32)) for a, b in pairs]


def mlp_model(layers: list[tuple[np.ndarray, np.ndarray]], hidden: str = "Relu",
              final: str | None = "Softmax", layout: str = "torch",
              input_shape: tuple[int, ...] = (784,), flatten: str = "Flatten",
              extra_nodes: list[onnx.NodeProto] | None = None) -> onnx.ModelProto:
    nodes, inits = [], []
    x = "input"
    if input_shape != (784,):
        if flatten == "Flatten":
            nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1, name="flatten"))
        else:
            inits.append(numpy_helper.from_array(np.array([-1, 784], np.int64), "flat_shape"))
            nodes.append(helper.make_node("Reshape", [x, "flat_shape"], ["flat"], name="reshape"))
        x = "flat"
    for i, (w, b) in enumerate(layers):
        z = f"z{i}"
        if layout == "torch":
            inits += [numpy_helper.from_array(np.ascontiguousarray(w.T), f"w{i}"),
                      numpy_helper.from_array(b, f"b{i}")]
            nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [z], transB=1,
                                          name=f"fc{i}"))
        elif layout == "plain":
            inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
            nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [z], name=f"fc{i}"))
        elif layout == "transpose":  # (out, in) weight transposed in the graph, then MatMul
            inits += [numpy_helper.from_array(np.ascontiguousarray(w.T), f"wt{i}"),
                      numpy_helper.from_array(b, f"b{i}")]
            nodes.append(helper.make_node("Transpose", [f"wt{i}"], [f"w{i}"], perm=[1, 0],
                                          name=f"transpose{i}"))
            nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"], name=f"matmul{i}"))
            nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [z], name=f"add{i}"))
        else:
            inits += [numpy_helper.from_array(w, f"w{i}"),
                      numpy_helper.from_array(b.reshape(1, -1), f"b{i}")]
            nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"], name=f"matmul{i}"))
            nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [z], name=f"add{i}"))
        last = i == len(layers) - 1
        op = final if last else hidden
        if op is None:
            x = z
            continue
        kw: dict[str, Any] = {"axis": -1} if op in ("Softmax", "LogSoftmax") else {}
        nodes.append(helper.make_node(op, [z], [f"a{i}"], name=f"act{i}", **kw))
        x = f"a{i}"
    nodes += extra_nodes or []
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                     ["N", *input_shape])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", layers[-1][0].shape[1]])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def numpy_forward(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray, hidden: str,
                  final: str | None) -> np.ndarray:
    """The oracle: float64 forward pass of the same maths."""
    Fn = Callable[[np.ndarray], np.ndarray]
    fns: dict[str | None, Fn] = {
           "Relu": lambda z: np.maximum(z, 0), "Sigmoid": lambda z: 1 / (1 + np.exp(-z)),
           "Tanh": np.tanh, None: lambda z: z,
           "Softmax": lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(
               z - z.max(1, keepdims=True)).sum(1, keepdims=True)}
    a = x.reshape(len(x), -1).astype(np.float64)
    for i, (w, b) in enumerate(layers):
        a = fns[final if i == len(layers) - 1 else hidden](a @ w.astype(np.float64) + b)
    return a
