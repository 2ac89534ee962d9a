"""Convolutional networks from ONNX: PyTorch's two exporters and digitlens' own export read
back to the same numbers, and graphs digitlens cannot read refused in one line naming the
node."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.errors import ModelError
from digitlens.export.onnx_cnn import cnn_to_onnx
from digitlens.export.onnx_cnn_import import read_cnn_onnx, read_cnn_onnx_bytes
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN, LENET5, Conv, Dense, Pool
from digitlens.nn.io import load_network
from support import torch_or_skip


def lenet(torch: Any) -> Any:
    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.MaxPool2d(2), nn.ReLU(),  # pool, then ReLU
                         nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10), nn.LogSoftmax(1)).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Path]]:
    torch = torch_or_skip()
    net, x = lenet(torch), torch.rand(2, 1, 28, 28)
    folder = tmp_path_factory.mktemp("cnn-onnx")
    paths = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dynamo in (False, True):
            path = folder / f"lenet-{'dynamo' if dynamo else 'torchscript'}.onnx"
            torch.onnx.export(net, (x,), str(path), dynamo=dynamo, input_names=["x"],
                              **({} if dynamo else {"dynamic_axes": {"x": {0: "batch"}}}))
            paths["dynamo" if dynamo else "torchscript"] = path
    return net, paths


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_pytorchs_exports_read_to_its_numbers(exported: tuple[Any, dict[str, Path]],
                                              exporter: str, sample: Any) -> None:
    torch = torch_or_skip()
    net, paths = exported
    model = read_cnn_onnx(paths[exporter])
    assert [type(layer) for layer in model.layers] == [Conv, Pool, Conv, Pool, Dense, Dense,
                                                       Dense]
    assert [getattr(layer, "activation", None) for layer in model.layers] == [
        "relu", None, "relu", None, "tanh", "relu", "softmax"]
    x = (sample.test_images[:50] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    with torch.no_grad():
        theirs = torch.exp(net(torch.from_numpy(x))).numpy()
    ours = K.predict_proba(model, x)
    # float32 both, summed in other orders: probabilities agree to float32 rounding carried
    # through five layers (about 1e-6 of these); a wrong layout moves them by more than 1e-2
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_import_then_evaluate_from_the_command_line(exported: tuple[Any, dict[str, Path]],
                                                    tmp_path: Path) -> None:
    out = tmp_path / "lenet.npz"
    cmd = subprocess.run([sys.executable, "-m", "digitlens", "import",
                          str(exported[1]["dynamo"]), "--out", str(out), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert cmd.returncode == 0, cmd.stderr
    assert json.loads(cmd.stdout.strip().splitlines()[-1])["convolutional"] is True
    assert isinstance(load_network(out), CNN)
    ev = subprocess.run([sys.executable, "-m", "digitlens", "evaluate",
                         str(exported[1]["torchscript"]), "--dataset", "mnist-sample", "--json"],
                        capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout.strip().splitlines()[-1])["n"] == 1000


def test_digitlens_export_reads_back_bit_for_bit() -> None:
    layers = (Conv(4, 3, stride=2, pad=1, activation="tanh"), Pool(2, "avg"), Conv(5, 2),
              Dense(7, "sigmoid"), Dense(3, "softmax"))
    model = CNN.create((1, 12, 12), layers, seed=4)
    back = read_cnn_onnx_bytes(cnn_to_onnx(model).SerializeToString(), "mine.onnx")
    assert back.layers == model.layers and back.input_shape == model.input_shape
    assert np.array_equal(back.params.view(np.uint32), model.params.view(np.uint32))


def edited(change: Any) -> bytes:
    """digitlens' LeNet-5 export with ``change(proto)`` applied."""
    proto = cnn_to_onnx(CNN.create((1, 28, 28), LENET5))
    change(proto)
    return proto.SerializeToString()


def set_attr(op: str, key: str, value: Any) -> Any:
    from onnx import helper

    def change(proto: Any) -> None:
        node = next(n for n in proto.graph.node if n.op_type == op)
        kept = [a for a in node.attribute if a.name != key]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute(key, value)])
    return change


def add_batchnorm(proto: Any) -> None:
    relu = next(n for n in proto.graph.node if n.op_type == "Relu")
    relu.op_type, relu.name = "BatchNormalization", "bn1"


