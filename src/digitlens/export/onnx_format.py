"""ONNX out and in: any digitlens MLP to an opset-17 graph, and MLPs made elsewhere back.

Export writes ``pixels`` [batch, h·w] (the model's input image row-major, 0..1; MNIST: 784 =
28×28) → one Gemm per layer (weights stored (n_in, n_out), transB = 0) → activation →
``output`` (the last layer's activations) and ``probabilities`` (softmax: the same; sigmoid
outputs: divided by their sum). Opset 17 and IR version 8, because newer defaults are refused
by the onnxruntime we verify against.

Import (``onnx_import``) walks a graph made elsewhere along its single chain and accepts only
what an MLP is made of; anything else is one ``ModelError`` naming the node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.export.onnx_import import SUPPORTED, import_onnx, import_onnx_bytes
from digitlens.fileio import atomic_write_bytes
from digitlens.nn.mlp import MLP
from digitlens.version import __version__

__all__ = ["IR_VERSION", "OPSET", "SUPPORTED", "export_onnx", "import_onnx", "import_onnx_bytes",
           "to_onnx"]

OPSET = 17
IR_VERSION = 8
INPUT, OUTPUT, PROBS = "pixels", "output", "probabilities"


def to_onnx(model: MLP) -> Any:
    """The model as an ``onnx.ModelProto`` (checked by ``onnx.checker``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    x = INPUT
    for i, (w, b, act) in enumerate(zip(model.weights, model.biases, model.activations,
                                        strict=True)):
        n = i + 1
        inits += [numpy_helper.from_array(np.ascontiguousarray(w), f"layer{n}.weight"),
                  numpy_helper.from_array(np.ascontiguousarray(b), f"layer{n}.bias")]
        z = f"layer{n}.z"
        # (batch, n_in) @ (n_in, n_out) + (n_out,) -> (batch, n_out)
        nodes.append(helper.make_node("Gemm", [x, f"layer{n}.weight", f"layer{n}.bias"], [z],
                                      name=f"layer{n}.gemm"))
        a = OUTPUT if n == model.n_layers else f"layer{n}.a"
        if act == "identity":
            nodes.append(helper.make_node("Identity", [z], [a], name=f"layer{n}.identity"))
        elif act == "softmax":
            nodes.append(helper.make_node("Softmax", [z], [a], axis=-1, name=f"layer{n}.softmax"))
        else:
            op = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}[act]
            nodes.append(helper.make_node(op, [z], [a], name=f"layer{n}.{act}"))
        x = a
    if model.output_activation == "softmax":
        nodes.append(helper.make_node("Identity", [OUTPUT], [PROBS], name="probabilities"))
    else:
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "sum_axes"))
        nodes.append(helper.make_node("ReduceSum", [OUTPUT, "sum_axes"], ["output_sum"],
                                      keepdims=1, name="output_sum"))
        nodes.append(helper.make_node("Div", [OUTPUT, "output_sum"], [PROBS],
                                      name="probabilities"))
    n_out = model.sizes[-1]
    graph = helper.make_graph(
        nodes, "digitlens_mlp", [helper.make_tensor_value_info(
            INPUT, TensorProto.FLOAT, ["batch", model.sizes[0]],
            "28×28 digit, row-major, ink bright, values 0..1 (MNIST preprocessing)"
            if model.input_shape == (28, 28) else
            f"{model.input_shape[0]}×{model.input_shape[1]} image, row-major, ink bright, "
            "values 0..1")],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", n_out],
                                       f"last layer activations ({model.output_activation})"),
         helper.make_tensor_value_info(PROBS, TensorProto.FLOAT, ["batch", n_out],
                                       "class probabilities, summing to 1")],
        inits, doc_string=f"digitlens MLP {model.describe()}")
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="digitlens", producer_version=__version__,
                              doc_string=f"digitlens MLP {model.describe()}")
    proto.ir_version = IR_VERSION
    # what the model reads and answers, stated even when its metadata leaves it implied
    meta = {"cost": model.cost, **model.meta, "input_shape": list(model.input_shape),
            "class_names": list(model.class_names)}
    helper.set_model_props(proto, {"digitlens": json.dumps(meta, default=str)})
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model: MLP, path: str | Path) -> Path:
    """Write ``model`` as ONNX (opset 17, IR 8), atomically."""
    path = Path(path)
    atomic_write_bytes(path, to_onnx(model).SerializeToString())
    return path
