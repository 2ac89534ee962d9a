"""Each analysis of a whole run in one call, for ``dl.analysis``: the run's model on its test
set. Every function returns the analysis module's own dataclass of NumPy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.analysis.attribution import Evidence
from digitlens.analysis.fingerprints import ClassFingerprints
from digitlens.analysis.inspector import Arithmetic
from digitlens.analysis.inspector import arithmetic as arithmetic_of
from digitlens.analysis.metrics import Evaluation
from digitlens.analysis.neurons import NeuronReport
from digitlens.analysis.robustness import Robustness
from digitlens.api import RunLike, as_run, input_of
from digitlens.nn.mlp import Trace


@dataclass
class Composed:
    """Composed weights (W0·W1·…) of every layer: ``images[l]`` is (n_neurons, h, w), the
    model's input shape (28×28 for MNIST)."""

    images: list[np.ndarray]


def evaluate(run: RunLike) -> Evaluation:
    """Test accuracy, per-class accuracy, confusion matrix, predictions and probabilities.

    >>> dl.analysis.evaluate(run).confusion.shape        # doctest: +SKIP
    (10, 10)
    """
    from digitlens.analysis.metrics import evaluate_model
    r = as_run(run)
    return evaluate_model(r.model, r.dataset.test_images, r.dataset.test_labels)


def class_fingerprints(run: RunLike) -> ClassFingerprints:
    """Each class's mean activations per layer and how consistently single digits match them."""
    from digitlens.analysis.fingerprints import class_fingerprints as of
    r = as_run(run)
    return of(r.model, r.dataset.test_images, r.dataset.test_labels,
              len(r.dataset.class_names))


@dataclass
class OneTrace:
    """One image's forward pass, unbatched: ``zs[l]`` and ``activations[l + 1]`` are layer
    l's pre-activations and activations as 1-D arrays (``activations[0]`` is the input),
    ``prediction`` an int (a single input gives a single answer)."""

    zs: list[np.ndarray]
    activations: list[np.ndarray]
    probabilities: np.ndarray
    prediction: int

    @property
    def output(self) -> np.ndarray:
        return self.activations[-1]


def trace(run: RunLike, image: Any) -> OneTrace:
    """Every layer's z and activation for one image (the network's one forward pass).

    >>> dl.analysis.trace(run, image).prediction      # doctest: +SKIP
    7
    """
    model = as_run(run).dense("dl.analysis.trace")
    t: Trace = model.trace(input_of(image, shape=model.input_shape)[0].reshape(1, -1))
    return OneTrace([z[0] for z in t.zs], [a[0] for a in t.activations], t.probabilities[0],
                    int(t.prediction[0]))


def evidence(run: RunLike, image: Any, method: str = "auto") -> Evidence:
    """Per-class weights, input × weights and scores for one image (S1)."""
    from digitlens.analysis.attribution import evidence as evidence_of
    model = as_run(run).dense("dl.analysis.evidence")
    return evidence_of(model, input_of(image, shape=model.input_shape)[0], method)


def composed(run: RunLike) -> Composed:
    """Weights composed through the layers as images of the input's shape (S2)."""
    from digitlens.nn.compose import all_composed
    model = as_run(run).dense("dl.analysis.composed")
    return Composed([w.T.reshape(-1, *model.input_shape) for w in all_composed(model)])


def arithmetic(run: RunLike, layer: int, index: int, image: Any) -> Arithmetic:
    """One neuron's value recomputed term by term: Σ inputs × weights + bias, then f (S4)."""
    model = as_run(run).dense("dl.analysis.arithmetic")
    x = input_of(image, shape=model.input_shape)[0].reshape(1, -1)
    return arithmetic_of(model, layer, index, x)


def neuron_report(run: RunLike, layer: int | None = None, finetune: bool = True) -> NeuronReport:
    """Importance, dead/dim/duplicate neurons, ablation and pruning of a hidden layer (S3)."""
    from digitlens.analysis.neurons import analyse_neurons, finetune_data
    r = as_run(run)
    ds, model = r.dataset, r.dense("dl.analysis.neuron_report")
    if not finetune:
        return analyse_neurons(model, ds.test_images, ds.test_labels, layer)
    tx, ty, tune = finetune_data(model, ds.train_images, ds.train_labels)
    return analyse_neurons(model, ds.test_images, ds.test_labels, layer, train=(tx, ty),
                           finetune_with=tune)


def robustness_sweep(run: RunLike, n: int = 500) -> Robustness:
    """Accuracy of moved and resized test digits, as drawn and after MNIST preprocessing."""
    from digitlens.analysis.robustness import robustness as robustness_of
    r = as_run(run)
    return robustness_of(r.model, r.dataset.test_images, r.dataset.test_labels, n=n)


__all__ = ["Composed", "arithmetic", "class_fingerprints", "composed", "evaluate", "evidence",
           "neuron_report", "robustness_sweep", "trace"]
