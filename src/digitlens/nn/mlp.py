"""The multilayer perceptron: parameters in one flat float32 buffer, and what a model is.

Layout: all weight matrices first, then all biases, in one contiguous float32 array. ``weights``
and ``biases`` are views into it, so an optimizer (and L2 on weights only) is a handful of
in-place ufuncs over one or two slices, not a loop over arrays.
Weights are stored (n_in, n_out) so a batch goes ``(batch, n_in) @ (n_in, n_out)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitlens.errors import bad_param
from digitlens.nn import functions as F
from digitlens.nn.backprop import backward, forward, probabilities

INITS = ("xavier", "he", "normal")


def default_input_shape(n_in: int) -> tuple[int, int]:
    """The image a model with ``n_in`` inputs reads when its file does not say: MNIST's 28×28
    for 784, a square for a square number, else one row of ``n_in`` pixels."""
    side = int(round(n_in ** 0.5))
    return (side, side) if side * side == n_in else (1, n_in)


@dataclass
class Trace:
    """Everything one forward pass computed, for a batch.

    ``zs[l]`` and ``activations[l+1]`` are layer l's pre-activations and activations
    (``activations[0]`` is the input); ``probabilities`` the output normalised to sum to 1.
    """

    zs: list[np.ndarray]
    activations: list[np.ndarray]
    probabilities: np.ndarray
    prediction: np.ndarray

    @property
    def output(self) -> np.ndarray:
        return self.activations[-1]


def layer_offsets(sizes: Sequence[int]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(start, stop) of every weight matrix and bias vector in the flat buffer."""
    w, b, pos = [], [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        w.append((pos, pos + n_in * n_out))
        pos += n_in * n_out
    for n_out in sizes[1:]:
        b.append((pos, pos + n_out))
        pos += n_out
    return w, b


def n_params(sizes: Sequence[int]) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def validate_architecture(sizes: Sequence[int], activations: Sequence[str], cost: str) -> None:
    if len(sizes) < 2 or any(not isinstance(s, int | np.integer) or s < 1 for s in sizes):
        raise bad_param("layers", "a list of at least two positive sizes", list(sizes))
    if len(activations) != len(sizes) - 1:
        raise bad_param("activations", f"one name per layer ({len(sizes) - 1})", list(activations))
    for act in activations[:-1]:
        if act not in F.HIDDEN:
            raise bad_param("activation", f"one of {', '.join(F.HIDDEN)}", act)
    if activations[-1] not in F.OUTPUTS:
        raise bad_param("output", f"one of {', '.join(F.OUTPUTS)}", activations[-1])
    if cost not in F.COSTS:
        raise bad_param("cost", f"one of {', '.join(F.COSTS)}", cost)


@dataclass
class MLP:
    """A fully connected network. ``activations[-1]`` is the output ('softmax' or 'sigmoid')."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    cost: str = "cross_entropy"
    params: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.sizes = tuple(int(s) for s in self.sizes)
        self.activations = tuple(self.activations)
        validate_architecture(self.sizes, self.activations, self.cost)
        total = n_params(self.sizes)
        if self.params.size == 0:
            self.params = np.zeros(total, np.float32)
        if self.params.shape != (total,) or self.params.dtype != np.float32:
            raise bad_param("params", f"a float32 vector of {total} values",
                            f"{self.params.dtype} {self.params.shape}")
        self.w_slices, self.b_slices = layer_offsets(self.sizes)
        self.n_weights = self.w_slices[-1][1]
        self.weights = [self.params[a:b].reshape(n_in, n_out) for (a, b), n_in, n_out
                        in zip(self.w_slices, self.sizes[:-1], self.sizes[1:], strict=True)]
        self.biases = [self.params[a:b] for a, b in self.b_slices]

    @classmethod
    def create(cls, sizes: Sequence[int], activation: str = "relu", output: str = "softmax",
               cost: str = "cross_entropy", init: str | None = None, seed: int = 0,
               meta: Mapping[str, Any] | None = None) -> MLP:
        """A freshly initialised network (Xavier for sigmoid/tanh, He for ReLU by default)."""
        acts = tuple([activation] * (len(sizes) - 2) + [output])
        model = cls(tuple(sizes), acts, cost, meta=dict(meta or {}))
        model.initialise(init or ("he" if activation == "relu" else "xavier"), seed)
        return model

    def initialise(self, init: str, seed: int) -> None:
        """Xavier/Glorot uniform: U(±√(6/(n_in+n_out))); He normal: N(0, 2/n_in); biases 0."""
        if init not in INITS:
            raise bad_param("init", f"one of {', '.join(INITS)}", init)
        rng = np.random.default_rng(seed)
        for w in self.weights:
            n_in, n_out = w.shape
            if init == "xavier":
                lim = np.sqrt(6.0 / (n_in + n_out))
                w[...] = rng.uniform(-lim, lim, size=w.shape)
            elif init == "he":
                w[...] = rng.normal(0.0, np.sqrt(2.0 / n_in), size=w.shape)
            else:
                w[...] = rng.normal(0.0, 1.0 / np.sqrt(n_in), size=w.shape)
        for b in self.biases:
            b[...] = 0
        self.meta["init"] = init

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def output_activation(self) -> str:
        return self.activations[-1]

    @property
    def input_shape(self) -> tuple[int, int]:
        """(height, width) of the images the model reads, row-major: ``meta["input_shape"]``,
        else :func:`default_input_shape`."""
        shape = self.meta.get("input_shape")
        if shape is None:
            return default_input_shape(self.sizes[0])
        return int(shape[0]), int(shape[1])

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of one input image (``input_shape``; a convolutional network's
        drops its channels)."""
        return self.input_shape

    @property
    def class_names(self) -> tuple[str, ...]:
        """One name per output: ``meta["class_names"]``, else "0", "1", …"""
        names = self.meta.get("class_names")
        if names is None:
            return tuple(str(i) for i in range(self.sizes[-1]))
        return tuple(str(n) for n in names)

    def copy(self) -> MLP:
        return MLP(self.sizes, self.activations, self.cost, self.params.copy(), dict(self.meta))

    def as_input(self, x: np.ndarray) -> np.ndarray:
        """Any of (P,), (H, W), (n, P), (n, H, W) with P = H·W inputs, float 0..1 or uint8
        -> (n, P) float32."""
        x = np.asarray(x)
        n_in = self.sizes[0]
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / 255.0
        if x.size % n_in != 0 or x.ndim == 0:
            raise bad_param("x", f"an array of {n_in} values per example", x.shape)
        return np.ascontiguousarray(x.reshape(-1, n_in), dtype=np.float32)

    def trace(self, x: np.ndarray, masks: Mapping[int, np.ndarray] | None = None) -> Trace:
        """Forward pass keeping every z and a (``digitlens.nn.backprop.forward``). ``masks[l]``
        (0/1 per neuron) knocks out neurons of hidden layer l (0-based over hidden layers):
        their activation is forced to 0."""
        p = forward(self, self.as_input(x), masks=masks)
        return Trace(p.zs, p.activations, probabilities(self, p.output),
                     np.argmax(p.output, axis=1))

    def predict_proba(self, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
        x = self.as_input(x)
        return np.concatenate([self.trace(x[i:i + chunk]).probabilities
                               for i in range(0, len(x), chunk)]
                              or [np.zeros((0, self.sizes[-1]), np.float32)])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict_proba(x), axis=1)

    def loss_and_gradient(self, x: np.ndarray, y: np.ndarray, l2: float = 0.0,
                          n_train: int | None = None) -> tuple[float, np.ndarray]:
        """Mean cost (plus L2) and its gradient as a flat vector, in float64 for checking.

        L2 convention (Nielsen's): cost += λ/(2n)·Σw² over weights (not biases), n the size of
        the training set (``n_train``, default the batch size).
        """
        f64 = np.float64
        acts = forward(self, self.as_input(x), dtype=f64).activations
        y = np.asarray(y)
        n_train = n_train or len(y)
        weights = self.params[: self.n_weights].astype(f64)
        loss = F.cost(self.cost, self.output_activation, acts[-1], y)
        loss += l2 / (2 * n_train) * float(np.sum(weights**2))
        delta = F.output_delta(self.cost, self.output_activation, acts[-1], y,
                               np.empty_like(acts[-1]), np.empty_like(acts[-1]))
        grad = backward(self, acts, delta, dtype=f64)
        grad[: self.n_weights] += l2 / n_train * weights
        return loss, grad

    def describe(self) -> str:
        hidden = "-".join(str(s) for s in self.sizes)
        return f"{hidden} ({', '.join(self.activations)}; {self.cost})"
