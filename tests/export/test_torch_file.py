"""PyTorch files read without PyTorch: the same tensors as torch.load(weights_only=True), bit
for bit, and every pickle or storage that is not a plain state_dict refused in one line."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digitlens.errors import ModelError
from digitlens.export.torch_file import load_torch_file
from support import torch_or_skip

FIXTURES = Path(__file__).with_name("fixtures")


def saved(obj: object) -> bytes:
    torch = torch_or_skip()
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


# --- a torch.save zip written by hand, for the files torch itself would never write ---

def s(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def i(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def tup(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def tensor(key: str, numel: int, size: tuple[int, ...], stride: tuple[int, ...],
           offset: int = 0, storage: str = "FloatStorage") -> bytes:
    """The opcodes torch.save writes for one tensor: _rebuild_tensor_v2 of a persistent
    storage."""
    pid = tup(s("storage"), f"ctorch\n{storage}\n".encode(), s(key), s("cpu"), i(numel)) + b"Q"
    return (b"ctorch._utils\n_rebuild_tensor_v2\n"
            + tup(pid, i(offset), tup(*map(i, size)), tup(*map(i, stride)), b"\x89",
                  b"ccollections\nOrderedDict\n)R") + b"R")


def state_dict_pickle(entries: dict[str, bytes]) -> bytes:
    body = b"".join(s(k) + v for k, v in entries.items())
    return b"\x80\x02ccollections\nOrderedDict\n)R(" + body + b"u."


def torch_zip(pkl: bytes, storages: dict[str, bytes], compress: bool = False) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def test_hand_written_file_reads_without_torch() -> None:
    """The format's oracle is the layout itself: a (2, 3) view with strides (1, 2) of six
    floats is their transpose, read back exactly."""
    values = np.arange(6, dtype=np.float32)
    pkl = state_dict_pickle({"0.weight": tensor("0", 6, (2, 3), (1, 2)),
                             "0.bias": tensor("0", 6, (2,), (1,), offset=4)})
    got = load_torch_file(torch_zip(pkl, {"0": values.tobytes()}), "f.pt")
    np.testing.assert_array_equal(got["0.weight"], values.reshape(3, 2).T)
    np.testing.assert_array_equal(got["0.bias"], values[4:])


@pytest.mark.parametrize("fixture", ["import-tanh.pt", "import-symbols12.pt"])
def test_fixtures_equal_torch_load_bit_for_bit(fixture: str) -> None:
    torch = torch_or_skip()
    data = (FIXTURES / fixture).read_bytes()
    ours = load_torch_file(data, fixture)
    theirs = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        want = value.numpy()
        assert ours[key].dtype == want.dtype and ours[key].shape == want.shape
        assert ours[key].tobytes() == want.tobytes()


def test_views_dtypes_and_parameters_equal_torch_load() -> None:
    """Non-contiguous views, offsets into shared storages, float16/float64 and Parameters."""
    torch = torch_or_skip()
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10) / 7
    obj = {"a.weight": base.t(), "a.bias": base[2, 3:9], "b.weight": base[::2, ::3],
           "c.weight": base.double()[1:4], "c.bias": base[0].half(),
           "d.weight": torch.nn.Parameter(base[:2].clone()), "e": base.expand(3, 6, 10)[1]}
    data = saved(obj)
    ours = load_torch_file(data, "views.pt")
    theirs = torch.load(io.BytesIO(data), weights_only=True)
    for key, value in theirs.items():
        want = value.detach().contiguous().numpy()
        assert ours[key].dtype == want.dtype and ours[key].tobytes() == want.tobytes(), key


def test_checkpoint_with_state_dict_inside() -> None:
    torch = torch_or_skip()
    net = torch.nn.Linear(4, 2)
    ours = load_torch_file(saved({"state_dict": net.state_dict()}), "ckpt.pt")
    np.testing.assert_array_equal(ours["weight"], net.weight.detach().numpy())


def refusal(data: bytes) -> str:
    with pytest.raises(ModelError) as info:
        load_torch_file(data, "bad.pt")
    message = str(info.value)
    assert "\n" not in message and message.startswith("bad.pt: ")
    return message


def test_code_and_modules_are_refused_before_anything_runs(tmp_path: Path) -> None:
    torch = torch_or_skip()
    ran = tmp_path / "ran"

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {ran}",))

    assert "needs to unpickle posix.system" in refusal(saved({"0.weight": torch.zeros(2),
                                                              "x": Boom()}))
    assert not ran.exists()
    assert "needs to unpickle torch.nn.modules.container.Sequential" in refusal(
        saved(torch.nn.Sequential(torch.nn.Linear(3, 2))))
    hand = b"\x80\x02cbuiltins\neval\n" + tup(s("1+1")) + b"R."
    assert "needs to unpickle builtins.eval" in refusal(torch_zip(hand, {}))


def test_tensors_that_lie_about_their_storage() -> None:
    raw = np.zeros(12, np.float32).tobytes()

    def one(t: bytes, storages: dict[str, bytes] | None = None, **kw: bool) -> str:
        return refusal(torch_zip(state_dict_pickle({"0.weight": t}),
                                 {"0": raw} if storages is None else storages, **kw))

    assert "reaches element 15 of a storage of 12" in one(tensor("0", 12, (4, 4), (4, 1)))
    assert "reaches element 12" in one(tensor("0", 12, (3, 4), (4, 1), offset=1))
    assert "negative" in one(tensor("0", 12, (3, 4), (-4, 1)))
    assert "holds 48 bytes; 13 float32 values need 52" in one(tensor("0", 13, (12,), (1,)))
    assert "holds 48 bytes; 2 float32 values need 8" in one(tensor("0", 2, (2,), (1,)))
    assert "'7' is not in the file" in one(tensor("7", 12, (12,), (1,)))
    assert "more than" in one(tensor("0", 12, (1 << 30,), (0,)))
    assert "is compressed" in one(tensor("0", 12, (12,), (1,)), compress=True)
    assert "holds torch.int64" in one(tensor("0", 12, (12,), (1,), storage="LongStorage"))
    assert "holds torch.bfloat16" in one(tensor("0", 12, (12,), (1,),
                                                storage="BFloat16Storage"))
    not_storage = b"\x80\x02ccollections\nOrderedDict\n)R(" + s("w") + s("oops") + b"Qu."
    assert "persistent id that is not a storage" in refusal(torch_zip(not_storage, {}))
    build = state_dict_pickle({"0.weight": tensor("0", 12, (12,), (1,))}).replace(
        b"Ru.", b"R}bu.")  # BUILD with state on a tensor: not anything torch.save writes
    assert "not a readable PyTorch state_dict" in refusal(torch_zip(build, {"0": raw}))


def test_not_a_state_dict_or_not_a_torch_zip() -> None:
    torch = torch_or_skip()
    assert "holds a list, not a state_dict" in refusal(saved([torch.zeros(2)]))
    assert "entry 'epochs' is a int, not a tensor" in refusal(saved({"w": torch.zeros(2),
                                                                     "epochs": 3}))
    assert "not a PyTorch zip file" in refusal(b"\x80\x02}q\x00.")
    assert "not a readable PyTorch zip file" in refusal(b"PK\x03\x04broken")
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("other.txt", "hi")
    assert "holds none" in refusal(empty.getvalue())
    truncated = saved({"w": torch.zeros(2)})
    assert "bad.pt: " in refusal(truncated[: len(truncated) // 2])


@pytest.mark.e2e
def test_import_without_torch_installed(tmp_path: Path) -> None:
    """`digitlens import` of a .pt in a process where `import torch` fails, as in an
    environment made without PyTorch: the model matches the fixture read with torch."""
    out = tmp_path / "m.npz"
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('no PyTorch here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(blocker), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-c",
                           "import sys; from digitlens.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", "import",
                           str(FIXTURES / "import-tanh.pt"), "--activation", "tanh",
                           "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run([sys.executable, "-c", "import torch"], env=env,
                           capture_output=True, text=True, check=False)
    assert check.returncode != 0  # the child really had no torch
    from digitlens.nn.io import load_model
    model = load_model(out)
    torch = torch_or_skip()
    sd = torch.load(FIXTURES / "import-tanh.pt", weights_only=True)
    first = next(k for k in sd if k.endswith("weight"))
    np.testing.assert_array_equal(model.weights[0], sd[first].numpy().T)


def test_the_files_people_save(tmp_path: Path) -> None:
    """The tutorials' checkpoint dict, a DataParallel state_dict and a BatchNorm net: the first
    two import (saying what was chosen), the last says which path works."""
    from digitlens.export.state_dict import import_state_dict
    torch = torch_or_skip()
    net = torch.nn.Sequential(torch.nn.Linear(784, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    opt = torch.optim.Adam(net.parameters())
    net(torch.zeros(2, 784)).sum().backward()
    opt.step()  # the optimizer's state holds tensors too: they must not be taken for weights
    torch.save({"epoch": 5, "model_state_dict": net.state_dict(),
                "optimizer_state_dict": opt.state_dict(), "loss": torch.tensor(0.25)},
               tmp_path / "ckpt.pt")
    got = import_state_dict(tmp_path / "ckpt.pt")
    np.testing.assert_array_equal(got.model.weights[1], net[2].weight.detach().numpy().T)
    assert any("'model_state_dict' entry" in n and "epoch" in n for n in got.notes)

    torch.save(torch.nn.DataParallel(net).state_dict(), tmp_path / "dp.pt")
    dp = import_state_dict(tmp_path / "dp.pt")
    np.testing.assert_array_equal(dp.model.weights[0], net[0].weight.detach().numpy().T)
    assert any("'module.' prefix" in n for n in dp.notes)

    bn = torch.nn.Sequential(torch.nn.Linear(784, 16), torch.nn.BatchNorm1d(16),
                             torch.nn.ReLU(), torch.nn.Linear(16, 10))
    torch.save(bn.state_dict(), tmp_path / "bn.pt")
    with pytest.raises(ModelError, match=r"layer '1' is a BatchNorm layer.*dynamo=True"):
        import_state_dict(tmp_path / "bn.pt")
    torch.save({"epoch": 3, "note": "no weights"}, tmp_path / "empty.pt")
    with pytest.raises(ModelError, match=r"entry 'epoch' is a int.*'model_state_dict'"):
        import_state_dict(tmp_path / "empty.pt")
