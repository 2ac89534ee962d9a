"""The hot loop: one mini-batch step with every buffer preallocated.

Activations are computed in place (z then f(z) in the same array) because every derivative is
written in terms of f(z). Gradients land directly in views of one flat buffer that mirrors the
parameters, so L2 and the optimizer touch one or two contiguous slices.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from digitlens.nn import functions as F
from digitlens.nn.kernels import kernel
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
        self.x8 = np.empty((batch_size, sizes[0]), np.uint8)  # the NumPy gather's staging
        self.gather = kernel("gather")
        self.acts = [np.empty((batch_size, n), f32) for n in sizes[1:]]
        self.deltas = [np.empty((batch_size, n), f32) for n in sizes[1:-1]]
        self.tmps = [np.empty((batch_size, n), f32) for n in sizes[1:]]
        self.grad = np.zeros(model.params.size, f32)
        self.gw = [self.grad[a:b].reshape(w.shape) for (a, b), w in zip(model.w_slices,
                                                                        model.weights, strict=True)]
        self.gb = [self.grad[a:b] for a, b in model.b_slices]
        self.l2c = np.float32(l2 / n_train) if l2 else None
        self.l2tmp = np.empty(model.n_weights, f32) if l2 else None
        self.fwd = [self.bias_and(a) for a in model.activations]
        self.bwd = [self.back_and_sum(a, n) for a, n in zip(model.activations[:-1], sizes[1:-1],
                                                             strict=True)]
        fused_delta = (model.cost == "cross_entropy" and model.output_activation == "softmax"
                       and sizes[-1] > 1)
        self.out_delta = kernel("softmax_ce_delta") if fused_delta else None

    @staticmethod
    def bias_and(name: str) -> Callable[[np.ndarray, np.ndarray], None]:
        """z += bias; z = f(z), in place (ReLU as one fused loop)."""
        if name == "relu":
            return kernel("bias_relu")
        f = F.INPLACE[name]

        def step(z: np.ndarray, bias: np.ndarray) -> None:
            z += bias
            f(z)
        return step

    @staticmethod
    def back_and_sum(name: str, width: int) -> Callable[
            [np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]:
        """delta *= f'(z) (from a = f(z)), then the layer's bias gradient: delta's batch sum.
        ReLU as one fused loop, except 1 wide, where NumPy's sum adds in another order."""
        if name == "relu" and width > 1:
            fused = kernel("relu_back_sum")
            return lambda delta, a, gb, tmp: fused(delta, a, gb)
        d = F.DERIVATIVES_[name]

        def step(delta: np.ndarray, a: np.ndarray, gb: np.ndarray, tmp: np.ndarray) -> None:
            d(delta, a, tmp)
            np.sum(delta, axis=0, out=gb)
        return step

    def step(self, images: np.ndarray, labels: np.ndarray, idx: np.ndarray, lr: float) -> float:
        """One SGD step on rows ``idx`` of ``images``; returns the batch cost. ``images`` are
        uint8 pixels (N, 784), scaled by 1/255 as they are gathered, or float32 taken as is."""
        m, b = self.model, len(idx)
        x = self.x[:b]
        if images.dtype == np.uint8:
            self.gather(images, idx, x, self.x8[:b])
        else:
            np.take(images, idx, axis=0, out=x)
        y = labels[idx]
        a = x
        for layer, (w, bias, f) in enumerate(zip(m.weights, m.biases, self.fwd, strict=True)):
            out = self.acts[layer][:b]
            np.matmul(a, w, out=out)  # (b, n_in) @ (n_in, n_out) -> (b, n_out)
            f(out, bias)
            a = out
        loss = F.cost(m.cost, m.output_activation, a, y)
        last = m.n_layers - 1
        if self.out_delta is not None:
            self.out_delta(a, y, self.gb[last])
            delta = a
        else:
            delta = F.output_delta_(m.cost, m.output_activation, a, y, self.tmps[-1][:b])
            np.sum(delta, axis=0, out=self.gb[last])
        for layer in range(last, -1, -1):  # each layer's bias gradient is already in gb
            prev = self.acts[layer - 1][:b] if layer else x
            np.matmul(prev.T, delta, out=self.gw[layer])  # (n_in, b) @ (b, n_out)
            if layer:
                nd = self.deltas[layer - 1][:b]
                np.matmul(delta, m.weights[layer].T, out=nd)  # (b, n_out) @ (n_out, n_in)
                self.bwd[layer - 1](nd, prev, self.gb[layer - 1], self.tmps[layer - 1][:b])
                delta = nd
        if self.l2c is not None and self.l2tmp is not None:
            np.multiply(m.params[: m.n_weights], self.l2c, out=self.l2tmp)
            self.grad[: m.n_weights] += self.l2tmp
        self.opt.step(m.params, self.grad, lr)
        return loss
