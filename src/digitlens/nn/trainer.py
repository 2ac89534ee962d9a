"""The hot loop: one mini-batch step with every buffer preallocated.

Activations are computed in place (z then f(z) in the same array) because every derivative is
written in terms of f(z). Gradients land directly in views of one flat buffer that mirrors the
parameters, so L2 and the optimizer touch one or two contiguous slices.
"""

from __future__ import annotations

import numpy as np

from digitlens.nn import functions as F
from digitlens.nn.mlp import MLP
from digitlens.nn.optim import Optimizer


class BatchStepper:
    """Runs forward + backward + update for batches of at most ``batch_size`` rows."""

    def __init__(self, model: MLP, optimizer: Optimizer, batch_size: int, l2: float = 0.0,
                 n_train: int = 1) -> None:
        self.model, self.opt = model, optimizer
        f32 = np.float32
        sizes = model.sizes
        self.x = np.empty((batch_size, sizes[0]), f32)
        self.acts = [np.empty((batch_size, n), f32) for n in sizes[1:]]
        self.deltas = [np.empty((batch_size, n), f32) for n in sizes[1:-1]]
        self.tmps = [np.empty((batch_size, n), f32) for n in sizes[1:]]
        self.grad = np.zeros(model.params.size, f32)
        self.gw = [self.grad[a:b].reshape(w.shape) for (a, b), w in zip(model.w_slices,
                                                                        model.weights, strict=True)]
        self.gb = [self.grad[a:b] for a, b in model.b_slices]
        self.l2c = np.float32(l2 / n_train) if l2 else None
        self.l2tmp = np.empty(model.n_weights, f32) if l2 else None
        self.fwd = [F.INPLACE[a] for a in model.activations]
        self.bwd = [F.DERIVATIVES_[a] for a in model.activations[:-1]]

    def step(self, images: np.ndarray, labels: np.ndarray, idx: np.ndarray, lr: float) -> float:
        """One SGD step on rows ``idx`` of ``images`` (float32 (N, 784)); returns the batch cost."""
        m, b = self.model, len(idx)
        x = self.x[:b]
        np.take(images, idx, axis=0, out=x, mode="clip")
        y = labels[idx]
        a = x
        for layer, (w, bias, f) in enumerate(zip(m.weights, m.biases, self.fwd, strict=True)):
            out = self.acts[layer][:b]
            np.matmul(a, w, out=out)  # (b, n_in) @ (n_in, n_out) -> (b, n_out)
            out += bias
            f(out)
            a = out
        loss = F.cost(m.cost, m.output_activation, a, y)
        delta = F.output_delta_(m.cost, m.output_activation, a, y, self.tmps[-1][:b])
        for layer in range(m.n_layers - 1, -1, -1):
            prev = self.acts[layer - 1][:b] if layer else x
            np.matmul(prev.T, delta, out=self.gw[layer])  # (n_in, b) @ (b, n_out)
            np.sum(delta, axis=0, out=self.gb[layer])
            if layer:
                nd = self.deltas[layer - 1][:b]
                np.matmul(delta, m.weights[layer].T, out=nd)  # (b, n_out) @ (n_out, n_in)
                self.bwd[layer - 1](nd, prev, self.tmps[layer - 1][:b])
                delta = nd
        if self.l2c is not None and self.l2tmp is not None:
            np.multiply(m.params[: m.n_weights], self.l2c, out=self.l2tmp)
            self.grad[: m.n_weights] += self.l2tmp
        self.opt.step(m.params, self.grad, lr)
        return loss
