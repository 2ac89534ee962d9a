"""Training configurations: what a run is (``TrainConfig``), its checks in one place, and the
seeds' networks and a strong default as presets with the seed's hyperparameters.

L2 follows Nielsen's convention everywhere: cost += λ/(2n)·Σw² over weights, n = training-set
size, so S3's λ = 1.5 means the same as in its write-up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from digitlens.errors import NotFoundError, bad_param
from digitlens.nn.cnn import LENET5_FEATURES, Dense, Layer, param_shapes, short_label
from digitlens.nn.functions import COSTS, HIDDEN, OUTPUTS
from digitlens.nn.mlp import INITS, n_params
from digitlens.nn.optim import OPTIMIZERS
from digitlens.safeload import MAX_LAYERS, MAX_NEURONS, MAX_PARAMS

SCHEDULES = ("constant", "cosine")
# "mlp": the fully connected layers of ``layers``; "lenet5": LeNet-5's convolutions and pooling
# (``digitlens.nn.cnn.LENET5_FEATURES``) before the dense layers ``layers[1:]``
NETS = ("mlp", "lenet5")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (flags override a preset's values)."""

    layers: tuple[int, ...] = (784, 512, 256, 10)
    activation: str = "relu"
    output: str = "softmax"
    cost: str = "cross_entropy"
    init: str = "he"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    batch_size: int = 128
    l2: float = 0.0
    epochs: int = 10
    schedule: str = "constant"
    seed: int = 0
    dataset: str = "mnist"
    train_size: int | None = None
    preset: str = "custom"
    net: str = "mlp"

    def to_dict(self) -> dict[str, Any]:
        """The fields; ``net`` only for a convolutional run (a fully connected run's files and
        JSON read as they always did)."""
        d = asdict(self)
        d["layers"] = list(self.layers)
        if self.net == "mlp":
            del d["net"]
        return d

    def cnn_layers(self) -> tuple[Layer, ...]:
        """LeNet-5's convolutions and pooling, then this config's dense layers after the input
        (``net`` "lenet5")."""
        dense = [Dense(n, self.activation) for n in self.layers[1:-1]]
        return (*LENET5_FEATURES, *dense, Dense(self.layers[-1], self.output))

    def n_params(self) -> int:
        """How many weights and biases the network has."""
        side = math.isqrt(self.layers[0])
        if self.net == "mlp" or side * side != self.layers[0]:
            return n_params(self.layers)
        return sum(int(np.prod(w)) + int(np.prod(b))
                   for w, b in param_shapes((1, side, side), self.cnn_layers()))

    def label(self) -> str:
        """The network in a few characters: '784-512-256-10', or 'conv 6-16 · 120-84-10' for
        LeNet-5 (its two convolutions, then the dense layers after the input)."""
        if self.net == "mlp":
            return "-".join(map(str, self.layers))
        return short_label(self.cnn_layers())

    def with_overrides(self, **kw: Any) -> TrainConfig:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


