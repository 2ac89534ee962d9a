"""Every hostile file of the attack report, one row each: a clean one-line DigitlensError naming
the file and the problem (or, for metadata that tried to change the architecture, the model the
arrays and layers describe). In-process for the loaders, subprocess CLI for devices and FIFOs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from fuzzing import npz_members, zip_members

sys.path.insert(0, str(Path(__file__).parent / "export"))
from export_onnx_graphs import mlp_model, random_layers  # noqa: E402

from digitlens.errors import ModelError  # noqa: E402
from digitlens.export.json_format import import_json_bytes, to_json_text
from digitlens.export.onnx_import import import_onnx_bytes
from digitlens.fileio import WriteError, atomic_write_text
from digitlens.nn.io import load_model, load_model_bytes, model_bytes
from digitlens.nn.mlp import MLP
from digitlens.nn.run import Run

MODEL = MLP.create((784, 6, 10), seed=0, meta={"dataset": {"name": "mnist-sample"},
                                               "class_names": list("0123456789")})
GOOD = model_bytes(MODEL)


def with_member(name: str, raw: bytes, data: bytes = GOOD) -> bytes:
    return zip_members({**npz_members(data), f"{name}.npy": raw})


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def with_meta(**changes: object) -> bytes:
    meta = json.loads(str(np.load(io.BytesIO(npz_members(GOOD)["meta.npy"]))))
    meta.update(changes)
    return with_member("meta", npy(np.array(json.dumps(meta))))


def header(text: str, body: bytes = b"") -> bytes:
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode() + body


def lying_sizes(data: bytes, member: str, delta: int) -> bytes:
    """A stored archive whose directory entry for ``member`` declares ``delta`` more (or fewer)
    uncompressed bytes than the member holds."""
    data = zip_members(npz_members(data))
    entry = data.index(b"PK\x01\x02")
    while data[entry + 46: entry + 46 + len(member)] != member.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    size = int.from_bytes(data[entry + 24: entry + 28], "little") + delta
    return data[:entry + 24] + size.to_bytes(4, "little") + data[entry + 28:]


def model_of(sizes: tuple[int, ...], weights64: float | None = None) -> bytes:
    """A model file of any sizes, written by hand (MLP refuses nothing about sizes)."""
    m = MLP.create(sizes, seed=1)
    data = model_bytes(m)
    if weights64 is not None:
        w = np.full((sizes[0], sizes[1]), weights64, np.float64)
        data = with_member("W0", npy(w), data)
    return data


NPZ_CASES = [
    ("2^40-element header", with_member("W0", header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }")), "declares"),
    ("member not an array", zip_members({**npz_members(GOOD), "W0.npy": b"hello"}),
     "not a .npy array"),
    ("pickled object member", with_member("W0", npy(np.array([None, 1], dtype=object))),
     "dtype object"),
    ("corrupt header (tokenize)", with_member("W0", header("{'descr': '<f4\n, (((")),
     "corrupt .npy header"),
    ("header of a call", with_member("W0", header("__import__('os').system('true')")),
     "corrupt .npy header"),
    ("5,000-digit metadata number", with_meta(training={"lr": int("9" * 4000)}),
     "a number of 4000 digits"),
    ("deeply nested metadata", with_member("meta", npy(np.array(
        '{"format": "digitlens-mlp", "x": ' + "[" * 5000 + "]" * 5000 + "}"))), "nested"),
    ("dataset as a string", with_meta(dataset="mnist"), "metadata.dataset must be an object"),
    ("class_names as a string", with_meta(class_names="0123456789"),
     "metadata.class_names must be a list"),
    ("11 class names", with_meta(class_names=list("0123456789x")), "11 class names"),
    ("history_tail NaN", with_member("meta", npy(np.array(json.dumps(
        {**json.loads(str(np.load(io.BytesIO(npz_members(GOOD)["meta.npy"])))),
         "history_tail": {"test_accuracy": float("nan")}})))), "NaN is not a number"),
    ("input_shape that is not the inputs", with_meta(input_shape=[10, 10]),
     "input_shape \\[10, 10\\] is not a height×width of the model's 784 inputs"),
    ("input_shape of three numbers", with_meta(input_shape=[28, 28, 1]), "input_shape"),
    ("input_shape of a string", with_meta(input_shape="28x28"),
     "metadata.input_shape must be a list"),
    ("float64 1e300 weights", model_of((784, 10), 1e300), "too large for float32"),
    ("weights that overflow when summed", model_of((784, 10), 1e36), "beyond what float32"),
    ("member declaring fewer bytes than it holds", lying_sizes(GOOD, "W0.npy", -100),
     "not a readable model file"),
    ("member declaring more bytes than it holds", lying_sizes(GOOD, "W0.npy", +100),
     "not a readable model file|holds .* but declares"),
    ("descr ',f4' (a SyntaxError inside NumPy)", with_member("W0", header(
        "{'descr': ',f4', 'fortran_order': False, 'shape': (4704,), }", b"\0" * 18816)),
     "unreadable dtype ',f4'"),
    ("a single-class model", model_of((784, 1)), "at least 2 classes"),
    ("a class name with an escape sequence", with_meta(class_names=[*"012345678", "\x1b[2J"]),
     "class name 10 .* printable"),
    ("a class name of 65 characters", with_meta(class_names=[*"012345678", "x" * 65]),
     "1 to 64 printable characters"),
    ("a class name with a bidi override", with_meta(class_names=[*"012345678", "\u202e9"]),
     "printable"),
    ("a class name that is a number", with_meta(class_names=[*"012345678", 9]),
     "class_names\\[9\\] must be a str|not text"),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in NPZ_CASES],
                         ids=[c[0] for c in NPZ_CASES])
def test_damaged_model_files(data: bytes, message: str) -> None:
    with pytest.raises(ModelError, match=message) as err:
        load_model_bytes(data, "m.npz")
    assert str(err.value).startswith("m.npz")


def test_zip_member_lying_about_its_size_is_caught() -> None:
    """A member whose local header says fewer bytes than it inflates to, and a bomb."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in npz_members(GOOD).items():
            zf.writestr(k, v if k != "W0.npy" else header(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (50000000,), }",
                b"\0" * 200_000_000))
    bomb = buf.getvalue()
    assert len(bomb) < 1_000_000  # under 1 MB on disk, 200 MB inflated
    tracemalloc.start()
    with pytest.raises(ModelError, match="declares .* more than"):
        load_model_bytes(bomb, "bomb.npz")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20e6, f"{peak / 1e6:.0f} MB allocated for a refused bomb"


