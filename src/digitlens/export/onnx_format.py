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
    from onnx import helper, numpy_helper

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
    shape = model.input_shape
    described = ("28×28 digit, row-major, ink bright, values 0..1 (MNIST preprocessing)"
                 if shape == (28, 28) else
                 f"{shape[0]}×{shape[1]} image, row-major, ink bright, values 0..1")
    return finish(nodes, inits, "digitlens_mlp", (model.sizes[0], described),
                  model.output_activation, f"digitlens MLP {model.describe()}",
                  {"cost": model.cost, **model.meta, "input_shape": list(shape),
                   "class_names": list(model.class_names)})


def finish(nodes: list[Any], inits: list[Any], graph_name: str, given: tuple[int, str],
           output: str, doc: str, meta: dict[str, Any]) -> Any:
    """The graph's end, shared by every network digitlens exports: ``probabilities`` from
    ``output`` (softmax as it is; sigmoid outputs divided by their sum), the input (``given``:
    values per example and their description) and outputs declared, the model's metadata
    (what it reads and answers, stated even where its own leaves it implied), checked."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if output == "softmax":
        nodes.append(helper.make_node("Identity", [OUTPUT], [PROBS], name="probabilities"))
    else:
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "sum_axes"))
        nodes.append(helper.make_node("ReduceSum", [OUTPUT, "sum_axes"], ["output_sum"],
                                      keepdims=1, name="output_sum"))
        nodes.append(helper.make_node("Div", [OUTPUT, "output_sum"], [PROBS],
                                      name="probabilities"))
    n_out = len(meta["class_names"])
    graph = helper.make_graph(
        nodes, graph_name,
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", given[0]], given[1])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", n_out],
                                       f"last layer activations ({output})"),
         helper.make_tensor_value_info(PROBS, TensorProto.FLOAT, ["batch", n_out],
                                       "class probabilities, summing to 1")],
        inits, doc_string=doc)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="digitlens", producer_version=__version__,
                              doc_string=doc)
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, {"digitlens": json.dumps(meta, default=str)})
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model: MLP, path: str | Path) -> Path:
    """Write ``model`` as ONNX (opset 17, IR 8), atomically."""
    path = Path(path)
    atomic_write_bytes(path, to_onnx(model).SerializeToString())
    return path