MAX_EPOCHS = 100_000
MAX_SERVER_EPOCHS = 250  # the web's training form (a shared server): room for S3's 230


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _whole(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def _layers_ok(sizes: Any) -> bool:
    return (isinstance(sizes, tuple | list) and 2 <= len(sizes) <= MAX_LAYERS + 1
            and all(_whole(s) and 1 <= s <= MAX_NEURONS for s in sizes)
            and n_params(sizes) <= MAX_PARAMS)


# The one set of training rules: field -> (the check, what a value must be). Presets, the CLI's
# train flags, the web's training form, ``dl.train``, a sweep's grid and a run's config.json
# are all checked by these (``check_field``, ``validate_config``), with these words.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "layers": (_layers_ok, f"two or more positive sizes (at most {MAX_LAYERS + 1}, each at "
               f"most {MAX_NEURONS:,}) with at most {MAX_PARAMS:,} parameters"),
    "activation": (lambda x: x in HIDDEN, f"one of {', '.join(HIDDEN)}"),
    "output": (lambda x: x in OUTPUTS, f"one of {', '.join(OUTPUTS)}"),
    "cost": (lambda x: x in COSTS, f"one of {', '.join(COSTS)}"),
    "init": (lambda x: x in INITS, f"one of {', '.join(INITS)}"),
    "optimizer": (lambda x: x in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
    "lr": (lambda x: _number(x) and x > 0, "a float > 0"),
    "momentum": (lambda x: _number(x) and x >= 0, "a finite float >= 0"),
    "batch_size": (lambda x: _whole(x) and x >= 1, "an int >= 1"),
    "l2": (lambda x: _number(x) and x >= 0, "a finite float >= 0"),
    "epochs": (lambda x: _whole(x) and 0 <= x <= MAX_EPOCHS, f"an int in 0..{MAX_EPOCHS}"),
    "schedule": (lambda x: x in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
    "seed": (lambda x: _whole(x) and 0 <= x < 2**63, "an int >= 0"),
    "train_size": (lambda x: x is None or (_whole(x) and x >= 1), "an int >= 1"),
    "net": (lambda x: x in NETS, f"one of {', '.join(NETS)}"),
}


def check_field(name: str, value: Any, label: str | None = None, hint: str = "") -> Any:
    """``value`` if it is a valid ``name`` of a training config, else the one ParameterError
    (``label``: the name the caller's user gave it, e.g. ``grid lr``; ``hint``: the caller's
    own spelling added to what a value must be, e.g. ``or 'all'``)."""
    ok, must = RULES[name]
    try:
        good = ok(value)
    except TypeError:  # a value of a type the rule cannot compare
        good = False
    if not good:
        raise bad_param(label or name, must + hint, list(value) if name == "layers"
                        and isinstance(value, tuple) else value)
    return value


def validate_config(c: TrainConfig) -> None:
    """One place, one message shape for every training parameter (``RULES``). Whether the
    layers fit a dataset's pixels and classes is checked where the two meet
    (``nn.train.new_model``)."""
    for name in RULES:
        check_field(name, getattr(c, name))


def training_subset(n: int, train_size: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of the ``train_size`` training images a run with ``seed`` trains on, or
    None when it uses all ``n``."""
    if train_size is None or train_size >= n:
        return None
    return np.sort(np.random.default_rng(seed + 1).permutation(n)[:train_size])


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    config: TrainConfig
    default: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        return {"name": self.name, "summary": self.summary, "layers": list(c.layers),
                "label": c.label(),
                "activation": c.activation, "output": c.output, "cost": c.cost,
                "default": self.default, "config": c.to_dict()}


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("default", "Strong demo net: 784-512-256-10 ReLU, Adam with cosine decay, 10 epochs",
           TrainConfig(layers=(784, 512, 256, 10), lr=1e-3, batch_size=128, epochs=10,
                       schedule="cosine", preset="default"), default=True),
    Preset("s0-fingerprints",
           "S0 activation fingerprints: 784-256-64-10 ReLU, Adam, batch 128, 10 epochs",
           TrainConfig(layers=(784, 256, 64, 10), epochs=10, preset="s0-fingerprints")),
    Preset("s1-single-layer",
           "S1 single-layer net: 784-10 softmax, no hidden layer, SGD, 10 epochs",
           TrainConfig(layers=(784, 10), init="xavier", optimizer="sgd", lr=0.5,
                       batch_size=100, epochs=10, preset="s1-single-layer")),
    Preset("s2-weight-images",
           "S2 weight images: 784-512-256-10 ReLU, Adam, batch 128, 10 epochs",
           TrainConfig(layers=(784, 512, 256, 10), epochs=10, preset="s2-weight-images")),
    Preset("s3-machine-academy",
           "S3 machine.academy: 784-64-10 sigmoid, cross-entropy, L2 1.5, lr 0.01, batch 500, "
           "Xavier, 230 epochs",
           TrainConfig(layers=(784, 64, 10), activation="sigmoid", output="sigmoid",
                       init="xavier", optimizer="sgd", lr=0.01, batch_size=500, l2=1.5,
                       epochs=230, seed=1, preset="s3-machine-academy")),
    Preset("lenet5", "LeNet-5: conv 6@5×5 pad 2, max-pool, conv 16@5×5, max-pool, 120-84-10 "
           "ReLU, Adam with cosine decay, batch 32, 3 epochs",
           TrainConfig(layers=(784, 120, 84, 10), net="lenet5", lr=1e-3, batch_size=32,
                       epochs=3, schedule="cosine", preset="lenet5")),
    Preset("s4-excel", "S4 Excel net: 784-30-10 sigmoid, quadratic cost, lr 3.0, batch 10 "
           "(Nielsen's settings), 30 epochs",
           TrainConfig(layers=(784, 30, 10), activation="sigmoid", output="sigmoid",
                       cost="quadratic", init="normal", optimizer="sgd", lr=3.0, batch_size=10,
                       epochs=30, preset="s4-excel")),
]}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise NotFoundError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") \
            from None


def default_preset() -> Preset:
    return next(p for p in PRESETS.values() if p.default)
