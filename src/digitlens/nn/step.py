"""The fast path: one training step on one mini-batch (gather, forward, cost, backward, L2,
update) over arrays allocated once.

It computes what ``digitlens.nn.backprop``'s ``forward`` and ``backward`` (the textbook)
compute, in the same order, so the gradient is bit-identical (tests/nn/test_backprop.py holds
it so); what differs is only where the numbers live. Every array is preallocated for the
largest batch (a :class:`Workspace`), each layer's z becomes its activation in place (every
derivative is written in terms of f(z), so z need not be kept), and gradients land in views of
one flat buffer that mirrors the parameters, so L2 and the optimizer touch one or two
contiguous slices. Element-wise work is the nonlinearity's own in-place form and derivative
(``digitlens.nn.functions``), or where ``digitlens.nn.kernels`` has one, a fused loop that
does the same float32 operations in one pass (held bit-equal to the record by the tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitlens.nn.functions import NONLINEARITIES, cost, output_delta
from digitlens.nn.kernels import activate_step, kernel
from digitlens.nn.mlp import MLP
from digitlens.nn.optim import Optimizer

Array = np.ndarray
# (a, y, delta, gb, tmp) -> None: the output layer's delta and its bias gradient
OutputDelta = Callable[[Array, Array, Array, Array, Array], None]


@dataclass
class Workspace:
    """Training's preallocated arrays for batches of up to ``batch`` rows, and each layer's
    in-place element-wise steps (built by :func:`workspace`).

    ``acts[l]``: layer l's z, turned into its a in place. ``deltas[l]``: layer l's delta.
    ``grad``: one flat gradient laid out like the parameters; ``gw``/``gb`` its per-layer views.
    ``activate[l](z, b)``: z = f(z + b) in place. ``back[l](delta, a, gb, tmp)``: delta *= f'(z)
    (from a = f(z)), then gb = delta summed over the batch.
    """

    acts: list[Array]
    deltas: list[Array]
    tmps: list[Array]
    grad: Array
    gw: list[Array]
    gb: list[Array]
    activate: list[Callable[[Array, Array], None]]
    back: list[Callable[[Array, Array, Array, Array], None]]


def forward_into(model: MLP, x: Array, ws: Workspace) -> list[Array]:
    """``backprop.forward``'s activations [x, a_0, ..., a_out] for float32 ``x`` (b, n_in),
    each a view of ``ws.acts`` (no z is kept: it became a in place)."""
    acts = [x]
    with np.errstate(over="ignore", under="ignore"):
        for layer in range(model.n_layers):
            z = np.matmul(acts[-1], model.weights[layer],
                          out=ws.acts[layer][:len(x)])   # (b, n_in) @ (n_in, n_out)
            ws.activate[layer](z, model.biases[layer])   # z = f(z + b) in place: z is now a
            acts.append(z)
    return acts


def backward_into(model: MLP, acts: list[Array], y: Array, ws: Workspace,
                  out_delta: OutputDelta) -> Array:
    """``backprop.backward`` of the cost at labels ``y``, into ``ws.grad`` (returned): the
    output delta and its bias sum first (``out_delta``), then down the layers as the textbook
    goes, each delta in ``ws.deltas``, f' and the bias sum one ``ws.back`` call."""
    b = len(y)
    delta = ws.deltas[-1][:b]                                    # (b, n_out): dCost/dz_out
    out_delta(acts[-1], y, delta, ws.gb[-1], ws.tmps[-1][:b])
    for layer in range(model.n_layers - 1, -1, -1):
        # delta: dCost/dz of this layer, whose bias gradient is already in ws.gb[layer]
        a_in = acts[layer]                                       # (b, n_in)
        np.matmul(a_in.T, delta, out=ws.gw[layer])               # (n_in, b) @ (b, n_out)
        if layer == 0:
            break
        below = np.matmul(delta, model.weights[layer].T, out=ws.deltas[layer - 1][:b])
        ws.back[layer - 1](below, a_in, ws.gb[layer - 1], ws.tmps[layer - 1][:b])
        delta = below
    return ws.grad


