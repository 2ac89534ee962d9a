"""The seeds' networks and a strong default, each with the seed's hyperparameters.

L2 follows Nielsen's convention everywhere: cost += λ/(2n)·Σw² over weights, n = training-set
size, so S3's λ = 1.5 means the same as in its write-up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from digitlens.errors import NotFoundError


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
