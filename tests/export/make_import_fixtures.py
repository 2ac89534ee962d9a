"""Regenerate tests/export/fixtures/import-* with the real exporters, and torch's own outputs.

A development tool (``pip install torch==2.13.0 safetensors onnxscript``, CPU): PyTorch's dynamo
ONNX exporter (weights in a ``.data`` file beside the model), ``torch.save(state_dict)``,
``safetensors.torch.save_file``, and a Keras-layout ONNX file (MatMul + Add, weights
(n_in, n_out), no Transpose) built with onnx.helper because Keras (with a TensorFlow or JAX
backend) is not installed here. ``import-reference.npz`` holds torch's probabilities on the
1,000 embedded test digits so the tests compare without torch. Networks of other sizes:
64-32-10 on scikit-learn's 8×8 digits (``.safetensors``, and dynamo ONNX reading batch×1×8×8)
and 144-16-3 on 12×12 synthetic symbols (``.pt``, Keras-layout ONNX reading batch×144), with
their inputs and torch's probabilities in ``import-shapes-reference.npz``. Run:
``python tests/export/make_import_fixtures.py [FOLDER]``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"
ONNX_MODEL = "import-dynamo.onnx"  # its weights: import-dynamo.onnx.data
PT_MODEL = "import-tanh.pt"  # hidden tanh (import with --activation tanh)
SAFETENSORS_MODEL = "import-relu.safetensors"
FLATTEN_MODEL = "import-dynamo-flatten.onnx"  # 1×28×28 input, sigmoid, LogSoftmax
KERAS_MODEL = "import-keras.onnx"
PICKLED_MODULE = "import-whole-module.pt"  # torch.save(model): needs pickle beyond tensors
REFERENCE = "import-reference.npz"
DIGITS8_SAFETENSORS = "import-digits8.safetensors"  # 64-32-10 relu, sklearn's 8×8 digits
DIGITS8_ONNX = "import-digits8-dynamo.onnx"  # the same, dynamo, input batch×1×8×8
SYMBOLS_PT = "import-symbols12.pt"  # 144-16-3 tanh (import with --activation tanh)
SYMBOLS_KERAS = "import-keras-symbols12.onnx"  # 144-16-3 tanh, Keras layout, input batch×144
SHAPES_REFERENCE = "import-shapes-reference.npz"


def sequential(sizes: tuple[int, ...], act: Any, seed: int,
               data: tuple[np.ndarray, np.ndarray] | None = None) -> Any:
    """A Sequential of Linear + act, trained briefly on ``data`` (default: the embedded
    sample), so predictions are not near-ties."""
    import torch
    from torch import nn

    from digitlens.data.sources import load_sample

    torch.manual_seed(seed)
    mods: list[Any] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(act())
    net = nn.Sequential(*mods)
    if data is None:
        ds = load_sample()
        data = (ds.train_images.reshape(-1, 784) / 255.0, ds.train_labels)
    x = torch.tensor(data[0], dtype=torch.float32)
    y = torch.tensor(data[1], dtype=torch.long)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net.eval()


def digit_inputs() -> np.ndarray:
    from digitlens.data.sources import load_sample
    return (load_sample().test_images.reshape(-1, 784) / 255.0).astype(np.float32)


def probabilities(net: Any, x: np.ndarray) -> np.ndarray:
    import torch
    with torch.no_grad():
        return torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()


def digits8() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 digits in 0..1: (train x, train y, test x, test y), the last 360
    images as the test set."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return x[:-360], d.target[:-360], x[-360:], d.target[-360:]


def symbols12(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """12×12 images of three symbols (a horizontal bar, a vertical bar, a diagonal) at random
    places with noise: a 3-class problem of another size than MNIST's."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.uniform(0, 0.2, (n, 12, 12)).astype(np.float32)
    for i, k in enumerate(y):
        p = rng.integers(2, 10)
        if k == 0:
            x[i, p, 1:11] = 1
        elif k == 1:
            x[i, 1:11, p] = 1
        else:
            x[i, np.arange(12), (np.arange(12) + p) % 12] = 1
    return x.reshape(n, 144), y