def back_step(name: str, width: int) -> Callable[
        [np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]:
    """delta *= f'(z) (from a = f(z)), then the layer's bias gradient: delta's batch sum.
    The fused kernel where there is one, except 1 wide, where NumPy's sum adds in another
    order (pairwise down a column) than the loop."""
    f = NONLINEARITIES[name]
    if f.fused_backward is not None and width > 1:
        fused = kernel(f.fused_backward)
        return lambda delta, a, gb, tmp: fused(delta, a, gb)
    d = f.derivative_
    assert d is not None, f"{name} is not a hidden activation"

    def step(delta: np.ndarray, a: np.ndarray, gb: np.ndarray, tmp: np.ndarray) -> None:
        d(delta, a, tmp)
        np.sum(delta, axis=0, out=gb)
    return step


def output_delta_step(model: MLP) -> OutputDelta:
    """(a, y, delta, gb, tmp) -> delta = dCost/dz of the output layer, gb its batch sum:
    softmax + cross-entropy as one fused kernel, other pairs through ``output_delta``."""
    if (model.cost == "cross_entropy" and model.output_activation == "softmax"
            and model.sizes[-1] > 1):
        fused = kernel("softmax_ce_delta")
        return lambda a, y, delta, gb, tmp: fused(a, y, delta, gb)

    def step(a: np.ndarray, y: np.ndarray, delta: np.ndarray, gb: np.ndarray,
             tmp: np.ndarray) -> None:
        output_delta(model.cost, model.output_activation, a, y, delta, tmp)
        np.sum(delta, axis=0, out=gb)
    return step


def workspace(model: MLP, batch_size: int) -> Workspace:
    """Every array one step needs, for batches of up to ``batch_size`` rows."""
    f32 = np.float32
    widths = model.sizes[1:]
    grad = np.zeros(model.params.size, f32)
    return Workspace(
        acts=[np.empty((batch_size, n), f32) for n in widths],
        deltas=[np.empty((batch_size, n), f32) for n in widths],
        tmps=[np.empty((batch_size, n), f32) for n in widths],
        grad=grad,
        gw=[grad[a:b].reshape(w.shape) for (a, b), w in zip(model.w_slices, model.weights,
                                                             strict=True)],
        gb=[grad[a:b] for a, b in model.b_slices],
        activate=[activate_step(name) for name in model.activations],
        back=[back_step(name, n) for name, n in zip(model.activations[:-1], widths[:-1],
                                                     strict=True)])


class BatchStepper:
    """Runs forward + backward + update for batches of at most ``batch_size`` rows."""

    def __init__(self, model: MLP, optimizer: Optimizer, batch_size: int, l2: float = 0.0,
                 n_train: int = 1) -> None:
        self.model, self.opt = model, optimizer
        self.ws = workspace(model, batch_size)
        self.x = np.empty((batch_size, model.sizes[0]), np.float32)
        self.x8 = np.empty((batch_size, model.sizes[0]), np.uint8)  # the NumPy gather's staging
        self.gather = kernel("gather")
        self.out_delta = output_delta_step(model)
        self.l2c = np.float32(l2 / n_train) if l2 else None
        self.l2tmp = np.empty(model.n_weights, np.float32) if l2 else None

    def step(self, images: np.ndarray, labels: np.ndarray, idx: np.ndarray, lr: float) -> float:
        """One SGD step on rows ``idx`` of ``images``; returns the batch cost. ``images`` are
        uint8 pixels (N, n_in), scaled by 1/255 as they are gathered, or float32 taken as is."""
        m, ws, b = self.model, self.ws, len(idx)
        x = self.x[:b]                                           # (b, n_in)
        if images.dtype == np.uint8:
            self.gather(images, idx, x, self.x8[:b])
        else:
            np.take(images, idx, axis=0, out=x)
        y = labels[idx]                                          # (b,)
        acts = forward_into(m, x, ws)                            # [x, a_0, ..., a_out]
        loss = cost(m.cost, m.output_activation, acts[-1], y)
        backward_into(m, acts, y, ws, self.out_delta)            # into ws.grad
        if self.l2c is not None and self.l2tmp is not None:     # + λ/n·w (weights only)
            np.multiply(m.params[: m.n_weights], self.l2c, out=self.l2tmp)
            ws.grad[: m.n_weights] += self.l2tmp
        self.opt.step(m.params, ws.grad, lr)
        return loss
