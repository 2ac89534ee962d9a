"""ONNX export checked by onnxruntime; import of files written by onnx.helper and by PyTorch."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from export_onnx_graphs import mlp_model, numpy_forward, random_layers
from onnx import TensorProto, helper, numpy_helper

from digitlens.errors import ModelError
from digitlens.export.onnx_format import export_onnx, import_onnx, import_onnx_bytes
from digitlens.nn.mlp import MLP
from support import assert_within, forward_bounds

ort = pytest.importorskip("onnxruntime")
FIXTURES = Path(__file__).parent / "fixtures"


def run_ort(path_or_bytes: Path | bytes, x: np.ndarray) -> list[np.ndarray]:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def same_prediction(theirs: np.ndarray, probabilities: np.ndarray, bound: np.ndarray) -> bool:
    """The same class, wherever the top two are further apart than the bound allows."""
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 2 * bound.max(axis=1)
    return bool((theirs == np.argmax(probabilities, 1))[decided].all())


def models(trained_model: MLP) -> list[MLP]:
    return [trained_model, MLP.create((784, 30, 10), "sigmoid", "sigmoid", seed=1),
            MLP.create((784, 20, 12, 10), "tanh", seed=2),
            MLP.create((784, 16, 10), "identity", seed=3), MLP.create((784, 10), seed=4)]


@pytest.mark.e2e
def test_export_matches_onnxruntime(trained_model: MLP, sample, tmp_path: Path) -> None:
    x = trained_model.as_input(sample.test_images[:200])
    for i, model in enumerate(models(trained_model)):
        path = export_onnx(model, tmp_path / f"m{i}.onnx")
        proto = onnx.load(str(path))
        assert proto.ir_version == 8 and proto.opset_import[0].version == 17
        assert [i.name for i in proto.graph.input] == ["pixels"]
        output, probs = run_ort(path, x)
        t = model.trace(x)
        # ONNX Runtime's float32 MatMul and NumPy's BLAS each sum in an order the CPU picks
        bound = forward_bounds(model, x)[1][-1]
        assert_within(output, t.output, bound, "ONNX output")
        assert_within(probs, t.probabilities, bound, "ONNX probabilities")
        # normalised in float32: 10 terms ≤ 1 sum to 1 within ~14u ≈ 1e-6 in any order
        assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
        assert same_prediction(np.argmax(probs, 1), t.probabilities, bound)


def test_digitlens_round_trip_is_exact(trained_model: MLP, tmp_path: Path) -> None:
    for i, model in enumerate(models(trained_model)):
        back, notes = import_onnx(export_onnx(model, tmp_path / f"m{i}.onnx"))
        assert back.sizes == model.sizes and back.activations == model.activations
        assert back.cost == model.cost and notes == []
        assert np.array_equal(back.params.view(np.uint32), model.params.view(np.uint32))


@pytest.mark.e2e
@pytest.mark.parametrize(("layout", "shape", "flatten", "hidden", "final"), [
    ("torch", (1, 28, 28), "Flatten", "Relu", "LogSoftmax"),
    ("torch", (1, 28, 28), "Reshape", "Sigmoid", "Softmax"),
    ("keras", (28, 28), "Reshape", "Relu", "Softmax"),
    ("keras", (784,), "", "Tanh", None),
    ("plain", (28, 28), "Flatten", "Tanh", "Sigmoid"),
    ("transpose", (1, 28, 28), "Flatten", "Relu", "Softmax"),
])
def test_import_foreign_layouts(layout: str, shape: tuple[int, ...], flatten: str, hidden: str,
                               final: str | None, sample) -> None:
    layers = random_layers((784, 24, 16, 10), seed=len(layout) + len(shape))
    proto = mlp_model(layers, hidden, final, layout, shape, flatten)
    model, _notes = import_onnx_bytes(proto.SerializeToString(), "f.onnx")
    assert model.sizes == (784, 24, 16, 10)
    assert model.activations[:-1] == (hidden.lower(),) * 2
    for (w, b), mw, mb in zip(layers, model.weights, model.biases, strict=True):
        assert np.array_equal(w, mw) and np.array_equal(b, mb)
    x = sample.test_images[:50].astype(np.float32) / 255
    (theirs,) = run_ort(proto.SerializeToString(), x.reshape(50, *shape))
    ours = model.trace(x)
    # ONNX Runtime (float32, its own order) against digitlens (float32, BLAS's order), or the
    # float64 oracle: the forward bound either way (LogSoftmax's exp adds |log p|·u ≲ 20u)
    bound = forward_bounds(model, x)[1][-1]
    if final == "LogSoftmax":
        theirs = np.exp(theirs)
    if final in ("Softmax", "LogSoftmax", "Sigmoid"):
        assert_within(ours.output, theirs, bound, "ONNX Runtime")
    else:  # logits: digitlens applies softmax
        oracle = numpy_forward(layers, x, hidden, "Softmax")
        assert_within(ours.output, oracle, bound, "float64 oracle")
        assert same_prediction(np.argmax(theirs, 1), ours.probabilities, bound)


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["torch-flatten-relu-logsoftmax", "torch-flat-sigmoid-softmax",
                                  "torch-reshape-tanh-logits"])
def test_import_torch_exported_files(name: str, sample) -> None:
    model, notes = import_onnx(FIXTURES / f"{name}.onnx")
    proto = onnx.load(str(FIXTURES / f"{name}.onnx"))
    assert proto.producer_name == "pytorch"
    dims = [d.dim_value or 1 for d in proto.graph.input[0].type.tensor_type.shape.dim]
    x = sample.test_images[:64].astype(np.float32) / 255
    (theirs,) = run_ort(FIXTURES / f"{name}.onnx", x.reshape(64, *dims[1:]))
    if "logsoftmax" in name:
        theirs = np.exp(theirs)
        assert "LogSoftmax" in notes[0]
    if "logits" in name:
        e = np.exp(theirs - theirs.max(1, keepdims=True))
        theirs = e / e.sum(1, keepdims=True)
        assert "logits" in notes[0]
    # ONNX Runtime's float32 sums and BLAS's, each in an order the CPU picks
    assert_within(model.trace(x).probabilities, theirs, forward_bounds(model, x)[1][-1],
                  "ONNX Runtime")


@pytest.mark.parametrize(("name", "node"), [("torch-conv", "/0/Conv (Conv)"),
                                            ("torch-dropout-training", "/3/Dropout (Dropout)")])
def test_torch_files_that_are_not_mlps_are_refused(name: str, node: str) -> None:
    with pytest.raises(ModelError, match=re.escape(f"node {node} is not supported")):
        import_onnx(FIXTURES / f"{name}.onnx")


def test_torch_fixtures_regenerate(tmp_path: Path, sample) -> None:
    """With torch installed, today's exporter still writes files that import correctly."""
    pytest.importorskip("torch")
    from make_torch_fixtures import export_all

    x = sample.test_images[:20].astype(np.float32) / 255
    for path in export_all(tmp_path):
        if "conv" in path.name or "dropout" in path.name:
            with pytest.raises(ModelError, match="is not supported"):
                import_onnx(path)
            continue
        model, _ = import_onnx(path)
        shape = onnx.load(str(path)).graph.input[0].type.tensor_type.shape
        dims = [d.dim_value or 1 for d in shape.dim]
        (theirs,) = run_ort(path, x.reshape(20, *dims[1:]))
        assert (model.predict(x) == np.argmax(theirs, 1)).all()


