"""Imports of networks of other sizes than MNIST's (64-32-10 on 8×8 digits, 144-16-3 on 12×12
symbols) in every format, the record each import gives of what it read, was given and assumed,
and ``dl.load`` of the same files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from make_import_fixtures import (
    DIGITS8_ONNX,
    DIGITS8_SAFETENSORS,
    KERAS_MODEL,
    ONNX_MODEL,
    PT_MODEL,
    SAFETENSORS_MODEL,
    SHAPES_REFERENCE,
    SYMBOLS_KERAS,
    SYMBOLS_PT,
)
from test_import_models import needs

import digitlens as dl
from digitlens.errors import ModelError, ParameterError
from digitlens.export.json_format import export_json
from digitlens.export.onnx_import import read_onnx
from digitlens.export.state_dict import import_state_dict
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from support import assert_within, forward_bounds

FIXTURES = Path(__file__).parent / "fixtures"
# file, flags, reference key, sizes, image shape (read from the graph, or assumed square)
SHAPES = [(DIGITS8_SAFETENSORS, [], "digits8", (64, 32, 10), (8, 8)),
          (DIGITS8_ONNX, [], "digits8", (64, 32, 10), (8, 8)),
          (SYMBOLS_PT, ["--activation", "tanh"], "symbols12", (144, 16, 3), (12, 12)),
          (SYMBOLS_KERAS, [], "symbols12", (144, 16, 3), (12, 12))]
RECORD = {"format", "file", "out", "sizes", "activations", "cost", "input_shape", "class_names",
          "read", "given", "assumed", "notes"}
READ = {"format", "layers", "sizes", "activations", "input_shape", "class_names",
        "external_data"}


def imported(path: Path, flags: list[str]) -> MLP:
    if path.suffix == ".onnx":
        return read_onnx(path).model
    return import_state_dict(path, activation=flags[1] if flags else None).model


@pytest.mark.parametrize(("name", "flags", "ref", "sizes", "shape"), SHAPES)
def test_other_sizes_match_torch(name: str, flags: list[str], ref: str,
                                 sizes: tuple[int, ...], shape: tuple[int, int]) -> None:
    """Each format of each size gives torch's own probabilities (stored by the fixture
    script) on its own test inputs."""
    if not name.endswith(".onnx"):
        needs("torch" if name.endswith(".pt") else "safetensors")
    stored = np.load(FIXTURES / SHAPES_REFERENCE)
    model = imported(FIXTURES / name, flags)
    assert model.sizes == sizes and model.input_shape == shape
    assert model.class_names == tuple(str(i) for i in range(sizes[-1]))
    probs = model.trace(stored[f"{ref}_x"]).probabilities
    # PyTorch's stored float32 pass and ours: within the forward bound of each other
    bound = forward_bounds(model, stored[f"{ref}_x"])[1][-1]
    assert_within(probs, stored[ref], bound, "against PyTorch")
    top2 = np.sort(stored[ref], axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 2 * bound.max(axis=1)  # not within the bound of a tie
    assert (probs.argmax(1) == stored[ref].argmax(1))[decided].all()
    assert (probs.argmax(1) != probs.argmax(1)[0]).any()  # not one answer for everything


def test_live_torch_other_sizes(tmp_path: Path) -> None:
    """Re-export the other sizes with the installed torch and compare with its outputs."""
    needs("torch")
    needs("safetensors")
    needs("onnxscript")
    needs("sklearn")
    from make_import_fixtures import export_shapes

    export_shapes(tmp_path)
    stored = np.load(tmp_path / SHAPES_REFERENCE)
    for name, flags, ref, sizes, _ in SHAPES:
        model = imported(tmp_path / name, flags)
        assert model.sizes == sizes
        assert_within(model.trace(stored[f"{ref}_x"]).probabilities, stored[ref],
                      forward_bounds(model, stored[f"{ref}_x"])[1][-1], ref)  # float32 both


def run_import(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "digitlens", "import", *args, "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.e2e
def test_cli_records_are_alike_across_formats(tmp_path: Path) -> None:
    """Every format answers with the same fields; what the file said is under ``read``, what
    the flags said under ``given``, the rest under ``assumed``, and the model file holds the
    image shape and class names that were decided."""
    needs("torch")
    needs("safetensors")
    json_file = export_json(read_onnx(FIXTURES / SYMBOLS_KERAS).model, tmp_path / "sym.json")
    names = tmp_path / "classes.txt"
    names.write_text("bar\ncolumn\n\ndiagonal\n")
    for name, flags, _, sizes, shape in [*SHAPES, (json_file, [], "", (144, 16, 3), (12, 12))]:
        out = tmp_path / f"{Path(name).name}.npz"
        proc, res = run_import(str(FIXTURES / name), "--out", str(out), *flags)
        assert set(res) == RECORD and set(res["read"]) >= READ, (name, set(res["read"]))
        assert res["sizes"] == list(sizes) and res["input_shape"] == list(shape)
        kind = Path(name).suffix
        assert res["format"] == {".safetensors": "safetensors", ".pt": "pytorch",
                                 ".onnx": "onnx", ".json": "json"}[kind]
        assert len(res["read"]["layers"]) == len(sizes) - 1
        if kind == ".onnx" and name == DIGITS8_ONNX:  # the graph declares batch×1×8×8
            assert res["read"]["input"] == ["batch", 1, 8, 8]
            assert res["read"]["input_shape"] == [8, 8] and "input_shape" not in res["assumed"]
            assert res["read"]["external_data"] == [f"{DIGITS8_ONNX}.data"]
            assert res["read"]["activations"] == ["relu", None]
            assert res["assumed"]["output"] == "softmax"
        elif kind in (".pt", ".safetensors", ".onnx"):  # flat input: a square assumed
            assert res["read"]["input_shape"] is None
            assert res["assumed"]["input_shape"] == list(shape)
            assert "assumed: input_shape " + "x".join(map(str, shape)) in proc.stderr
        else:  # digitlens JSON says both
            assert res["read"]["input_shape"] == list(shape) and res["assumed"].get(
                "input_shape") is None
        if kind in (".pt", ".safetensors"):
            assert res["read"]["activations"] == [None, None]
            assert ("activation" in res["given"]) == bool(flags)
            assert ("activation" in res["assumed"]) != bool(flags)
        assert res["class_names"] == [str(i) for i in range(sizes[-1])]
        assert ("class_names" in res["assumed"]) == (kind != ".json")
        if sizes[-1] == 3:  # the same file again, named and shaped on the command line
            _, named = run_import(str(FIXTURES / name), "--out", str(out), *flags,
                                  "--classes", f"@{names}", "--input-shape", "9x16")
            assert named["given"]["class_names"] == ["bar", "column", "diagonal"]
            assert named["given"]["input_shape"] == [9, 16]
            assert "class_names" not in named["assumed"] and "input_shape" not in named[
                "assumed"]
            model = load_model(out)
            assert model.class_names == ("bar", "column", "diagonal")
            assert model.input_shape == (9, 16)
        else:
            assert load_model(out).input_shape == shape


@pytest.mark.e2e
def test_cli_any_size_model_works_downstream(tmp_path: Path) -> None:
    """An imported 64-32-10 net is a model every command takes: exported back to ONNX it
    reads as the same numbers."""
    needs("safetensors")
    out = tmp_path / "d.npz"
    run_import(str(FIXTURES / DIGITS8_SAFETENSORS), "--out", str(out), "--classes",
               "zero,one,two,three,four,five,six,seven,eight,nine")
    proc = subprocess.run([sys.executable, "-m", "digitlens", "export", str(out), "--out",
                           str(tmp_path / "d.onnx"), "--json"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    back = read_onnx(tmp_path / "d.onnx").model
    first = load_model(out)
    assert back.class_names == first.class_names and back.class_names[2] == "two"
    x = np.load(FIXTURES / SHAPES_REFERENCE)["digits8_x"]
    # the same parameters bit for bit and the same float32 code on the same rows: equal on
    # any CPU; 1e-6 is slack
    assert np.abs(back.trace(x).probabilities - first.trace(x).probabilities).max() <= 1e-6


# --- dl.load --------------------------------------------------------------------------------

def test_dl_load_reads_every_import_format(tmp_path: Path) -> None:
    needs("torch")
    needs("safetensors")
    stored = np.load(FIXTURES / SHAPES_REFERENCE)
    pt = dl.load(FIXTURES / SYMBOLS_PT, activation="tanh", classes="bar,column,diagonal",
                 input_shape="9x16")
    assert pt.model.class_names == ("bar", "column", "diagonal")
    assert pt.model.input_shape == (9, 16) and not pt.is_folder and pt.history == []
    # PyTorch's stored float32 pass and ours: within the forward bound of each other
    assert_within(pt.mlp.trace(stored["symbols12_x"]).probabilities, stored["symbols12"],
                  forward_bounds(pt.model, stored["symbols12_x"])[1][-1], "symbols12")
    names = tmp_path / "c.txt"
    names.write_text("\n".join(f"d{i}" for i in range(10)))
    st = dl.load(FIXTURES / DIGITS8_SAFETENSORS, classes=f"@{names}", input_shape=(8, 8))
    onnx = dl.load(FIXTURES / DIGITS8_ONNX, classes=[f"d{i}" for i in range(10)])
    for run in (st, onnx):
        assert run.mlp.sizes == (64, 32, 10) and run.mlp.class_names[9] == "d9"
        assert_within(run.mlp.trace(stored["digits8_x"]).probabilities, stored["digits8"],
                      forward_bounds(run.model, stored["digits8_x"])[1][-1], "digits8")
    pth = tmp_path / "w.pth"
    pth.write_bytes((FIXTURES / PT_MODEL).read_bytes())
    assert dl.load(pth, activation="tanh", output="sigmoid").mlp.activations == (
        "tanh", "sigmoid")
    assert dl.load(FIXTURES / ONNX_MODEL).mlp.sizes == (784, 32, 16, 10)  # external data
    assert dl.load(FIXTURES / SAFETENSORS_MODEL).model.input_shape == (28, 28)


def test_dl_load_errors_are_typed(tmp_path: Path, trained_run: Path) -> None:
    needs("safetensors")
    with pytest.raises(ParameterError, match="activation only applies to state_dict files"):
        dl.load(FIXTURES / KERAS_MODEL, activation="tanh")
    with pytest.raises(ParameterError, match="'activation' parameter must be one of"):
        dl.load(FIXTURES / SAFETENSORS_MODEL, activation="gelu")
    with pytest.raises(ParameterError, match="input_shape"):
        dl.load(FIXTURES / SAFETENSORS_MODEL, input_shape=(28, 28, 1))
    with pytest.raises(ParameterError, match="apply to a model file being imported"):
        dl.load(trained_run, classes="a,b")
    with pytest.raises(ModelError, match="3 class names given for 10 outputs"):
        dl.load(FIXTURES / DIGITS8_ONNX, classes=["a", "b", "c"])
    with pytest.raises(ModelError, match="differs from the 8x8 image"):
        dl.load(FIXTURES / DIGITS8_ONNX, input_shape="4x16")
    missing = tmp_path / "m"
    missing.mkdir()
    (missing / DIGITS8_ONNX).write_bytes((FIXTURES / DIGITS8_ONNX).read_bytes())
    with pytest.raises(ModelError, match="is missing"):
        dl.load(missing / DIGITS8_ONNX)
    (tmp_path / "w.ckpt").write_bytes(b"x")
    with pytest.raises(dl.NotARunError, match=r"\.safetensors"):
        dl.load(tmp_path / "w.ckpt")
    # a digitlens model file takes names too (they are labels), and keeps its numbers
    renamed = dl.load(trained_run / "model.npz", classes=[f"c{i}" for i in range(10)])
    assert renamed.model.class_names[0] == "c0"
    assert np.array_equal(renamed.model.params, load_model(trained_run).params)


@pytest.mark.parametrize(("layout", "input_shape", "flatten"), [
    ("torch", (64,), "Flatten"), ("plain", (64,), "Flatten"), ("matmul", (64,), "Flatten"),
    ("transpose", (64,), "Flatten"), ("torch", (1, 8, 8), "Flatten"),
    ("matmul", (8, 8), "Flatten"), ("matmul", (8, 8), "Reshape")])
def test_onnx_layouts_of_any_size(layout: str, input_shape: tuple[int, ...],
                                  flatten: str) -> None:
    """Hand-built graphs of 64 inputs and 5 classes in each layout an exporter writes (Keras:
    MatMul + Add, its Flatten a Reshape to [-1, 64]), against the float64 forward pass of the
    same maths."""
    from export_onnx_graphs import mlp_model, numpy_forward, random_layers
    from onnx import numpy_helper

    from digitlens.export.onnx_import import read_onnx_bytes

    layers = random_layers((64, 12, 5))
    proto = mlp_model(layers, layout=layout, input_shape=input_shape, flatten=flatten)
    for init in proto.graph.initializer:
        if init.name == "flat_shape":  # the helper writes MNIST's [-1, 784]
            init.CopyFrom(numpy_helper.from_array(np.array([-1, 64], np.int64), "flat_shape"))
    got = read_onnx_bytes(proto.SerializeToString(), "any.onnx")
    assert got.model.sizes == (64, 12, 5) and got.model.input_shape == (8, 8)
    assert got.read["input_shape"] == (None if input_shape == (64,) else [8, 8])
    assert got.model.class_names == ("0", "1", "2", "3", "4")
    x = np.random.default_rng(0).uniform(0, 1, (7, 64)).astype(np.float32)
    expected = numpy_forward(layers, x, "Relu", "Softmax")  # float64
    assert_within(got.model.trace(x).probabilities, expected,
                  forward_bounds(got.model, x)[1][-1], "float64 oracle")
