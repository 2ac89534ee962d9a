"""Activation fingerprints (S0): which neurons fire for a digit, and how consistently.

S0 saw that every version of a "5" lights up roughly the same subset of neurons. We measure it:
for each class and layer, the mean fingerprint, how well single digits correlate with their own
class's mean (consistency) versus the closest other class's mean, and how often the nearest
class mean names the right digit (so a fingerprint alone can be "read").

A convolutional network's fingerprint is read per channel: a map layer gives one number per
channel (its mean over the map: how much of that feature the digit holds), a dense layer one
per neuron (``channel_profiles``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.errors import bad_param
from digitlens.nn import cnn as K
from digitlens.nn.backprop import accuracy, layer_activations
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP

CHUNK = 1024


def channel_profiles(model: CNN, images: np.ndarray) -> list[np.ndarray]:
    """Every layer's fingerprint of each image: a map layer's channel means (n, channels), a
    dense layer's values (n, neurons), the output last."""
    x = model.as_input(images)
    parts: list[list[np.ndarray]] = [[] for _ in model.layers]
    for i in range(0, len(x), CHUNK):
        for k, a in enumerate(K.forward(model, x[i:i + CHUNK]).outputs[1:]):
            parts[k].append(a.mean(axis=(1, 2)) if a.ndim == 4 else a)
    return [np.concatenate(p) for p in parts]


def layer_values(model: MLP | CNN, images: np.ndarray) -> list[np.ndarray]:
    """What a fingerprint reads in each layer (neurons; a convolutional map layer's channels)."""
    if isinstance(model, CNN):
        return channel_profiles(model, images)
    return layer_activations(model, model.as_input(images))


def activation_scales(model: MLP, x: np.ndarray, percentile: float = 99.0) -> list[float]:
    """A brightness ceiling per layer (a high percentile over ``x``) so grids share one scale."""
    out = []
    for a in layer_activations(model, model.as_input(x)):
        hi = float(np.percentile(a, percentile)) if a.size else 1.0
        out.append(hi if hi > 0 else float(a.max(initial=0.0)) or 1.0)
    return out


def _rowwise_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every row of a (n, d) with every row of b (m, d) -> (n, m)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    return (a @ b.T) / np.maximum(na * nb.T, 1e-12)


@dataclass
class ClassFingerprints:
    """Per layer: class means (n_classes, n_neurons) and how consistent single digits are."""

    means: list[np.ndarray]
    consistency: np.ndarray     # (n_layers, n_classes): mean corr of a digit with its class mean
    nearest_other: np.ndarray   # (n_layers, n_classes): mean corr with the closest other mean
    readout_accuracy: list[float]  # per layer: nearest class mean names the right digit
    counts: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"consistency": np.round(self.consistency, 4).tolist(),
                "nearest_other": np.round(self.nearest_other, 4).tolist(),
                "readout_accuracy": [round(v, 4) for v in self.readout_accuracy],
                "counts": self.counts.tolist()}


def class_fingerprints(model: MLP | CNN, images: np.ndarray, labels: np.ndarray,
                       n_classes: int = 10) -> ClassFingerprints:
    """Mean fingerprint per class and layer, with the consistency measures above."""
    labels = np.asarray(labels).astype(np.int64)
    if len(images) != len(labels) or len(labels) == 0:
        raise bad_param("labels", "one label per image (at least one)", len(labels))
    counts = np.bincount(labels, minlength=n_classes)
    if np.any(counts == 0):
        raise bad_param("images", "at least one example of every class",
                        f"none of class {int(np.argmin(counts))}")
    means, cons, other, readout = [], [], [], []
    for a in layer_values(model, images):
        a = a.astype(np.float64)
        m = np.stack([a[labels == c].mean(axis=0) for c in range(n_classes)])
        r = _rowwise_corr(a, m)  # (n, n_classes)
        own = r[np.arange(len(labels)), labels]
        r_other = r.copy()
        r_other[np.arange(len(labels)), labels] = -np.inf
        best_other = r_other.max(axis=1)
        means.append(m)
        cons.append([own[labels == c].mean() for c in range(n_classes)])
        other.append([best_other[labels == c].mean() for c in range(n_classes)])
        readout.append(accuracy(r, labels))
    return ClassFingerprints(means, np.array(cons), np.array(other), readout, counts)