@pytest.mark.parametrize(("change", "says"), [
    (set_attr("Conv", "group", 2), "grouped or dilated convolutions"),
    (set_attr("Conv", "dilations", [2, 2]), "grouped or dilated convolutions"),
    (set_attr("Conv", "auto_pad", "SAME_UPPER"), "auto_pad SAME_UPPER"),
    (set_attr("Conv", "pads", [1, 2, 1, 2]), "pads every side alike"),
    (set_attr("MaxPool", "strides", [1, 1]), "stride k, no padding"),
    (set_attr("MaxPool", "ceil_mode", 1), "floor mode"),
    (add_batchnorm, "node bn1 (BatchNormalization) is not supported"),
])
def test_graphs_it_cannot_read_are_refused_naming_the_node(change: Any, says: str) -> None:
    pytest.importorskip("onnx")
    with pytest.raises(ModelError) as err:
        read_cnn_onnx_bytes(edited(change), "bad.onnx")
    assert says in str(err.value) and str(err.value).startswith("bad.onnx: ")
    assert "\n" not in str(err.value)


class Named:
    """LeNet-5 with named layers, as PyTorch's tutorials write it."""

    @staticmethod
    def build(torch: Any) -> Any:
        nn = torch.nn

        class LeNet(nn.Module):  # type: ignore[name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.conv1, self.conv2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
                self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), \
                    nn.Linear(84, 10)

            def forward(self, x: Any) -> Any:
                f = nn.functional
                x = f.max_pool2d(f.relu(self.conv1(x)), 2)
                x = f.max_pool2d(f.relu(self.conv2(x)), 2).flatten(1)
                return self.fc3(f.relu(self.fc2(f.relu(self.fc1(x)))))

        torch.manual_seed(3)
        return LeNet().eval()


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_a_state_dict_with_the_architecture_given(suffix: str, tmp_path: Path,
                                                  sample: Any) -> None:
    torch = torch_or_skip()
    net = Named.build(torch)
    path = tmp_path / f"lenet{suffix}"
    if suffix == ".pt":
        torch.save(net.state_dict(), path)
    else:
        from safetensors.torch import save_file
        save_file(net.state_dict(), str(path))
    out = tmp_path / "lenet.npz"
    cmd = subprocess.run([sys.executable, "-m", "digitlens", "import", str(path), "--arch",
                          "lenet5", "--out", str(out), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert cmd.returncode == 0, cmd.stderr
    model = load_network(out)
    assert isinstance(model, CNN) and model.layers == LENET5
    x = (sample.test_images[:40] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    with torch.no_grad():
        theirs = torch.softmax(net(torch.from_numpy(x)), 1).numpy()
    np.testing.assert_allclose(K.predict_proba(model, x), theirs, atol=1e-5)  # as above
    wrong = subprocess.run([sys.executable, "-m", "digitlens", "import", str(path), "--arch",
                            "lenet5", "--input-shape", "20x20", "--out", str(tmp_path / "w.npz")],
                           capture_output=True, text=True, timeout=300)
    assert wrong.returncode != 0 and "do not fit lenet5 on 20×20 images" in wrong.stderr
    assert "\n" not in wrong.stderr.strip()


def test_a_convolution_without_activation_reads_as_identity() -> None:
    """The MLP importer refuses this fixture at its Conv node; the CNN importer reads it."""
    fixture = Path(__file__).with_name("fixtures") / "torch-conv.onnx"
    model = read_cnn_onnx(fixture)
    assert model.layers == (Conv(2, 3, activation="identity"), Dense(10, "softmax"))


def test_kernels_reading_channels_the_layer_before_does_not_make_are_refused() -> None:
    """Conv 2 reads 12 channels after a layer of 6, and the first dense layer is 20 inputs
    short: the totals match, so only a per-layer check can refuse the file."""
    from onnx import numpy_helper
    model = CNN.create((1, 28, 28), LENET5)

    def change(proto: Any) -> None:
        for t in proto.graph.initializer:
            if t.name == "layer3.weight":      # conv 2: (16, 6, 5, 5) -> (16, 12, 5, 5)
                t.CopyFrom(numpy_helper.from_array(np.zeros((16, 12, 5, 5), np.float32), t.name))
            if t.name == "layer5.weight":      # dense 1: (400, 120) -> (380, 120)
                t.CopyFrom(numpy_helper.from_array(np.zeros((380, 120), np.float32), t.name))
    proto = cnn_to_onnx(model)
    change(proto)
    with pytest.raises(ModelError) as err:
        read_cnn_onnx_bytes(proto.SerializeToString(), "mixed.onnx")
    assert "node layer3.conv (Conv): weights [16, 12, 5, 5]" in str(err.value)
    assert "make [16, 6, 5, 5]" in str(err.value) and "\n" not in str(err.value)
