"""JSON and ONNX export/import of models of other sizes than MNIST's: 8×8 → 10 digits and
12×12 → three named classes. Round trips are exact and keep the input shape and class names;
onnxruntime computes the same probabilities as digitlens."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from export_onnx_graphs import mlp_model, numpy_forward, random_layers

from digitlens.export.json_format import export_json, import_json
from digitlens.export.onnx_format import export_onnx, import_onnx, import_onnx_bytes
from digitlens.nn.mlp import MLP
from shapes import SHAPES
from support import assert_within, forward_bounds

ort = pytest.importorskip("onnxruntime")
CLASSES8 = [str(d) for d in range(10)]


def models() -> list[MLP]:
    return [MLP.create((64, 32, 10), meta={"input_shape": [8, 8], "class_names": CLASSES8},
                       seed=1),
            MLP.create((144, 16, 3), "tanh", meta={"input_shape": [12, 12],
                                                   "class_names": list(SHAPES)}, seed=2),
            MLP.create((144, 3), "sigmoid", "sigmoid", "quadratic",
                       meta={"input_shape": [12, 12], "class_names": list(SHAPES)}, seed=3),
            MLP.create((96, 8, 4), meta={"input_shape": [8, 12]}, seed=4)]  # not square


@pytest.mark.parametrize("model", models(), ids=lambda m: "-".join(map(str, m.sizes)))
def test_json_round_trip_keeps_the_shape_and_the_names(model: MLP, tmp_path: Path) -> None:
    path = export_json(model, tmp_path / "m.json")
    doc = json.loads(path.read_text())
    assert doc["input"]["shape"] == list(model.input_shape)
    assert doc["output"]["classes"] == list(model.class_names)
    back = import_json(path)
    assert back.input_shape == model.input_shape and back.class_names == model.class_names
    assert back.sizes == model.sizes and back.activations == model.activations
    assert np.array_equal(back.params.view(np.uint32), model.params.view(np.uint32))


@pytest.mark.e2e
@pytest.mark.parametrize("model", models(), ids=lambda m: "-".join(map(str, m.sizes)))
def test_onnx_export_runs_in_onnxruntime_and_comes_back(model: MLP, tmp_path: Path) -> None:
    path = export_onnx(model, tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    dims = [d.dim_value or d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", model.sizes[0]]
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["digitlens"])
    assert meta["input_shape"] == list(model.input_shape)
    assert meta["class_names"] == list(model.class_names)
    x = np.random.default_rng(5).random((50, model.sizes[0]), dtype=np.float32)
    session = ort.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
    output, probs = session.run(None, {"pixels": x})
    t = model.trace(x)
    # ONNX Runtime's float32 sums and BLAS's, each in an order the CPU picks
    bound = forward_bounds(model, x)[1][-1]
    assert_within(probs, t.probabilities, bound, "ONNX probabilities")
    assert_within(output, t.output, bound, "ONNX output")
    back, notes = import_onnx(path)
    assert notes == [] and back.input_shape == model.input_shape
    assert back.class_names == model.class_names
    assert np.array_equal(back.params.view(np.uint32), model.params.view(np.uint32))


@pytest.mark.e2e
def test_onnx_from_elsewhere_reading_1x12x12_images() -> None:
    """A graph that says nothing but its input, batch×1×12×12, flattened to 144: imported as a
    12×12 model with three classes, numbered as none are named."""
    layers = random_layers((144, 20, 3), seed=7)
    proto = mlp_model(layers, input_shape=(1, 12, 12))
    model, _ = import_onnx_bytes(proto.SerializeToString(), "shapes.onnx")
    assert model.sizes == (144, 20, 3) and model.input_shape == (12, 12)
    assert model.class_names == ("0", "1", "2")
    x = np.random.default_rng(2).random((30, 1, 12, 12), dtype=np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {"input": x})
    # float32 (digitlens, ONNX Runtime) in orders the CPU picks, and the float64 oracle
    bound = forward_bounds(model, x.reshape(30, -1))[1][-1]
    assert_within(model.trace(x.reshape(30, -1)).probabilities, theirs, bound, "ONNX Runtime")
    assert_within(theirs, numpy_forward(layers, x.reshape(30, -1), "Relu", "Softmax"), bound,
                  "float64 oracle")
