"""Accuracy, per-class accuracy, confusion matrix, misclassified examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.nn.mlp import MLP


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray,
                     n_classes: int = 10) -> np.ndarray:
    """``cm[true, predicted]`` counts."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (labels.astype(np.int64), predictions.astype(np.int64)), 1)
    return cm


@dataclass
class Evaluation:
    accuracy: float
    per_class: list[float]
    confusion: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray

    def misclassified(self, labels: np.ndarray) -> np.ndarray:
        """Indices of wrong predictions, most confident mistakes first."""
        wrong = np.flatnonzero(self.predictions != labels)
        conf = self.probabilities[wrong, self.predictions[wrong]]
        return wrong[np.argsort(-conf, kind="stable")]

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "per_class_accuracy": self.per_class,
                "confusion_matrix": self.confusion.tolist(), "n": int(self.confusion.sum())}


def evaluate_model(model: MLP, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Evaluate on uint8 images (n, 28, 28) or float inputs (n, 784)."""
    probs = model.predict_proba(images)
    pred = np.argmax(probs, axis=1)
    n_classes = model.sizes[-1]
    cm = confusion_matrix(labels, pred, n_classes)
    totals = cm.sum(axis=1)
    per_class = [float(cm[c, c] / totals[c]) if totals[c] else 0.0 for c in range(n_classes)]
    return Evaluation(float(np.mean(pred == labels)), per_class, cm, pred, probs)
