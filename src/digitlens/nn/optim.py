"""Optimizers over one flat float32 parameter buffer: each step is one fused update loop.

State arrays are flat too, so saving and resuming an optimizer is saving a few vectors.
"""

from __future__ import annotations

import numpy as np

from digitlens.errors import bad_param
from digitlens.nn.kernels import kernel

OPTIMIZERS = ("sgd", "momentum", "adam")


class Optimizer:
    """Base: ``step(params, grad, lr)`` updates ``params`` in place."""

    name = "base"

    def __init__(self, size: int) -> None:
        self.tmp = np.empty(size, np.float32)
        self.t = 0

    def state(self) -> dict[str, np.ndarray]:
        return {"t": np.array(self.t)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p -= lr·g."""

    name = "sgd"

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.update = kernel("sgd")

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        self.t += 1
        self.update(params, grad, np.float32(lr), self.tmp)


class Momentum(Optimizer):
    """Classical momentum: v = μ·v - lr·g; p += v."""

    name = "momentum"

    def __init__(self, size: int, mu: float = 0.9) -> None:
        super().__init__(size)
        self.mu = np.float32(mu)
        self.v = np.zeros(size, np.float32)
        self.update = kernel("momentum")

    def state(self) -> dict[str, np.ndarray]:
        return {**super().state(), "v": self.v}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        super().load_state(state)
        self.v[...] = state["v"]

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        self.t += 1
        self.update(params, grad, self.v, self.mu, np.float32(lr), self.tmp)


class Adam(Optimizer):
    """Adam (Kingma & Ba), exactly, as one fused loop (or ten NumPy passes).

    We keep m' = m/(1-β1) and v' = v/(1-β2) so the moment updates lose their (1-β) factors
    (m' = β1·m' + g), and fold both bias corrections and ε into two scalars:
    p -= lr·m̂/(√v̂ + ε)  ==  p -= c1·m'/(√v' + ε')  with c1 = lr(1-β1)/(1-β1ᵗ)·k,
    k = 1/√((1-β2)/(1-β2ᵗ)), ε' = ε·k.
    """

    name = "adam"

    def __init__(self, size: int, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(size)
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.m = np.zeros(size, np.float32)
        self.v = np.zeros(size, np.float32)
        self.update = kernel("adam")

    def state(self) -> dict[str, np.ndarray]:
        return {**super().state(), "m": self.m, "v": self.v}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        super().load_state(state)
        self.m[...] = state["m"]
        self.v[...] = state["v"]

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float) -> None:
        self.t += 1
        k = 1.0 / np.sqrt((1 - self.b2) / (1 - self.b2**self.t))
        c1 = lr * (1 - self.b1) / (1 - self.b1**self.t) * k
        # m' = β1 m' + g; v' = β2 v' + g²; p -= c1·m'/(√v' + ε')  (digitlens.nn.kernels)
        self.update(params, grad, self.m, self.v, np.float32(self.b1), np.float32(self.b2),
                    np.float32(self.eps * k), np.float32(c1), self.tmp)


def make_optimizer(name: str, size: int, momentum: float = 0.9) -> Optimizer:
    if name == "sgd":
        return SGD(size)
    if name == "momentum":
        return Momentum(size, momentum)
    if name == "adam":
        return Adam(size)
    raise bad_param("optimizer", f"one of {', '.join(OPTIMIZERS)}", name)
