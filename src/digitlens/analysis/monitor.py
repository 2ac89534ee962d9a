"""Dying and dim neurons while training: after each epoch, how many neurons of every hidden layer
are dead, dim or near-duplicates on a fixed probe set of test digits.

The flags are ``digitlens.analysis.neurons.flag_neurons``'s (one definition for the neurons view
and for training). The monitor only reads the model: the weights a run ends with are the same
with or without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlens.analysis.neurons import flag_neurons
from digitlens.nn.mlp import MLP

PROBE_SIZE = 1000  # the first 1,000 test digits: every class, a few ms per epoch


def probe_set(test_images: np.ndarray, size: int = PROBE_SIZE) -> np.ndarray:
    """The fixed probe inputs, (size, 784) float32, from the start of the test set."""
    x = np.asarray(test_images[:size])
    if x.dtype == np.uint8:
        return x.reshape(len(x), -1).astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(x.reshape(len(x), -1), np.float32)


def neuron_counts(model: MLP, probe: np.ndarray) -> list[dict[str, Any]]:
    """Per hidden layer: {"layer", "n", "dead", "dim", "duplicates"} on ``probe``."""
    return counts_of(model, model.trace(probe).activations)


def counts_of(model: MLP, activations: list[np.ndarray]) -> list[dict[str, Any]]:
    """``neuron_counts`` from a trace's activations of the probe digits (the training loop
    takes them from its test evaluation, which already ran the forward pass)."""
    return [{"layer": k, **flag_neurons(activations[k + 1], model.weights[k + 1]).counts()}
            for k in range(model.n_layers - 1)]


def watch(model: MLP, activations: list[np.ndarray]) -> list[dict[str, Any]]:
    """The training loop's monitor (``digitlens.nn.train.train(monitor=watch)``): the counts on
    the first ``PROBE_SIZE`` digits of the test evaluation's ``activations``."""
    return counts_of(model, [a[:PROBE_SIZE] for a in activations])


def history_counts(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The monitor's numbers from a run's history as series per layer, or None when the run
    was trained without the monitor: {"epochs": [...], "layers": [{"n", "dead": [...], ...}]}."""
    rows = [h for h in history if h.get("neurons")]
    if not rows:
        return None
    n_layers = len(rows[0]["neurons"])
    layers = []
    for k in range(n_layers):
        per = [r["neurons"][k] for r in rows]
        layers.append({"layer": k, "n": int(per[-1]["n"]),
                       **{key: [int(p[key]) for p in per] for key in ("dead", "dim",
                                                                       "duplicates")}})
    return {"epochs": [int(r["epoch"]) for r in rows], "layers": layers}
