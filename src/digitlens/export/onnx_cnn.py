"""A convolutional network to ONNX (opset 17, IR 8), as an MLP is (``onnx_format``): the same
input ``pixels`` [batch, c·h·w] (row-major, 0..1) and outputs ``output`` and ``probabilities``.

The graph: Reshape to [batch, c, h, w] → per layer Conv (kernels (out, in, k, k) as stored,
``pads``, ``strides``) / MaxPool / AveragePool (k×k tiles, stride k, floor mode) / Gemm
(transB = 0; the first one after a Flatten, which orders the maps as digitlens does: channel,
row, column), each followed by its nonlinearity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from digitlens.export.onnx_format import INPUT, OUTPUT, finish
from digitlens.fileio import atomic_write_bytes
from digitlens.nn.cnn import CNN, Conv, Pool

ACT_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": "Identity"}


def cnn_to_onnx(model: CNN) -> Any:
    """The network as an ``onnx.ModelProto`` (checked by ``onnx.checker``)."""
    from onnx import helper, numpy_helper

    nodes, inits = [], []
    inits.append(numpy_helper.from_array(np.array([-1, *model.input_shape], np.int64), "shape"))
    nodes.append(helper.make_node("Reshape", [INPUT, "shape"], ["maps0"], name="images"))
    x, p, flat = "maps0", 0, False
    for i, layer in enumerate(model.layers):
        n = i + 1
        if isinstance(layer, Pool):
            op = "MaxPool" if layer.kind == "max" else "AveragePool"
            x_next = f"layer{n}.pool"
            nodes.append(helper.make_node(op, [x], [x_next], kernel_shape=[layer.k, layer.k],
                                          strides=[layer.k, layer.k], name=f"layer{n}.pool"))
            x = x_next
            continue
        inits += [numpy_helper.from_array(np.ascontiguousarray(model.weights[p]),
                                          f"layer{n}.weight"),
                  numpy_helper.from_array(np.ascontiguousarray(model.biases[p]), f"layer{n}.bias")]
        p += 1
        z = f"layer{n}.z"
        if isinstance(layer, Conv):
            nodes.append(helper.make_node(
                "Conv", [x, f"layer{n}.weight", f"layer{n}.bias"], [z],
                kernel_shape=[layer.k, layer.k], strides=[layer.stride, layer.stride],
                pads=[layer.pad] * 4, name=f"layer{n}.conv"))
        else:
            if not flat:  # maps (batch, c, h, w) -> rows (batch, c·h·w)
                nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1, name="flatten"))
                x, flat = "flat", True
            nodes.append(helper.make_node("Gemm", [x, f"layer{n}.weight", f"layer{n}.bias"],
                                          [z], name=f"layer{n}.gemm"))
        a = OUTPUT if n == len(model.layers) else f"layer{n}.a"
        if layer.activation == "softmax":
            nodes.append(helper.make_node("Softmax", [z], [a], axis=-1, name=f"layer{n}.softmax"))
        else:
            nodes.append(helper.make_node(ACT_OPS[layer.activation], [z], [a],
                                          name=f"layer{n}.{layer.activation}"))
        x = a
    c, h, w = model.input_shape
    return finish(nodes, inits, "digitlens_cnn",
                  (c * h * w, f"{c}×{h}×{w} image, row-major, ink bright, values 0..1"),
                  model.layers[-1].activation,  # type: ignore[union-attr]
                  f"digitlens CNN {model.describe()}",
                  {"cost": model.cost, **model.meta, "input_shape": list(model.input_shape),
                   "class_names": list(model.class_names)})


def export_cnn_onnx(model: CNN, path: str | Path) -> Path:
    """Write ``model`` as ONNX, atomically."""
    path = Path(path)
    atomic_write_bytes(path, cnn_to_onnx(model).SerializeToString())
    return path