def conv_proto() -> onnx.ModelProto:
    layers = random_layers((784, 8, 10))
    w = numpy_helper.from_array(np.zeros((1, 1, 3, 3), np.float32), "k")
    conv = helper.make_node("Conv", ["input", "k"], ["c"], name="conv1")
    model = mlp_model(layers, input_shape=(1, 28, 28))
    model.graph.initializer.append(w)
    model.graph.node.insert(0, conv)
    return model


def edit(fn) -> bytes:  # type: ignore[no-untyped-def]
    model = mlp_model(random_layers((784, 8, 10)), input_shape=(1, 28, 28))
    fn(model)
    return model.SerializeToString()


def with_dropout() -> bytes:
    layers = random_layers((784, 8, 10))
    model = mlp_model(layers)
    act = next(n for n in model.graph.node if n.name == "act0")
    act.output[0] = "a0raw"
    model.graph.node.insert(list(model.graph.node).index(act) + 1, helper.make_node(
        "Dropout", ["a0raw"], ["a0"], name="dropout1"))
    return model.SerializeToString()


def huge_initializer(m: onnx.ModelProto) -> None:
    t = m.graph.initializer[0]
    del t.dims[:]
    t.dims.extend([100000, 100000])


def nan_weight(m: onnx.ModelProto) -> None:
    w = numpy_helper.to_array(m.graph.initializer[0]).copy()
    w[3, 4] = np.nan
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, m.graph.initializer[0].name))


