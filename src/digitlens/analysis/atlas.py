"""A feature atlas of one hidden layer, as every surface asks for it (``digitlens features``,
``dl.features``): the layer's activations over the training digits, a TopK sparse autoencoder
trained on them (or one read back), and how well it describes the layer on the test digits,
with the network's accuracy when the layer is rebuilt from its features."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitlens import numbering
from digitlens.analysis import sae as S
from digitlens.errors import bad_param
from digitlens.nn.backprop import forward, layer_activations
from digitlens.nn.compose import composed_weights
from digitlens.nn.mlp import MLP

CHUNK = 4096
MAX_EPOCHS = 10_000


def check_settings(model: MLP, layer: int, n_features: int, k: int, epochs: int) -> None:
    """One set of rules for an atlas, whoever asks (the CLI's flags, ``dl.features``)."""
    numbering.check_hidden_layer(model.sizes, layer)
    for name, value, lo, hi in (("features", n_features, 2, S.MAX_FEATURES),
                                ("k", k, 1, n_features), ("epochs", epochs, 1, MAX_EPOCHS)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise bad_param(name, f"an int in {lo}..{hi}", value)


@dataclass
class Features:
    """An atlas: the autoencoder, its measures, the test set's feature values and the time the
    training took (None for one read from a file)."""

    sae: S.SAE
    atlas: S.Atlas
    codes: np.ndarray          # (test digits, F) feature values
    seconds: float | None


def atlas_of(model: MLP, layer: int, train_images: np.ndarray, test_images: np.ndarray,
             test_labels: np.ndarray, sae: S.SAE | None = None, n_features: int = S.FEATURES,
             k: int = S.K, epochs: int = S.EPOCHS, seed: int = 0,
             on_epoch: Callable[[int, float], None] | None = None) -> Features:
    """Train an autoencoder on hidden ``layer`` (unless ``sae`` is given) and measure it."""
    test_in = model.as_input(test_images)
    test = layer_activations(model, test_in)[layer]
    seconds = None
    if sae is None:
        train = layer_activations(model, model.as_input(train_images))[layer]
        t0 = time.perf_counter()
        sae = S.train_sae(train, n_features, k, epochs, seed, on_epoch=on_epoch)
        seconds = time.perf_counter() - t0
    codes = np.concatenate([sae.encode(test[i:i + CHUNK]) for i in range(0, len(test), CHUNK)])
    spliced = forward(model, sae.decode(codes), start=layer + 1).output  # the layer rebuilt
    accuracy = float(np.mean(np.argmax(forward(model, test_in).output, axis=1) == test_labels))
    atlas = S.assess(sae, test, float(np.mean(np.argmax(spliced, axis=1) == test_labels)),
                     accuracy, codes)
    return Features(sae, atlas, codes, seconds)


def decoder_pixels(model: MLP, layer: int, sae: S.SAE, features: list[int]) -> np.ndarray:
    """(pixels, len(features)): each feature's decoder direction carried back to the input, as
    composed weights carry a neuron (a feature is a direction in the layer's space)."""
    # (pixels, n_hidden) @ (n_hidden, m) -> (pixels, m)
    return composed_weights(model, layer) @ sae.W_dec[features].T.astype(np.float64)


def top_digits(codes: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's ``count`` most-activating digits, strongest first: indices and values,
    both (F, count); a digit the feature does not fire on has index -1."""
    count = min(count, len(codes))
    idx = np.argpartition(-codes, count - 1, axis=0)[:count]           # (count, F), unordered
    vals = np.take_along_axis(codes, idx, axis=0)
    order = np.argsort(-vals, axis=0, kind="stable")
    idx, vals = np.take_along_axis(idx, order, 0).T, np.take_along_axis(vals, order, 0).T
    return np.where(vals > 0, idx, -1), np.maximum(vals, 0)