def test_metadata_never_overrides_the_arrays() -> None:
    """JSON provenance and ONNX metadata saying sigmoid/quadratic/[4, 10] change nothing."""
    doc = json.loads(to_json_text(MODEL))
    doc["provenance"].update(activations=["sigmoid", "sigmoid"], cost="quadratic",
                             sizes=[4, 10])
    model = import_json_bytes(json.dumps(doc).encode(), "p.json")
    back = load_model_bytes(model_bytes(model), "p.npz")
    for m in (model, back):
        assert m.activations == MODEL.activations and m.cost == "cross_entropy"
        assert m.sizes == (784, 6, 10)
    proto = mlp_model(random_layers((784, 5, 10)))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "digitlens", json.dumps({"activations": ["sigmoid", "sigmoid"],
                                                      "cost": "quadratic", "sizes": [4, 10]})
    onnx_model, _ = import_onnx_bytes(proto.SerializeToString(), "p.onnx")
    back = load_model_bytes(model_bytes(onnx_model), "p.npz")
    for m in (onnx_model, back):
        assert m.activations == ("relu", "softmax") and m.cost == "cross_entropy"
        assert m.sizes == (784, 5, 10)


def onnx_with(change) -> bytes:  # type: ignore[no-untyped-def]
    proto = mlp_model(random_layers((784, 5, 10)), layout="transpose")
    change(proto)
    return proto.SerializeToString()


def node(proto: onnx.ModelProto, op: str) -> onnx.NodeProto:
    return next(n for n in proto.graph.node if n.op_type == op)


def set_attr(proto: onnx.ModelProto, op: str, attr: onnx.AttributeProto) -> None:
    n = node(proto, op)
    keep = [a for a in n.attribute if a.name != attr.name]
    del n.attribute[:]
    n.attribute.extend([*keep, attr])