def keras_layout(net: Any, path: Path, act: str = "Relu") -> None:
    """The graph Keras 3's ONNX export writes for Dense layers: MatMul with (n_in, n_out)
    weights, Add of the bias, the activation, Softmax, a batch-dynamic flat input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    linears = [m for m in net if hasattr(m, "weight")]
    nodes, inits, current = [], [], "keras_tensor"
    for i, lin in enumerate(linears):
        w = lin.weight.detach().numpy().T.copy()
        b = lin.bias.detach().numpy()
        inits += [numpy_helper.from_array(w, f"dense_{i}/kernel"),
                  numpy_helper.from_array(b, f"dense_{i}/bias")]
        nodes += [helper.make_node("MatMul", [current, f"dense_{i}/kernel"], [f"mm_{i}"]),
                  helper.make_node("Add", [f"mm_{i}", f"dense_{i}/bias"], [f"add_{i}"])]
        op = act if i < len(linears) - 1 else "Softmax"
        nodes.append(helper.make_node(op, [f"add_{i}"], [f"dense_{i}_out"]))
        current = f"dense_{i}_out"
    graph = helper.make_graph(
        nodes, "sequential", [helper.make_tensor_value_info("keras_tensor", TensorProto.FLOAT,
                                                            ["unk__0", linears[0].in_features])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT,
                                       ["unk__1", linears[-1].out_features])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="tf2onnx")
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def export_all(out: Path = FIXTURES, shapes: bool = True) -> list[Path]:
    """Every fixture (``shapes=False``: only the 784-input ones)."""
    import torch
    from safetensors.torch import save_file
    from torch import nn

    out.mkdir(parents=True, exist_ok=True)
    x = digit_inputs()
    relu = sequential((784, 32, 16, 10), nn.ReLU, 11)
    tanh = sequential((784, 24, 10), nn.Tanh, 12)
    sigmoid = sequential((784, 20, 10), nn.Sigmoid, 13)
    flat = nn.Sequential(nn.Flatten(), *sigmoid, nn.LogSoftmax(dim=1)).eval()
    onnx_path = out / ONNX_MODEL
    for net, path, shape in ((relu, onnx_path, (1, 784)),
                             (flat, out / FLATTEN_MODEL, (1, 1, 28, 28))):
        dynamo_export(net, x[:1].reshape(shape), path)
    torch.save(tanh.state_dict(), out / PT_MODEL)
    save_file(relu.state_dict(), str(out / SAFETENSORS_MODEL))
    keras_layout(relu, out / KERAS_MODEL)
    torch.save(tanh, out / PICKLED_MODULE)
    np.savez(out / REFERENCE, relu=probabilities(relu, x), tanh=probabilities(tanh, x),
             sigmoid=probabilities(sigmoid, x))
    return [onnx_path, out / f"{ONNX_MODEL}.data", out / FLATTEN_MODEL,
            out / f"{FLATTEN_MODEL}.data", out / PT_MODEL, out / SAFETENSORS_MODEL,
            out / KERAS_MODEL, out / PICKLED_MODULE, out / REFERENCE,
            *(export_shapes(out) if shapes else [])]


def dynamo_export(net: Any, example: np.ndarray, path: Path) -> None:
    """``torch.onnx.export(dynamo=True)`` with the weights in ``PATH.data``, batch dynamic."""
    import torch

    for stale in (path, path.parent / f"{path.name}.data"):
        stale.unlink(missing_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.from_numpy(example),), str(path),
                          dynamo=True, input_names=["image"], output_names=["scores"],
                          dynamic_shapes=({0: "batch"},), external_data=True)
    strip_stack_traces(path)


def export_shapes(out: Path = FIXTURES) -> list[Path]:
    """The networks of other sizes: 64-32-10 (8×8 digits) and 144-16-3 (12×12 symbols)."""
    import torch
    from safetensors.torch import save_file
    from torch import nn

    out.mkdir(parents=True, exist_ok=True)
    train_x, train_y, test_x, _ = digits8()
    digits = sequential((64, 32, 10), nn.ReLU, 21, (train_x, train_y))
    save_file(digits.state_dict(), str(out / DIGITS8_SAFETENSORS))
    image = nn.Sequential(nn.Flatten(), *digits).eval()
    dynamo_export(image, test_x[:1].reshape(1, 1, 8, 8), out / DIGITS8_ONNX)
    sym_x, sym_y = symbols12(600, 22)
    symbols = sequential((144, 16, 3), nn.Tanh, 23, (sym_x, sym_y))
    torch.save(symbols.state_dict(), out / SYMBOLS_PT)
    keras_layout(symbols, out / SYMBOLS_KERAS, "Tanh")
    sym_test = symbols12(200, 24)[0]
    np.savez_compressed(out / SHAPES_REFERENCE, digits8_x=test_x,
                        digits8=probabilities(digits, test_x), symbols12_x=sym_test,
                        symbols12=probabilities(symbols, sym_test))
    return [out / DIGITS8_SAFETENSORS, out / DIGITS8_ONNX, out / f"{DIGITS8_ONNX}.data",
            out / SYMBOLS_PT, out / SYMBOLS_KERAS, out / SHAPES_REFERENCE]


def strip_stack_traces(path: Path) -> None:
    """Drop the exporter's per-node metadata (Python stack traces naming the machine's
    folders); the graph, the weights and their external data file stay as exported."""
    import onnx
    model = onnx.load(str(path), load_external_data=False)
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, str(path))


if __name__ == "__main__":
    # --shapes: only the networks of other sizes (leaves the 784-input fixtures as they are)
    make = export_shapes if "--shapes" in sys.argv else export_all
    folder = [a for a in sys.argv[1:] if not a.startswith("--")]
    for p in make(Path(folder[0]) if folder else FIXTURES):
        print(p, p.stat().st_size)