def wrong_shape(m: onnx.ModelProto) -> None:
    w = numpy_helper.to_array(m.graph.initializer[0])[:, :700]
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(w), "w0"))


def dynamic_pixels(m: onnx.ModelProto) -> None:
    dim = m.graph.input[0].type.tensor_type.shape.dim[2]
    dim.Clear()
    dim.dim_param = "height"


def external(m: onnx.ModelProto) -> None:
    t = m.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="/etc/passwd")


def branch(m: onnx.ModelProto) -> None:
    m.graph.node.append(helper.make_node("Relu", ["flat"], ["side"], name="side_relu"))


def loop(m: onnx.ModelProto) -> None:
    """act0 writes back into fc0's input: a hostile cycle (onnx.checker would refuse it)."""
    next(n for n in m.graph.node if n.name == "act0").output[0] = "flat"


def truncated_raw(m: onnx.ModelProto) -> None:
    t = m.graph.initializer[0]
    t.raw_data = t.raw_data[:100]


@pytest.mark.parametrize(("data", "message"), [
    (lambda: with_dropout(), r"node dropout1 \(Dropout\) is not supported"),
    (lambda: edit(huge_initializer), "claims 10000000000 values"),
    (lambda: edit(nan_weight), "NaN or infinity"),
    (lambda: edit(wrong_shape), r"node fc0 \(Gemm\) has weights of shape \[700, 8\] but"),
    (lambda: edit(dynamic_pixels), "dynamic dimensions other than the batch"),
    (lambda: edit(external), "external file"),
    (lambda: edit(branch), "branches at 'flat'"),
    (lambda: edit(truncated_raw), "initializer 'w0' is corrupt"),
    (lambda: edit(loop), r"loops back at node fc0 \(Gemm\)"),
    (lambda: mlp_model(random_layers((2352, 8, 10)), input_shape=(3, 28, 28))
     .SerializeToString(), "one grey channel"),
    (lambda: mlp_model(random_layers((784, 8, 10)), hidden="Softmax").SerializeToString(),
     "layer 0 ends in a softmax"),
    (lambda: mlp_model(random_layers((784, 8, 10)), input_shape=(1, 28, 28)).SerializeToString()
     .replace(b"Flatten", b"Flatxen"), r"\(Flatxen\) is not supported"),
])
def test_refusals_name_the_problem(data, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match=message):
        import_onnx_bytes(data(), "x.onnx")


def test_unreadable_bytes_and_convolutions_are_refused() -> None:
    good = mlp_model(random_layers((784, 8, 10))).SerializeToString()
    for data, message in [(good[: len(good) // 2], "not a readable ONNX file"),
                          (b"\x00garbage" * 10, "not a readable ONNX file"),
                          (b"", "not a readable ONNX file"),
                          (conv_proto().SerializeToString(), r"node conv1 \(Conv\) is not "
                                                             "supported")]:
        with pytest.raises(ModelError, match=message):
            import_onnx_bytes(data, "x.onnx")
