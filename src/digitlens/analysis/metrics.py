"""Accuracy, per-class accuracy, confusion matrix, misclassified examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.nn.backprop import evaluate
from digitlens.nn.cnn import CNN
from digitlens.nn.cnn_step import evaluate_cnn
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


def evaluate_model(model: MLP | CNN, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """``digitlens.nn.backprop.evaluate`` (or a convolutional network's ``evaluate_cnn``) on
    uint8 images (n, h, w) or float inputs (n, h·w), with the confusion matrix and per-class
    accuracy."""
    if isinstance(model, CNN):
        s, n_classes = evaluate_cnn(model, model.as_input(images), labels), model.n_classes
    else:
        s, n_classes = evaluate(model, model.as_input(images), labels), model.sizes[-1]
    cm = confusion_matrix(labels, s.predictions, n_classes)
    totals = cm.sum(axis=1)
    per_class = [float(cm[c, c] / totals[c]) if totals[c] else 0.0 for c in range(n_classes)]
    return Evaluation(s.accuracy, per_class, cm, s.predictions, s.probabilities)