def plain_with(change) -> bytes:  # type: ignore[no-untyped-def]
    proto = mlp_model(random_layers((784, 5, 10)), layout="plain")
    change(proto)
    return proto.SerializeToString()


def string_weights(p: onnx.ModelProto) -> None:
    p.graph.initializer[0].CopyFrom(helper.make_tensor(
        "w0", TensorProto.STRING, [2], [b"a", b"b"]))  # type: ignore[list-item]


def huge_dims(p: onnx.ModelProto) -> None:
    p.graph.initializer[0].dims[0] = 2**62


def unknown_type(p: onnx.ModelProto) -> None:
    p.graph.initializer[0].data_type = 99 % 17 + 30  # outside the enum's known values


def big_weights(p: onnx.ModelProto) -> None:
    w = numpy_helper.to_array(p.graph.initializer[0]).astype(np.float64)
    w[0, 0] = 1e300
    p.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, p.graph.initializer[0].name))


def int_weights(p: onnx.ModelProto) -> None:
    t = p.graph.initializer[0]
    t.CopyFrom(numpy_helper.from_array(np.ones(tuple(t.dims), np.int64), t.name))


def int_bias(p: onnx.ModelProto) -> None:
    t = next(t for t in p.graph.initializer if len(t.dims) == 1)
    t.CopyFrom(numpy_helper.from_array(np.zeros(tuple(t.dims), np.int64), t.name))


ONNX_CASES = [
    ("Transpose with a bad perm", onnx_with(lambda p: set_attr(
        p, "Transpose", helper.make_attribute("perm", [0, 5]))), "not a permutation"),
    ("node without outputs", onnx_with(lambda p: node(p, "MatMul").ClearField("output")),
     "has no output"),
    ("string weights", onnx_with(string_weights), "not numbers|corrupt"),
    ("unknown data type", onnx_with(unknown_type), "corrupt|not numbers"),
    ("huge dimensions", onnx_with(huge_dims), "claims"),
    ("alpha=inf", plain_with(lambda p: set_attr(p, "Gemm", helper.make_attribute(
        "alpha", float("inf")))), "attribute alpha is inf"),
    ("beta=nan", plain_with(lambda p: set_attr(p, "Gemm", helper.make_attribute(
        "beta", float("nan")))), "attribute beta is nan"),
    ("attribute of undefined type", plain_with(lambda p: set_attr(
        p, "Gemm", onnx.AttributeProto(name="alpha", type=onnx.AttributeProto.UNDEFINED))),
     "unreadable attribute|alpha must be"),
    ("alpha as a list", plain_with(lambda p: set_attr(p, "Gemm", helper.make_attribute(
        "alpha", [1.0, 2.0]))), "alpha must be"),
    ("1e300 weights (float64)", plain_with(big_weights), "too large for float32"),
    ("Transpose with no input", onnx_with(lambda p: p.graph.node.append(
        helper.make_node("Transpose", [], ["t"]))), "Transpose.* is not supported"),
    ("int64 weights", onnx_with(int_weights), "int64 values; digitlens imports float weights"),
    ("int64 bias", plain_with(int_bias), "bias are int64 values"),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in ONNX_CASES],
                         ids=[c[0] for c in ONNX_CASES])
