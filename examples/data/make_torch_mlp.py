"""Train a small PyTorch MLP (784-128-10, ReLU, logits) on MNIST digits and export it to ONNX.

Used by the bring-your-own-model notebook when PyTorch is installed (``pip install
torch==2.13.0``); ``python examples/data/make_torch_mlp.py`` rewrites the committed
``torch-mlp.onnx`` from the embedded sample, for the notebook without PyTorch.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def train_and_export(ds: Any, out: Path, epochs: int = 8, seed: int = 0) -> Path:
    """Train on ``ds`` (a digitlens Dataset) with Adam and write ``out`` (ONNX, opset 17)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    x = torch.tensor(ds.train_images.reshape(-1, 784), dtype=torch.float32) / 255
    y = torch.tensor(ds.train_labels, dtype=torch.int64)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    net.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, and still works
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (torch.zeros(1, 784),), str(out), opset_version=17,
                          input_names=["pixels"], output_names=["logits"], dynamo=False)
    return out


if __name__ == "__main__":
    from digitlens.data.sources import load_dataset
    here = Path(__file__).with_name("torch-mlp.onnx")
    print(train_and_export(load_dataset("mnist-sample"), here))
