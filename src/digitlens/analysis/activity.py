"""When a neuron counts as *active*: its input z is positive, that is its value lies above what
its activation gives for z = 0. ReLU: above 0; sigmoid: above 0.5 (a sigmoid is never 0, so
"above 0" would call every sigmoid neuron active); tanh and identity: above 0; softmax: above
1/n, its value when every z is equal. The API's ``test_active``, the page's diagram and the
offline explorer all use this rule; the page's ``activeAbove`` (web/static/js/engine.js) is
tested against it."""

from __future__ import annotations

import numpy as np

from digitlens.nn import functions as F


def active_above(activation: str, n: int = 1) -> float:
    """The value a neuron of ``activation`` must exceed to count as active (``n``: the layer's
    width, which softmax needs)."""
    return float(F.ACTIVATIONS[activation](np.zeros((1, n)))[0, 0])


def active_share(values: np.ndarray, activation: str, n: int = 1) -> float:
    """The share of ``values`` (one neuron over many inputs) above ``active_above``."""
    return float(np.mean(np.asarray(values) > active_above(activation, n)))
