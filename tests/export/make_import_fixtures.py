"""Regenerate tests/export/fixtures/import-* with the real exporters, and torch's own outputs.

A development tool (``pip install torch==2.13.0 safetensors onnxscript``, CPU): PyTorch's dynamo
ONNX exporter (weights in a ``.data`` file beside the model), ``torch.save(state_dict)``,
``safetensors.torch.save_file``, and a Keras-layout ONNX file (MatMul + Add, weights
(n_in, n_out), no Transpose) built with onnx.helper because Keras (with a TensorFlow or JAX
backend) is not installed here. ``import-reference.npz`` holds torch's probabilities on the
1,000 embedded test digits so the tests compare without torch. Run:
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


def sequential(sizes: tuple[int, ...], act: Any, seed: int) -> Any:
    """A Sequential of Linear + act, trained briefly on the embedded sample (so predictions
    are not near-ties)."""
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
    ds = load_sample()
    x = torch.tensor(ds.train_images.reshape(-1, 784) / 255.0, dtype=torch.float32)
    y = torch.tensor(ds.train_labels, dtype=torch.long)
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


def keras_layout(net: Any, path: Path) -> None:
    """The graph Keras 3's ONNX export writes for Dense layers: MatMul with (n_in, n_out)
    weights, Add of the bias, Relu, Softmax, a batch-dynamic input."""
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
        act = "Relu" if i < len(linears) - 1 else "Softmax"
        nodes.append(helper.make_node(act, [f"add_{i}"], [f"dense_{i}_out"]))
        current = f"dense_{i}_out"
    graph = helper.make_graph(
        nodes, "sequential", [helper.make_tensor_value_info("keras_tensor", TensorProto.FLOAT,
                                                            ["unk__0", 784])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, ["unk__1", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="tf2onnx")
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def export_all(out: Path = FIXTURES) -> list[Path]:
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
        for stale in (path, out / f"{path.name}.data"):
            stale.unlink(missing_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.from_numpy(x[:1].reshape(shape)),), str(path),
                              dynamo=True, input_names=["image"], output_names=["scores"],
                              dynamic_shapes=({0: "batch"},), external_data=True)
        strip_stack_traces(path)
    torch.save(tanh.state_dict(), out / PT_MODEL)
    save_file(relu.state_dict(), str(out / SAFETENSORS_MODEL))
    keras_layout(relu, out / KERAS_MODEL)
    torch.save(tanh, out / PICKLED_MODULE)
    np.savez(out / REFERENCE, relu=probabilities(relu, x), tanh=probabilities(tanh, x),
             sigmoid=probabilities(sigmoid, x))
    return [onnx_path, out / f"{ONNX_MODEL}.data", out / FLATTEN_MODEL,
            out / f"{FLATTEN_MODEL}.data", out / PT_MODEL, out / SAFETENSORS_MODEL,
            out / KERAS_MODEL, out / PICKLED_MODULE, out / REFERENCE]


def strip_stack_traces(path: Path) -> None:
    """Drop the exporter's per-node metadata (Python stack traces naming the machine's
    folders); the graph, the weights and their external data file stay as exported."""
    import onnx
    model = onnx.load(str(path), load_external_data=False)
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, str(path))


if __name__ == "__main__":
    for p in export_all(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES):
        print(p, p.stat().st_size)
