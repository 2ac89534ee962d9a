"""The model files people have: PyTorch's dynamo ONNX (external data), state_dicts (.pt,
.safetensors) and Keras-layout ONNX, checked against torch's own probabilities."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from make_import_fixtures import (
    FLATTEN_MODEL,
    KERAS_MODEL,
    ONNX_MODEL,
    PICKLED_MODULE,
    PT_MODEL,
    REFERENCE,
    SAFETENSORS_MODEL,
    SYMBOLS_PT,
    digit_inputs,
)

from digitlens.cli import main
from digitlens.errors import ModelError
from digitlens.export.onnx_format import import_onnx
from digitlens.export.state_dict import import_state_dict
from digitlens.nn.mlp import MLP
from fuzzing import mutate, npz_members, zip_members
from support import U32, assert_within, dense_bound, forward_bounds

FIXTURES = Path(__file__).parent / "fixtures"


def needs(module: str) -> Any:
    """An optional development module (torch, safetensors, onnxscript: the ``dev`` extra):
    skip without it, but fail in CI (DIGITLENS_REQUIRE_E2E)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail(f"{module} is required in CI (pip install -e '.[dev]')")
        pytest.skip(f"{module} not installed")


CASES = [(ONNX_MODEL, [], "relu"), (FLATTEN_MODEL, [], "sigmoid"), (KERAS_MODEL, [], "relu"),
         (SAFETENSORS_MODEL, [], "relu"), (PT_MODEL, ["--activation", "tanh"], "tanh")]


def load(path: Path, flags: list[str]) -> MLP:
    if path.suffix == ".onnx":
        return import_onnx(path)[0]
    return import_state_dict(path, activation=flags[1] if flags else None).model


