"""Regenerate tests/export/fixtures/torch-*.onnx with PyTorch's own ONNX exporter.

torch is a development tool only (``pip install torch==2.13.0``, CPU); the files it writes are
committed so the import tests need nothing but onnxruntime. Run: ``python
tests/export/make_torch_fixtures.py``. test_onnx_torch.py re-runs it when torch is installed.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def networks() -> dict[str, tuple[Any, tuple[int, ...]]]:
    """name -> (torch module in eval mode, example input shape)."""
    import torch
    from torch import nn

    class ReshapeTanh(nn.Module):
        """x.reshape(-1, 784), a Linear without bias plus its own bias (MatMul + Add), logits."""

        def __init__(self) -> None:
            super().__init__()
            self.hidden = nn.Linear(784, 24, bias=False)
            self.hidden_bias = nn.Parameter(torch.randn(24) * 0.1)
            self.out = nn.Linear(24, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.tanh(self.hidden(x.reshape(-1, 784)) + self.hidden_bias)
            return self.out(h)

    torch.manual_seed(7)
    return {
        "torch-flatten-relu-logsoftmax": (nn.Sequential(
            nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
            nn.Linear(16, 10), nn.LogSoftmax(dim=1)), (1, 1, 28, 28)),
        "torch-flat-sigmoid-softmax": (nn.Sequential(
            nn.Linear(784, 20), nn.Sigmoid(), nn.Linear(20, 10), nn.Softmax(dim=-1)), (1, 784)),
        "torch-reshape-tanh-logits": (ReshapeTanh(), (1, 1, 28, 28)),
        "torch-conv": (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 26 * 26, 10)),
                       (1, 1, 28, 28)),
        "torch-dropout-training": (nn.Sequential(
            nn.Flatten(), nn.Linear(784, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 10)),
            (1, 28, 28)),
    }


def export_all(out: Path = FIXTURES) -> list[Path]:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (net, shape) in networks().items():
        training = name.endswith("-training")
        net.train(training)  # type: ignore[attr-defined]
        path = out / f"{name}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net, (torch.rand(*shape),), str(path), dynamo=False, opset_version=17,
                input_names=["image"], output_names=["scores"],
                dynamic_axes={"image": {0: "batch"}, "scores": {0: "batch"}},
                training=(torch.onnx.TrainingMode.TRAINING if training
                          else torch.onnx.TrainingMode.EVAL),
                do_constant_folding=not training)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in export_all(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES):
        print(p, p.stat().st_size)
