"""A convolutional run as the explorer serves it: its summary in the run list and its network
for the page's engine (``static/js/convnet.js``), layer records and float32 parameters packed.

The page computes a convolutional network's feature maps itself, as it computes an MLP's
values; the server's other views (evidence, knock-out accuracy, maps, circuits, features…) read
fully connected networks only and refuse such a run in one line (``FOR_DENSE``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitlens.data.sources import Dataset
from digitlens.nn.cnn import CNN
from digitlens.nn.cnn_io import page_network, page_summary
from digitlens.nn.run import MODEL_FILE, Run
from digitlens.web.encode import Numbers

FOR_DENSE = ("a convolutional network; this view is for fully connected networks (the explorer "
             "shows its feature maps instead)")


@dataclass
class LoadedCNN:
    """One convolutional run in memory (the registry's ``LoadedRun`` holds an MLP's)."""

    name: str
    path: Path
    model: CNN
    mtime: float
    dataset: Dataset
    checked: float = 0.0
    accuracies: dict[Any, Any] = field(default_factory=dict)  # knock-out -> accuracy

    def model_file(self) -> Path:
        return self.path / MODEL_FILE if self.path.is_dir() else self.path

    def summary(self) -> dict[str, Any]:
        """What the run list says of it (``cnn_io.page_summary``), with its training history."""
        m = self.model
        history = Run(self.path).history() if self.path.is_dir() else []
        last = history[-1] if history else m.meta.get("history_tail") or {}
        return {"name": self.name, **page_summary(m), "dataset": self.dataset.name,
                "class_names": list(self.dataset.class_names), "epochs": len(history),
                "test_accuracy": last.get("test_accuracy"),
                "preset": m.meta.get("training", {}).get("preset"),
                "n_test": int(len(self.dataset.test_labels)),
                "history": [{k: h.get(k) for k in ("epoch", "test_accuracy", "loss", "test_loss")}
                            for h in history]}


def network(model: CNN, class_names: list[str]) -> dict[str, Any]:
    """The page's copy of the network, every parameter as float32 ``Numbers`` (sent packed,
    unrounded)."""
    return page_network(model, class_names, Numbers)