def assert_matches(model: MLP, reference: np.ndarray) -> None:
    x = model.as_input(digit_inputs())
    probs = model.trace(x).probabilities
    assert probs.shape == (1000, 10)
    # the reference is PyTorch's float32 pass (stored by the fixture script, on some CPU):
    # both within the forward bound of each other, whatever order each summed in
    bound = forward_bounds(model, x)[1][-1]
    assert_within(probs, reference, bound, "against PyTorch")
    top2 = np.sort(reference, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 2 * bound.max(axis=1)  # not within the bound of a tie
    assert (probs.argmax(1) == reference.argmax(1))[decided].all()


@pytest.mark.parametrize(("name", "flags", "ref"), CASES)
def test_fixture_matches_torch_reference(name: str, flags: list[str], ref: str) -> None:
    if name.endswith((".pt", ".safetensors")):
        needs("torch" if name.endswith(".pt") else "safetensors")
    reference = np.load(FIXTURES / REFERENCE)[ref]
    assert_matches(load(FIXTURES / name, flags), reference)


def test_live_torch_matches(tmp_path: Path) -> None:
    """Re-export with the installed torch and compare with its live outputs."""
    needs("torch")
    needs("safetensors")
    needs("onnxscript")
    from make_import_fixtures import export_all

    export_all(tmp_path, shapes=False)  # the other sizes: test_import_shapes
    reference = np.load(tmp_path / REFERENCE)
    assert onnx.load(str(tmp_path / ONNX_MODEL), load_external_data=False).ir_version <= 10
    for name, flags, ref in CASES:
        assert_matches(load(tmp_path / name, flags), reference[ref])


@pytest.mark.e2e
def test_cli_imports_each_format_and_says_what_it_assumed(tmp_path: Path) -> None:
    for name, flags, _ in CASES:
        out = tmp_path / f"{name}.npz"
        proc = subprocess.run([sys.executable, "-m", "digitlens", "import", str(FIXTURES / name),
                               "--out", str(out), "--json", *flags],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        assert res["sizes"][0] == 784 and res["sizes"][-1] == 10 and out.is_file()
        if name.endswith((".pt", ".safetensors")):
            assert res["assumed"]["output"] == "softmax"
            assert ("activation" in res["assumed"]) == (not flags)
            assert res["read"]["layers"] == ["0", "2", "4"][:len(res["sizes"]) - 1]
        if name == ONNX_MODEL:
            assert res["read"]["external_data"] == [f"{ONNX_MODEL}.data"]
            assert res["read"]["opset"] == 20 and res["read"]["ir_version"] == 10


# --- bad input ------------------------------------------------------------------------------

def dynamo_copy(folder: Path, **fields: str) -> Path:
    """The dynamo fixture and its data file copied to ``folder``, with the first external
    initializer's fields replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    proto = onnx.load(str(FIXTURES / ONNX_MODEL), load_external_data=False)
    shutil.copy(FIXTURES / f"{ONNX_MODEL}.data", folder / f"{ONNX_MODEL}.data")
    tensor = next(t for t in proto.graph.initializer if t.external_data)
    for entry in tensor.external_data:
        if entry.key in fields:
            entry.value = fields.pop(entry.key)
    for key, value in fields.items():
        tensor.external_data.add(key=key, value=value)
    path = folder / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


def safetensors_file(path: Path, tensors: dict[str, np.ndarray]) -> Path:
    from safetensors.numpy import save_file
    save_file(tensors, str(path))
    return path


def good_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"0.weight": rng.normal(size=(16, 784)).astype(np.float32) * 0.05,
            "0.bias": np.zeros(16, np.float32),
            "2.weight": rng.normal(size=(10, 16)).astype(np.float32),
            "2.bias": np.zeros(10, np.float32)}


class Custom:
    """A class of the test's own, pickled into a .pt (the restricted unpickler must refuse it)."""

    def __init__(self) -> None:
        self.scale = 2.0


def pt_file(path: Path, obj: object) -> Path:
    import torch
    torch.save(obj, path)
    return path


def raw_safetensors(path: Path, header: bytes, body: bytes = b"",
                    length: int | None = None) -> Path:
    """A safetensors file written byte by byte (the library would refuse to write these)."""
    path.write_bytes((len(header) if length is None else length).to_bytes(8, "little")
                     + header + body)
    return path


def bad_files(tmp: Path) -> list[tuple[Path, list[str], str]]:
    """(file, flags, expected message): each must fail as one line, exit 1, nothing written."""
    needs("safetensors")
    outside = tmp / "outside.data"
    shutil.copy(FIXTURES / f"{ONNX_MODEL}.data", outside)
    link_dir = tmp / "link"
    linked = dynamo_copy(link_dir, location="escape.data")
    os.symlink(outside, link_dir / "escape.data")
    truncated = dynamo_copy(tmp / "short")
    (tmp / "short" / f"{ONNX_MODEL}.data").write_bytes(b"\0" * 100)
    missing = dynamo_copy(tmp / "missing")
    (tmp / "missing" / f"{ONNX_MODEL}.data").unlink()
    opset = onnx.load(str(FIXTURES / KERAS_MODEL))
    opset.opset_import[0].version = 11
    (tmp / "opset11.onnx").write_bytes(opset.SerializeToString())
    opset.opset_import[0].version, opset.ir_version = 18, 11
    (tmp / "ir11.onnx").write_bytes(opset.SerializeToString())
    shutil.copy(FIXTURES / PT_MODEL, tmp / "weights.bin")
    t = good_tensors()
    torch = needs("torch")
    tt = {k: torch.from_numpy(v) for k, v in t.items()}
    latin = tmp / "latin1.txt"
    latin.write_bytes("chiffre zéro\n".encode("latin-1"))
    tiny = tmp / "tiny.safetensors"
    tiny.write_bytes(b"\1\0")
    one = json.dumps({"0.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                      "0.bias": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})
    files: list[tuple[Path, str]] = [
        (dynamo_copy(tmp / "abs", location=str(outside)), "leaves the model's folder"),
        (dynamo_copy(tmp / "dots", location="../outside.data"), "leaves the model's folder"),
        (linked, "link out of the model's folder"),
        (dynamo_copy(tmp / "long", length="999999"), "needs 100352"),
        (dynamo_copy(tmp / "small", length="4"), "needs 100352"),
        (dynamo_copy(tmp / "far", offset="1000000"), "fewer than the"),
        (dynamo_copy(tmp / "nan", offset="x"), "non-integer offset"),
        (truncated, "fewer than the"),
        (missing, "is missing"),
        (tmp / "opset11.onnx", "opset 11"),
        (tmp / "ir11.onnx", "IR version 11"),
        (tmp / "weights.bin", "a PyTorch file (torch.save); name it .pt"),
        (FIXTURES / PICKLED_MODULE, "refused: it needs to unpickle"),
        (safetensors_file(tmp / "bn.safetensors", {**t, "1.running_mean": np.zeros(16,
                                                                                   np.float32)}),
         "layer '1' is a BatchNorm layer"),
        (safetensors_file(tmp / "int.safetensors", {**t, "2.bias": np.zeros(10, np.int32)}),
         "'2.bias' holds I32 values"),
        (safetensors_file(tmp / "chain.safetensors", {**t, "2.weight": t["2.weight"][:, :15]}),
         "reads 15 values but the layer before it gives 16"),
        (safetensors_file(tmp / "inf.safetensors", {**t, "2.bias": np.full(10, np.inf,
                                                                            np.float32)}),
         "NaN or infinity"),
        (pt_file(tmp / "custom.pt", {**tt, "scale": Custom()}),
         "needs to unpickle test_import_models.Custom"),
        (pt_file(tmp / "module.pt", torch.nn.Sequential(torch.nn.Linear(784, 10))),
         "needs to unpickle torch.nn.modules.container.Sequential"),
        (pt_file(tmp / "bf16.pt", {**tt, "0.bias": tt["0.bias"].bfloat16()}),
         "holds torch.bfloat16"),
        (pt_file(tmp / "list.pt", [tt["0.weight"]]), "holds a list, not a state_dict"),
        (pt_file(tmp / "int.pt", {**tt, "epochs": 3}), "entry 'epochs' is a int, not a tensor"),
        (safetensors_file(tmp / "i8.safetensors", {**t, "0.bias": np.zeros(16, np.int8)}),
         "'0.bias' holds I8 values"),
        (raw_safetensors(tmp / "bf16.safetensors", json.dumps(
            {"0.weight": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}).encode(),
            b"\0" * 8), "'0.weight' holds BF16 values"),
        (raw_safetensors(tmp / "overlap.safetensors", one.encode(), b"\0" * 12),
         "invalid offset for tensor `0.bias`"),
        (raw_safetensors(tmp / "long.safetensors", b"{}", length=1 << 40),
         "its header claims 1099511627776 bytes"),
        (raw_safetensors(tmp / "short.safetensors", b"{}", length=1), "not valid JSON"),
        (raw_safetensors(tmp / "huge.safetensors", b"{" + b" " * (1 << 24) + b"}"),
         "digitlens reads headers up to 16777216"),
        (raw_safetensors(tmp / "deep.safetensors", b'{"a":' * 100 + b"1" + b"}" * 100),
         "nested deeper than 3 levels"),
        (raw_safetensors(tmp / "list.safetensors", b"[1, 2]"), "not a table of tensors"),
        (tiny, "shorter than the 8-byte header length"),
    ]
    return [(path, [], message) for path, message in files] + [
        (FIXTURES / SAFETENSORS_MODEL, ["--input-shape", "27x27"],
         "--input-shape 27x27 is 729 pixels but the first layer reads 784"),
        (FIXTURES / KERAS_MODEL, ["--input-shape", "7x100"],
         "700 pixels but the first layer reads 784"),
        (FIXTURES / FLATTEN_MODEL, ["--input-shape", "1x784"],
         "differs from the 28x28 image the graph's input declares"),
        (FIXTURES / PT_MODEL, ["--classes", "a,b"], "2 class names given for 10 outputs"),
        (FIXTURES / SAFETENSORS_MODEL, ["--classes", f"@{tmp / 'none.txt'}"],
         "class names " + str(tmp / "none.txt") + ": cannot read"),
        (FIXTURES / SAFETENSORS_MODEL, ["--classes", f"@{latin}"], "not UTF-8 text"),
        (FIXTURES / ONNX_MODEL, ["--classes", ",".join("abcdefghijk")],
         "11 class names given for 10 outputs"),
    ]


def test_bad_files_fail_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    needs("torch")
    for path, flags, message in bad_files(tmp_path):
        out = tmp_path / "never.npz"
        code = main(["import", str(path), "--out", str(out), *flags])
        _, err = capsys.readouterr()
        assert code == 1, path
        assert message in err, (path, err)
        assert err.count("\n") == 1 and "Traceback" not in err
        assert not out.exists()


@pytest.mark.e2e
def test_cli_process_refuses_bad_files(tmp_path: Path) -> None:
    """A few rows of the table through a real ``digitlens import`` process: exit 1, one line
    on stderr, no traceback, and no --out file."""
    needs("torch")
    picked = ("link out of the model's folder", "refused: it needs to unpickle",
              "'0.weight' holds BF16 values", "2 class names given for 10 outputs")
    rows = [row for row in bad_files(tmp_path) if row[2] in picked]
    assert len(rows) == len(picked)
    for path, flags, message in rows:
        out = tmp_path / "never.npz"
        proc = subprocess.run([sys.executable, "-m", "digitlens", "import", str(path), "--out",
                               str(out), *flags], capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 1, proc.stderr
        assert message in proc.stderr and proc.stderr.count("\n") == 1
        assert "Traceback" not in proc.stderr and not out.exists()


def test_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    torch = needs("torch")

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    torch.save({"0.weight": torch.zeros(10, 784), "x": Boom()}, tmp_path / "evil.pt")
    with pytest.raises(ModelError, match=r"needs to unpickle posix.system.*weights_only=True"):
        import_state_dict(tmp_path / "evil.pt")
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(("opset", "ir"), [(13, 7), (17, 8), (21, 10)])
def test_opsets_13_to_21_read_alike(opset: int, ir: int, tmp_path: Path) -> None:
    proto = onnx.load(str(FIXTURES / KERAS_MODEL))
    proto.opset_import[0].version, proto.ir_version = opset, ir
    onnx.checker.check_model(proto)
    (tmp_path / "m.onnx").write_bytes(proto.SerializeToString())
    assert_matches(import_onnx(tmp_path / "m.onnx")[0], np.load(FIXTURES / REFERENCE)["relu"])


def test_onnx_flags_are_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(FIXTURES / KERAS_MODEL), "--out", str(tmp_path / "m.npz"),
                 "--activation", "tanh"]) == 2
    assert "--activation only applies to state_dict files" in capsys.readouterr().err
    for flag, value, message in (("--classes", "a,,b", "non-empty names"),
                                 ("--classes", "a,a", "a given twice"),
                                 ("--classes", "x" * 65, "1 to 64 printable characters"),
                                 ("--classes", "a,b\x1bc", "1 to 64 printable characters"),
                                 ("--input-shape", "8by8", "HEIGHTxWIDTH"),
                                 ("--input-shape", "0x784", "at least 1")):
        assert main(["import", str(FIXTURES / PT_MODEL), "--out", str(tmp_path / "m.npz"),
                     flag, value]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not (tmp_path / "m.npz").exists()


@pytest.mark.e2e
def test_class_names_reach_the_model_file(tmp_path: Path) -> None:
    needs("safetensors")
    names = ",".join(f"sym{i}" for i in range(10))
    out = tmp_path / "m.npz"
    proc = subprocess.run([sys.executable, "-m", "digitlens", "import",
                           str(FIXTURES / SAFETENSORS_MODEL), "--out", str(out), "--classes",
                           names, "--json"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "class_names" not in res["assumed"] and "activation" in res["assumed"]
    from digitlens.nn.io import load_model
    assert load_model(out).meta["class_names"] == names.split(",")


def test_named_layers_are_ordered_naturally(tmp_path: Path) -> None:
    needs("safetensors")
    rng = np.random.default_rng(1)
    sizes = [784, 12, 11, 10]
    tensors = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        tensors[f"fc{[2, 9, 10][i]}.weight"] = rng.normal(size=(b, a)).astype(np.float16)
    got = import_state_dict(safetensors_file(tmp_path / "n.safetensors", tensors),
                            "sigmoid", "sigmoid", [f"c{i}" for i in range(10)])
    assert got.read["layers"] == ["fc2", "fc9", "fc10"]
    assert got.model.sizes == (784, 12, 11, 10) and got.assumed == {
        "input": got.assumed["input"], "layer_order": got.assumed["layer_order"],
        "input_shape": [28, 28]}
    assert got.given == {"activation": "sigmoid", "output": "sigmoid",
                         "class_names": [f"c{i}" for i in range(10)]}
    assert got.model.activations == ("sigmoid", "sigmoid", "sigmoid")
    assert got.model.meta["class_names"][3] == "c3"
    assert len(got.notes) == 3  # no biases: zeros, each said
    w = tensors["fc2.weight"].astype(np.float32)
    x = digit_inputs()[:5]
    first = 1 / (1 + np.exp(-(x @ w.T)))
    # two orders of the same float32 sums (sigmoid is 1/4-Lipschitz), plus the exp's ulps
    m = got.model
    bound = dense_bound(m.as_input(x), m.weights[0], m.biases[0]) + 4 * U32
    assert np.all(np.abs(m.trace(m.as_input(x)).activations[1] - first) <= bound)


# --- fuzzing --------------------------------------------------------------------------------

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def loads_or_refuses(load: Any, *args: Any) -> None:
    """A fuzzed file either loads as a usable model or is one ``ModelError`` line; any other
    exception fails, and so does a case still running after 10 s (SIGALRM)."""
    def hang(_signum: int, _frame: Any) -> None:
        raise AssertionError("a fuzzed file took over 10 s")
    old = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, 10)
    message = None
    try:
        got = load(*args)
    except ModelError as exc:
        message = str(exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if message is not None:
        assert "\n" not in message
        return
    model = got.model
    n = model.sizes[0]
    p = model.trace(np.linspace(0, 1, 2 * n, dtype=np.float32).reshape(2, n)).probabilities
    # normalised in float32: n_out terms ≤ 1 sum to 1 within ~(n_out + 4)·u, and 1e-4 allows
    # ~1,600 classes (a fuzzed model is not a test of the bound, only of being usable)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(1), 1, atol=1e-4)


ENTRY = st.fixed_dictionaries({"dtype": st.sampled_from(["F32", "F16", "F64", "I64", "I8", "BF16",
                                                         "BOOL", "Q", ""]),
                               "shape": st.lists(st.integers(-2, 1000), max_size=3),
                               "data_offsets": st.lists(st.integers(-5, 1 << 40), max_size=3)})
SMALL = st.fixed_dictionaries({"dtype": st.just("F32"),
                               "shape": st.lists(st.integers(0, 3), min_size=1, max_size=2),
                               "data_offsets": st.lists(st.integers(0, 40), min_size=2,
                                                        max_size=2)})
JSONISH = st.recursive(st.none() | st.integers() | st.text(max_size=5),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=40)


@FUZZ
@given(header=st.one_of(
    st.binary(max_size=200),
    st.dictionaries(st.sampled_from(["0.weight", "0.bias", "__metadata__", "x", "2.weight"]),
                    st.one_of(ENTRY, SMALL, JSONISH)),
    JSONISH),
    body=st.binary(max_size=64),
    length=st.one_of(st.none(), st.integers(0, 1 << 64 - 1)),
    nested=st.integers(0, 300))
def test_fuzzed_safetensors_header(tmp_path: Path, header: Any, body: bytes,
                                   length: int | None, nested: int) -> None:
    """Headers of any bytes, tables of odd entries (overlapping or short offsets, other dtypes,
    negative shapes), any JSON, nested JSON and lying header lengths."""
    needs("safetensors")
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    if nested and not isinstance(header, bytes):
        head = b'{"a":' * nested + head + b"}" * nested
    path = tmp_path / "f.safetensors"
    size = len(head) if length is None else length
    path.write_bytes(size.to_bytes(8, "little") + head + body)
    loads_or_refuses(import_state_dict, path)


@FUZZ
@given(seed=st.integers(0, 1 << 32), member=st.booleans())
def test_fuzzed_pt_zip(tmp_path: Path, seed: int, member: bool) -> None:
    """A real ``.pt`` (a zip of data.pkl and storages) damaged in its bytes, or one member
    damaged and the zip rebuilt: torch's weights-only reader and the checks after it answer
    every case with a model or one ModelError."""
    needs("torch")
    rng = np.random.default_rng(seed)
    good = (FIXTURES / SYMBOLS_PT).read_bytes()
    if member:
        members = npz_members(good)
        key = sorted(members)[int(rng.integers(0, len(members)))]
        data = zip_members({**members, key: mutate(members[key], rng)})
    else:
        data = mutate(good, rng)
    path = tmp_path / "f.pt"
    path.write_bytes(data)
    loads_or_refuses(import_state_dict, path, "tanh")


@FUZZ
@given(location=st.one_of(st.just(f"{ONNX_MODEL}.data"), st.text(max_size=30)),
       offset=st.one_of(st.integers(-10, 1 << 62).map(str), st.text(max_size=8)),
       length=st.one_of(st.integers(-10, 1 << 62).map(str), st.just("100352")))
def test_fuzzed_external_data_fields(tmp_path: Path, location: str, offset: str,
                                     length: str) -> None:
    path = dynamo_copy(tmp_path / "fz", location=location, offset=offset, length=length)
    error: str | None = None
    try:
        model = import_onnx(path)[0]
    except ModelError as exc:
        error = str(exc)
    if error is not None:
        assert "\n" not in error
    else:  # only the exporter's own fields can succeed
        assert location == f"{ONNX_MODEL}.data" and length == "100352"
        assert model.sizes == (784, 32, 16, 10)
