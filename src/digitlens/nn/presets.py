"""Training configurations: what a run is (``TrainConfig``), its checks in one place, and the
seeds' networks and a strong default as presets with the seed's hyperparameters.

L2 follows Nielsen's convention everywhere: cost += λ/(2n)·Σw² over weights, n = training-set
size, so S3's λ = 1.5 means the same as in its write-up.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from digitlens.errors import NotFoundError, bad_param
from digitlens.nn.mlp import n_params
from digitlens.nn.optim import OPTIMIZERS
from digitlens.safeload import MAX_PARAMS

SCHEDULES = ("constant", "cosine")


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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d

    def with_overrides(self, **kw: Any) -> TrainConfig:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


def validate_config(c: TrainConfig) -> None:
    """One place, one message shape for every training parameter. Whether the layers fit a
    dataset's pixels and classes is checked where the two meet (``nn.train.new_model``)."""
    if not (isinstance(c.lr, int | float) and c.lr > 0 and math.isfinite(c.lr)):
        raise bad_param("lr", "a float > 0", c.lr)
    if not (isinstance(c.batch_size, int) and c.batch_size >= 1):
        raise bad_param("batch_size", "an int >= 1", c.batch_size)
    if not (isinstance(c.epochs, int) and 0 <= c.epochs <= 100_000):
        raise bad_param("epochs", "an int in 0..100000", c.epochs)
    if not (isinstance(c.l2, int | float) and c.l2 >= 0 and math.isfinite(c.l2)):
        raise bad_param("l2", "a finite float >= 0", c.l2)
    if not (isinstance(c.seed, int) and 0 <= c.seed < 2**63):
        raise bad_param("seed", "an int >= 0", c.seed)
    if c.optimizer not in OPTIMIZERS:
        raise bad_param("optimizer", f"one of {', '.join(OPTIMIZERS)}", c.optimizer)
    if c.schedule not in SCHEDULES:
        raise bad_param("schedule", f"one of {', '.join(SCHEDULES)}", c.schedule)
    if c.train_size is not None and c.train_size < 1:
        raise bad_param("train_size", "an int >= 1", c.train_size)
    if len(c.layers) < 2 or any(s < 1 for s in c.layers) or n_params(c.layers) > MAX_PARAMS:
        raise bad_param("layers", f"two or more positive sizes with at most {MAX_PARAMS:,} "
                        "parameters", list(c.layers))


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