def test_hostile_onnx(data: bytes, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        import_onnx_bytes(data, "h.onnx")


def json_doc(**changes: object) -> bytes:
    doc = json.loads(to_json_text(MODEL))
    doc.update(changes)
    return json.dumps(doc).encode()


def json_layer(i: int, **changes: object) -> bytes:
    doc = json.loads(to_json_text(MODEL))
    doc["layers"][i].update(changes)
    return json.dumps(doc).encode()


JSON_CASES = [
    ("huge integer size", json_doc(sizes=[784, 10**400, 10]), "a number of 401 digits"),
    ("1e400", b'{"format": "digitlens-network", "version": 1e400}', "too large"),
    ("provenance class_names as a string", json_doc(provenance={"class_names": "0123"}),
     "provenance.class_names must be a list"),
    ("NaN", json_doc()[:-1] + b', "x": NaN}', "NaN is not a number"),
    ("sizes [4, 10] for 784→6→10 layers", json_doc(sizes=[4, 10]), "layers listed"),
    ("input shape 10×10 for 784 inputs", json_doc(input={"shape": [10, 10]}),
     "input_shape \\[10, 10\\] is not a height×width of the model's 784 inputs"),
    ("11 output classes", json_doc(output={"classes": list("0123456789x")},
                                    provenance={}),
     "11 class names for 10 outputs"),
    ("classes that disagree", json_doc(output={"classes": list("abcdefghij")},
                                       provenance={"class_names": list("0123456789")}),
     "output.classes and provenance.class_names differ"),
    ("weights given as strings", json_layer(0, weights=[["0.5"] * 784] * 6),
     "layers\\[0\\].weights must be a 6×784 array of JSON numbers, not of str"),
    ("a weight given as a boolean", json_layer(1, weights=[[True] + [0.0] * 5] * 10),
     "layers\\[1\\].weights .* not of bool values"),
    ("biases given as booleans", json_layer(0, biases=[False] * 6),
     "layers\\[0\\].biases .* not of bool values"),
    ("a single class", to_json_text(MLP.create((784, 1), seed=0)).encode(),
     "at least 2 classes"),
    ("a class name with a newline", json_doc(output={"classes": [*"012345678", "9\n<b>"]},
                                              provenance={}), "printable"),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in JSON_CASES],
                         ids=[c[0] for c in JSON_CASES])
def test_hostile_json(data: bytes, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        import_json_bytes(data, "h.json")


RUN_CASES = [
    ("config.json", '{"layers": "784,10"}', "layers must be a list"),
    ("config.json", '{"layers": [784, 10], "lr": "fast"}', "lr must be a number"),
    ("config.json", '{"layers": [784, 10], "surprise": 1}', "unreadable run config"),
    ("history.json", '{"epochs": [{"epoch": 1, "test_accuracy": NaN}]}', "NaN is not a number"),
    ("history.json", '{"epochs": "many"}', "epochs must be a list"),
    ("history.json", '{"epochs": [{"epoch": "one"}]}', r"epochs\[0\].epoch must be an integer"),
]


@pytest.mark.parametrize(("file", "text", "message"), RUN_CASES)
def test_damaged_run_files(trained_run: Path, tmp_path: Path, file: str, text: str,
                           message: str) -> None:
    import shutil
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / file).write_text(text)
    with pytest.raises(ModelError, match=message):
        Run(run).config() if file == "config.json" else Run(run).history()


