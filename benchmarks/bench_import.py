"""Import a 784-512-256-10 PyTorch model from each file format people have, side by side.

One Sequential (trained briefly on the embedded sample) saved as dynamo ONNX with its weights in a
``.data`` file, as legacy (TorchScript) ONNX, as a ``.pt`` state_dict and as ``.safetensors``.
For each: seconds to load it into a digitlens model (in-process: first and best of ``--repeat``;
and the whole ``digitlens import`` command in a fresh process, Python and torch start-up
included), the ratio to the 1 s budget, and the largest probability difference and prediction
agreement with PyTorch's own outputs on the first 1,000 MNIST test digits (the embedded sample's
when MNIST is not cached). Needs torch, onnxscript and safetensors (dev tools).

Usage: python benchmarks/bench_import.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitlens.data.sources import load_dataset, load_sample
from digitlens.export.onnx_format import import_onnx
from digitlens.export.state_dict import import_state_dict
from digitlens.nn.mlp import MLP

BUDGET_S = 1.0
MAX_DP = 1e-5


def torch_model() -> object:
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                        nn.Linear(256, 10))
    ds = load_sample()
    x = torch.tensor(ds.train_images.reshape(-1, 784) / 255.0, dtype=torch.float32)
    y = torch.tensor(ds.train_labels, dtype=torch.long)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(20):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net.eval()


def write_all(net: object, folder: Path) -> dict[str, Path]:
    import torch
    from safetensors.torch import save_file

    onnx_path = folder / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.rand(1, 784),), str(onnx_path), dynamo=True,
                          input_names=["image"], output_names=["logits"],
                          dynamic_shapes=({0: "batch"},), external_data=True)
        torch.onnx.export(net, (torch.rand(1, 784),), str(folder / "legacy.onnx"),
                          dynamo=False, input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}})
    torch.save(net.state_dict(), folder / "net.pt")  # type: ignore[attr-defined]
    save_file(net.state_dict(), str(folder / "net.safetensors"))  # type: ignore[attr-defined]
    return {"onnx (dynamo + .data)": onnx_path, "onnx (legacy)": folder / "legacy.onnx",
            "pt": folder / "net.pt", "safetensors": folder / "net.safetensors"}


def loader(path: Path) -> Callable[[], MLP]:
    if path.suffix == ".onnx":
        return lambda: import_onnx(path)[0]
    return lambda: import_state_dict(path).model


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    net = torch_model()
    ds = load_dataset("mnist", fetch=False)
    x = (ds.test_images[:1000].reshape(-1, 784) / 255.0).astype(np.float32)
    with torch.no_grad():
        ref = torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()  # type: ignore[operator]
    print(f"784-512-256-10, the first 1,000 {ds.name} test digits, budget {BUDGET_S:.1f} s per "
          f"load, max |dp| {MAX_DP:g}")
    print(f"{'format':22} {'bytes':>10} {'first s':>8} {'best s':>8} {'/budget':>8} "
          f"{'CLI s':>7} {'max |dp|':>9} {'same pred':>9}  within")
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in write_all(net, Path(tmp)).items():
            size = sum(p.stat().st_size for p in Path(tmp).glob(path.name + "*"))
            load = loader(path)
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                model = load()
                times.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "digitlens", "import", str(path), "--out",
                            str(Path(tmp) / "m.npz")], check=True, capture_output=True)
            cli = time.perf_counter() - t
            probs = model.trace(model.as_input(x)).probabilities
            dp = float(np.abs(probs - ref).max())
            same = int((probs.argmax(1) == ref.argmax(1)).sum())
            ok = times[0] <= BUDGET_S and dp <= MAX_DP
            failed += [] if ok else [label]
            print(f"{label:22} {size:>10} {times[0]:>8.3f} {min(times):>8.3f} "
                  f"{times[0] / BUDGET_S:>8.2f} {cli:>7.2f} {dp:>9.1e} {same:>9}  "
                  f"{'yes' if ok else 'NO'}")
    print("all formats within the budgets" if not failed else f"over budget: {failed}")


if __name__ == "__main__":
    main()
