"""A convolutional network's training step and its evaluation, with the interface of the MLP's
(``digitlens.nn.step.BatchStepper``, ``digitlens.nn.backprop.evaluate``), so the one training
loop (``digitlens.nn.train``) runs either network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from digitlens.nn import cnn as K
from digitlens.nn.backprop import Scores, accuracy
from digitlens.nn.cnn import CNN
from digitlens.nn.functions import cost
from digitlens.nn.optim import Optimizer


class CNNStepper:
    """Forward + backward + L2 + update for batches of at most ``batch_size`` images."""

    def __init__(self, model: CNN, optimizer: Optimizer, batch_size: int, l2: float = 0.0,
                 n_train: int = 1) -> None:
        self.model, self.opt = model, optimizer
        self.x = np.empty((batch_size, *model.input_shape), np.float32)
        self.l2c = np.float32(l2 / n_train) if l2 else None

    def step(self, images: np.ndarray, labels: np.ndarray, idx: np.ndarray, lr: float) -> float:
        """One step on rows ``idx`` of ``images`` (uint8 pixels scaled by 1/255, or float32
        as they are); returns the batch cost."""
        m, b = self.model, len(idx)
        x = self.x[:b]
        rows = images[idx].reshape(x.shape)
        if images.dtype == np.uint8:
            np.divide(rows, np.float32(255), out=x, casting="unsafe")  # as ``train.as_float``
        else:
            x[...] = rows
        loss, grad = K.loss_and_gradient(m, x, labels[idx])
        if self.l2c is not None:                        # + λ/n·w (weights only)
            grad[: m.n_weights] += m.params[: m.n_weights] * self.l2c
        self.opt.step(m.params, grad, lr)
        return loss


def evaluate_cnn(model: CNN, x: np.ndarray, labels: np.ndarray, chunk: int = 2000,
                 knockout: Mapping[int, Sequence[int]] | None = None) -> Scores:
    """``backprop.evaluate`` for a convolutional network: ``x`` (n, c·h·w) float32;
    ``knockout``: channels switched off ({layer: [channels]})."""
    out = K.predict_proba(model, x, chunk, knockout)
    labels = np.asarray(labels).astype(np.int64)
    act = model.layers[-1].activation  # type: ignore[union-attr]
    return Scores(out, out, np.argmax(out, axis=1), accuracy(out, labels),
                  cost(model.cost, act, out, labels) if len(out) else 0.0)