def test_json_reader_is_linear_in_memory(tmp_path: Path) -> None:
    """A history.json that is one 8 MB string: the bytes, the text and the parsed string, one
    copy each (the old nesting check's regex took ~120 bytes per character)."""
    run = tmp_path / "run"
    run.mkdir()
    size = 8_000_000
    (run / "history.json").write_text(json.dumps({"epochs": [{"epoch": 1, "x": "\\\\\"é" * (
        size // 4)}]}))
    tracemalloc.start()
    Run(run).history()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * (run / "history.json").stat().st_size + 8e6, f"{peak / 1e6:.0f} MB"


def test_damaged_checkpoint_and_snapshot(trained_run: Path, tmp_path: Path) -> None:
    import shutil
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    members = npz_members((run / "checkpoint.npz").read_bytes())
    (run / "checkpoint.npz").write_bytes(zip_members({**members, "rng.npy": npy(np.array("[1"))}))
    with pytest.raises(ModelError, match="corrupt checkpoint"):
        Run(run).read_checkpoint()
    (run / "checkpoint.npz").write_bytes(zip_members({**members, "threads.npy": npy(np.array(
        "two"))}))
    with pytest.raises(ModelError, match="corrupt checkpoint"):
        Run(run).recorded_threads()
    (run / "snapshots" / "epoch-oops.npz").write_bytes(b"x")
    assert 0 in Run(run).snapshot_epochs()  # odd names are ignored, not a crash
    (run / "snapshots" / "epoch-0000.npz").write_bytes(GOOD[:100])
    with pytest.raises(ModelError, match="epoch-0000.npz"):
        Run(run).load_snapshot(0)


# --- devices, FIFOs and sizes that lie -------------------------------------------------------

def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digitlens", *args], capture_output=True,
                          text=True, timeout=timeout)


def one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.e2e
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_not_read(device: str, tmp_path: Path) -> None:
    one_line_error(cli("import", device, "--out", str(tmp_path / "m.npz"), timeout=20),
                   device, "not a regular file")
    one_line_error(cli("evaluate", device, timeout=20), device, "not a regular file")


@pytest.mark.e2e
def test_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "net.onnx"
    os.mkfifo(fifo)
    one_line_error(cli("import", str(fifo), "--out", str(tmp_path / "m.npz"), timeout=20),
                   "a FIFO")
    plain = tmp_path / "net"
    os.mkfifo(plain)  # no suffix: import peeks at the content first
    one_line_error(cli("import", str(plain), "--out", str(tmp_path / "m.npz"), timeout=20),
                   "a FIFO")


def test_sparse_idx_is_refused_before_reading(tmp_path: Path) -> None:
    from digitlens.data.idx import read_idx
    from digitlens.errors import DataError
    big = tmp_path / "train-images-idx3-ubyte"
    with big.open("wb") as fh:
        fh.truncate(5 << 30)  # 5 GiB, sparse: no disk used
    tracemalloc.start()
    with pytest.raises(DataError, match="larger than"):
        read_idx(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6  # read with the bound (64 MiB + 1), never the whole file


# --- writes ----------------------------------------------------------------------------------

def test_writes_refuse_non_regular_targets(tmp_path: Path) -> None:
    fifo = tmp_path / "out.npz"
    os.mkfifo(fifo)
    with pytest.raises(WriteError, match="a FIFO, not a regular file"):
        atomic_write_text(fifo, "x")
    assert fifo.is_fifo()  # not replaced
    with pytest.raises(WriteError, match="is a folder"):
        atomic_write_text(tmp_path, "x")
    (tmp_path / "file").write_text("keep")
    with pytest.raises(WriteError, match="cannot write"):
        atomic_write_text(tmp_path / "file" / "under.json", "x")
    assert (tmp_path / "file").read_text() == "keep"
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | 0o020000, os.makedev(1, 3))  # a character device, like /dev/null
    except (PermissionError, OSError):
        return
    with pytest.raises(WriteError, match="a character device"):
        atomic_write_text(device, "x")
    assert device.is_char_device()


@pytest.mark.parametrize("errno_name", ["ENOSPC", "EROFS", "EACCES"])
def test_failed_writes_name_the_path_and_keep_the_old_file(tmp_path: Path, errno_name: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import errno
    target = tmp_path / "model.npz"
    target.write_text("previous")
    real = os.fsync

    def failing(_fd: int) -> None:
        raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)))
    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(WriteError, match=f"{target}: cannot write"):
        atomic_write_text(target, "new")
    monkeypatch.setattr(os, "fsync", real)
    assert target.read_text() == "previous"
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.e2e
def test_cli_writes_disk_full_and_odd_targets(trained_run: Path, tmp_path: Path) -> None:
    """A real full disk (the file size limit stands in: the kernel answers EFBIG), an existing
    folder, a path under a file, and train --out at a regular file."""
    out = tmp_path / "m.json"
    out.write_text("previous")
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
            "from digitlens.cli import main; sys.exit(main())")
    r = subprocess.run([sys.executable, "-c", code, "export", str(trained_run), "--out",
                        str(out)], capture_output=True, text=True, timeout=60)
    one_line_error(r, str(out), "cannot write")
    assert out.read_text() == "previous"
    one_line_error(cli("export", str(trained_run), "--out", str(tmp_path), "--format", "json"),
                   "is a folder")
    one_line_error(cli("export", str(trained_run), "--out", str(out / "x.json")),
                   "cannot write")
    one_line_error(cli("train", "--preset", "s1-single-layer", "--dataset", "mnist-sample",
                       "--epochs", "1", "--out", str(out)), "is not a folder")


# --- CLI images ------------------------------------------------------------------------------

@pytest.mark.e2e
def test_cli_images_use_the_server_allowlist_and_limit(trained_run: Path, tmp_path: Path
                                                       ) -> None:
    from PIL import Image
    eps = tmp_path / "digit.png"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nshowpage\n")
    one_line_error(cli("predict", str(trained_run), str(eps)), "not a readable PNG")
    big = tmp_path / "big.png"
    Image.new("L", (12000, 12000)).save(big, optimize=False)
    t0 = __import__("time").perf_counter()
    one_line_error(cli("predict", str(trained_run), str(big)), "12000×12000", "4096×4096")
    assert __import__("time").perf_counter() - t0 < 15
    tiny = tmp_path / "d.gif"
    Image.new("L", (28, 28)).save(tiny, "GIF")
    r = cli("predict", str(trained_run), str(tiny), "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout.strip().splitlines()[-1])
    assert "NaN" not in r.stdout and answer


def test_concurrent_loads_of_one_file_agree(tmp_path: Path) -> None:
    """The loader holds no shared state: threads loading at once all get the same model."""
    path = tmp_path / "m.npz"
    path.write_bytes(GOOD)
    out: list[MLP] = []
    threads = [threading.Thread(target=lambda: out.append(load_model(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 8 and all(np.array_equal(m.params, MODEL.params) for m in out)


def test_videos_and_reports_refuse_odd_targets(tmp_path: Path) -> None:
    """The video writer's own temp-and-rename and the report folder follow the same rules."""
    from digitlens.fileio import make_folder
    from digitlens.render.animate import temp_beside
    fifo = tmp_path / "evolution.gif"
    os.mkfifo(fifo)
    with pytest.raises(WriteError, match="a FIFO"), temp_beside(fifo):
        pass
    assert fifo.is_fifo()
    (tmp_path / "file").write_text("keep")
    with pytest.raises(WriteError, match="cannot make this folder"):
        make_folder(tmp_path / "file" / "report")
    with pytest.raises(WriteError, match="not a folder"):
        make_folder(tmp_path / "file")


# --- the Python API: any bad argument is a DigitlensError -----------------------------------

API_LOADS = [("None", None, "'path' parameter"), ("an int", 3, "'path' parameter"),
             ("bytes", b"runs/x", "'path' parameter"), ("a list", ["runs/x"], "'path' parameter"),
             ("a 5,000-character path", "x" * 5000, "File name too long"),
             ("a NUL byte", "runs/\0x", "NUL byte")]


@pytest.mark.parametrize(("value", "message"), [c[1:] for c in API_LOADS],
                         ids=[c[0] for c in API_LOADS])
def test_api_load_of_anything(value: object, message: str) -> None:
    import digitlens as dl
    from digitlens.errors import DigitlensError
    with pytest.raises(DigitlensError, match=message):
        dl.load(value)  # type: ignore[arg-type]


API_IMAGES = [("strings", np.array(["a"] * 784), "real numbers"),
              ("digits as strings", ["0.5"] * 784, "real numbers"),
              ("complex numbers", np.zeros((28, 28), complex), "real numbers"),
              ("a complex list", [1j] * 784, "real numbers"),
              ("booleans", np.ones((28, 28), bool), "real numbers"),
              ("dates", np.zeros(784, "datetime64[s]"), "real numbers"),
              ("ragged rows", [[0.0, 1.0], [0.5]], "rows of equal length")]


@pytest.mark.parametrize(("image", "message"), [c[1:] for c in API_IMAGES],
                         ids=[c[0] for c in API_IMAGES])
def test_api_predict_of_anything(trained_run: Path, image: object, message: str) -> None:
    import digitlens as dl
    from digitlens.errors import ParameterError
    with pytest.raises(ParameterError, match=message):
        dl.predict(trained_run, image)


def test_api_keywords_of_the_wrong_type(trained_run: Path) -> None:
    import digitlens as dl
    from digitlens.errors import ParameterError
    model = trained_run / "model.npz"
    for kwargs, message in (({"dataset": 3}, "'dataset'"), ({"classes": 3}, "'classes'"),
                            ({"classes": [0, 1]}, "'classes'"),
                            ({"input_shape": 3}, "'input_shape'"),
                            ({"input_shape": (True, 784)}, "'input_shape'")):
        with pytest.raises(ParameterError, match=message):
            dl.load(model, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'raw'"):
        dl.predict(trained_run, np.zeros((28, 28)), raw="yes")  # type: ignore[arg-type]
    assert dl.predict(trained_run, np.zeros((28, 28), np.uint8)).digit is None  # still fine
