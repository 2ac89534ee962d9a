"""Weights composed through the layers: an input-sized "what this neuron looks for" image per
neuron.

S2's view: a neuron in layer l sees the input through W0·W1·…·W(l-1). The product ignores
biases and non-linearities, so it is a linear picture of the neuron's preferred input, exact
only for a network without activations; it is still what the images in S2 show.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from digitlens.nn.mlp import MLP
from digitlens.numbering import check_layer


def composed_weights(model: MLP, layer: int,
                     masks: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
    """(pixels, n_layer) composed weights of ``layer`` (0-based over weight layers).
    ``masks`` (as in ``MLP.trace``) remove knocked-out hidden neurons' paths."""
    check_layer(model.sizes, layer)
    out = model.weights[0].astype(np.float64)
    for hidden, w in enumerate(model.weights[1: layer + 1]):
        if masks is not None and hidden in masks:
            out = out * np.asarray(masks[hidden], np.float64)  # zero dead neurons' columns
        out = out @ w  # (pixels, n_prev) @ (n_prev, n_next) -> (pixels, n_next)
    return out


def neuron_images(model: MLP, layer: int) -> np.ndarray:
    """(n_layer, h, w): each neuron's composed weights as an image of the model's input."""
    return composed_weights(model, layer).T.reshape(-1, *model.input_shape)


def all_composed(model: MLP) -> list[np.ndarray]:
    """Composed weights of every layer, output neurons included, computed incrementally."""
    out, acc = [], model.weights[0].astype(np.float64)
    out.append(acc)
    for w in model.weights[1:]:
        acc = acc @ w
        out.append(acc)
    return out
