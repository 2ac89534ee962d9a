"""Two models side by side on the same test digits: accuracy overall and per class, where they
disagree, how their confusion matrices differ, and which first-layer neurons correspond (or,
for two convolutional networks, which first-layer kernels). A fully connected and a
convolutional network compare as well, all but the matching: their first layers are not alike.

Neurons are matched one-to-one by the cosine similarity of their incoming weights (784 values
each; a kernel's k·k·channels), maximising the total similarity
(``scipy.optimize.linear_sum_assignment``): two nets
trained from different starting points learn the same detectors in a different order, and a
pruned net keeps a subset of its parent's neurons. With layers of different widths the smaller
one is matched completely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.analysis.gradients import Network
from digitlens.analysis.metrics import Evaluation, evaluate_model
from digitlens.errors import DigitlensError, ParameterError
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP
from digitlens.nn.threads import blas_threads


def ends(m: Network) -> tuple[int, int]:
    """(inputs, classes) of either kind of network."""
    return int(np.prod(m.input_shape)), m.n_classes


def check_comparable(a: Network, b: Network) -> None:
    """Both nets must read the same inputs and name the same classes."""
    (ia, ca), (ib, cb) = ends(a), ends(b)
    if ia != ib:
        raise ParameterError(f"cannot compare a net reading {ia} inputs with one reading "
                             f"{ib}: they must take the same images")
    if ca != cb:
        raise ParameterError(f"cannot compare a net with {ca} classes with one with "
                             f"{cb}: they must answer the same question")


def first_layers(a: Network, b: Network) -> tuple[np.ndarray, np.ndarray, str] | str:
    """The two first layers as columns to match, and what they are ("neurons" or "kernels");
    when they are not alike, why (a dense layer and a convolution, or kernels of two shapes)."""
    if isinstance(a, MLP) and isinstance(b, MLP):
        return a.weights[0], b.weights[0], "neurons"
    if isinstance(a, CNN) and isinstance(b, CNN):
        ka, kb = a.weights[0], b.weights[0]
        if ka.shape[1:] != kb.shape[1:]:
            return (f"their first kernels differ ({'×'.join(map(str, ka.shape[1:]))} against "
                    f"{'×'.join(map(str, kb.shape[1:]))}: channels, rows, columns)")
        return ka.reshape(len(ka), -1).T, kb.reshape(len(kb), -1).T, "kernels"
    return "a fully connected first layer and a convolutional one are not alike"


def cosine_similarity(wa: np.ndarray, wb: np.ndarray) -> np.ndarray:
    """(n_a, n_b) cosine similarity between the columns of (d, n_a) and (d, n_b)."""
    a = np.asarray(wa, np.float64)
    b = np.asarray(wb, np.float64)
    na = np.linalg.norm(a, axis=0)
    nb = np.linalg.norm(b, axis=0)
    s = (a.T @ b) / np.maximum(np.outer(na, nb), 1e-12)  # (n_a, d) @ (d, n_b)
    return s


def match_neurons(wa: np.ndarray, wb: np.ndarray) -> list[tuple[int, int, float]]:
    """One-to-one matching of the columns of ``wa`` and ``wb`` with the largest total cosine
    similarity, as (i, j, similarity), most similar first."""
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        raise DigitlensError("matching neurons needs scipy: pip install "
                             "'digitlens[compare]'") from None
    s = cosine_similarity(wa, wb)
    rows, cols = linear_sum_assignment(s, maximize=True)
    pairs = [(int(i), int(j), float(s[i, j])) for i, j in zip(rows, cols, strict=True)]
    return sorted(pairs, key=lambda p: (-p[2], p[0]))


@dataclass
class Comparison:
    a: Evaluation
    b: Evaluation
    labels: np.ndarray
    matches: list[tuple[int, int, float]]
    matched: str = "neurons"  # what ``matches`` pairs: "neurons", "kernels", or "" (nothing)
    unmatched: str = ""       # why nothing was matched

    @property
    def disagreements(self) -> np.ndarray:
        """Test digits on which the two predict different classes."""
        return np.flatnonzero(self.a.predictions != self.b.predictions)

    def to_dict(self) -> dict[str, Any]:
        sims = [s for _, _, s in self.matches]
        per_class = [{"class": k, "n": int(self.a.confusion[k].sum()),
                      "a": round(self.a.per_class[k], 5), "b": round(self.b.per_class[k], 5)}
                     for k in range(len(self.a.per_class))]
        dis = self.disagreements
        a_right = self.a.predictions[dis] == self.labels[dis]
        b_right = self.b.predictions[dis] == self.labels[dis]
        return {"accuracy_a": self.a.accuracy, "accuracy_b": self.b.accuracy,
                "n": int(len(self.labels)), "per_class": per_class,
                "disagreements": {"count": int(dis.size), "indices": dis.tolist(),
                                  "only_a_right": int((a_right & ~b_right).sum()),
                                  "only_b_right": int((b_right & ~a_right).sum())},
                "confusion_difference": (self.b.confusion - self.a.confusion).tolist(),
                "matched": self.matched, "unmatched": self.unmatched or None,
                "matches": [{"a": i, "b": j, "similarity": round(s, 5)}
                            for i, j, s in self.matches],
                "mean_similarity": round(float(np.mean(sims)), 5) if sims else None}


def compare_models(a: Network, b: Network, images: np.ndarray, labels: np.ndarray
                   ) -> Comparison:
    """Evaluate both on the same labelled digits and match their first-layer neurons (or
    kernels) when the two first layers are alike."""
    check_comparable(a, b)
    layers = first_layers(a, b)
    with blas_threads(None):
        ea = evaluate_model(a, images, labels)
        eb = evaluate_model(b, images, labels)
        matches = [] if isinstance(layers, str) else match_neurons(layers[0], layers[1])
    matched, why = ("", layers) if isinstance(layers, str) else (layers[2], "")
    return Comparison(ea, eb, np.asarray(labels, np.int64), matches, matched, why)
