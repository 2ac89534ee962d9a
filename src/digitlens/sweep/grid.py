"""The grid: ``"hidden=16,32;train_size=500,60000"`` parsed into typed values, its points
(Cartesian product × seeds) and each point's ``TrainConfig``.

``hidden=64`` sets every hidden layer of the preset to 64 neurons (a preset without a hidden
layer gets one); ``hidden=64x32`` sets the hidden layers to exactly 64 then 32 (the depth may
change); ``layers=784-64-10`` gives the whole shape.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from digitlens.data.sources import DATASETS, io_sizes
from digitlens.errors import ParameterError, bad_param
from digitlens.nn.presets import RULES, TrainConfig, check_field, validate_config

Value = int | float | str | None
MAX_POINTS = 10_000
MAX_NAME = 120  # a point's folder name, in characters (filesystems allow 255 bytes)
SEEDS_MUST = "ints >= 0 like 0,1,2 or 0-4"


def positive_int(text: str) -> int:
    """One layer size of ``hidden`` or ``layers`` (the whole shape is checked by the rules
    once it is applied to the preset)."""
    n = int(text)
    if n < 1:
        raise ValueError
    return n


def hidden_sizes(text: str) -> int | str:
    """``64`` (every hidden layer) or ``64x32`` (exactly these hidden layers)."""
    parts = [positive_int(s) for s in text.lower().split("x")]
    return parts[0] if len(parts) == 1 else "x".join(map(str, parts))


def layer_sizes(text: str) -> str:
    return "-".join(str(positive_int(s)) for s in text.split("-"))


def train_size(text: str) -> int | None:
    return None if text == "all" else int(text)


def dataset(text: str) -> str:
    """A sweep trains on a named dataset (not a folder): one of ``DATASETS``."""
    if text not in DATASETS:
        raise ValueError
    return text


# key -> (how its text is read, the training rule that checks the value (``nn.presets.RULES``,
# the one set every entry point uses) or what the text must be where no rule applies; the
# grid's own spelling added to the rule's words)
KEYS: dict[str, tuple[Callable[[str], Value], str, str]] = {
    "hidden": (hidden_sizes, "", "a size like 64 (every hidden layer) or sizes like 64x32"),
    "layers": (layer_sizes, "", "sizes joined by '-', e.g. 784-64-10"),
    "activation": (str, "activation", ""),
    "optimizer": (str, "optimizer", ""),
    "schedule": (str, "schedule", ""),
    "init": (str, "init", ""),
    "dataset": (dataset, "", f"one of {', '.join(DATASETS)}"),
    "lr": (float, "lr", ""),
    "momentum": (float, "momentum", ""),
    "l2": (float, "l2", ""),
    "batch_size": (int, "batch_size", ""),
    "train_size": (train_size, "train_size", " or 'all'"),
}


def grid_value(key: str, raw: str) -> Value:
    """One value of the grid key ``key``: read from its text, then checked by its rule."""
    parse, rule, words = KEYS[key]
    must = RULES[rule][1] + words if rule else words
    try:
        value = parse(raw)
    except ValueError:
        raise bad_param(f"grid {key}", must, raw[:80]) from None
    return check_field(rule, value, f"grid {key}", words) if rule else value


def parse_grid(text: str) -> dict[str, list[Value]]:
    """``"key=v1,v2;key2=v3"`` -> ``{"key": [v1, v2], "key2": [v3]}``, typed and checked."""
    grid: dict[str, list[Value]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        key, sep, values = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise bad_param("grid", "'key=v1,v2;key2=v3'", part)
        if key not in KEYS:
            raise ParameterError(f"unknown grid key {key!r}; choose from {', '.join(KEYS)}")
        if key in grid:
            raise ParameterError(f"grid key {key!r} is given twice")
        raws = values.split(",", MAX_POINTS)  # sized before parsing: never more than the cap
        if len(raws) > MAX_POINTS:
            raise bad_param(f"grid {key}", f"at most {MAX_POINTS:,} values",
                            f"more than {MAX_POINTS:,}")
        parsed: dict[Value, None] = {}  # insertion-ordered, linear deduplication
        for raw in (v.strip() for v in raws):
            parsed.setdefault(grid_value(key, raw))
        if not parsed:
            raise bad_param(f"grid {key}", "at least one value", values)
        grid[key] = list(parsed)
    if not grid:
        raise bad_param("grid", "at least one 'key=v1,v2' (e.g. hidden=16,32,64)", text)
    if "hidden" in grid and "layers" in grid:
        raise ParameterError("grid keys 'hidden' and 'layers' both set the layer sizes; "
                             "use one")
    return grid


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or a range ``"0-4"``; every range is sized before it is expanded, so
    ``0-99999999999`` is refused at once (at most ``MAX_POINTS`` seeds)."""
    seeds: dict[int, None] = {}
    parts = text.split(",", MAX_POINTS)
    if len(parts) > MAX_POINTS:
        raise bad_param("seeds", f"at most {MAX_POINTS:,} seeds", text[:80])
    for part in (p.strip() for p in parts):
        lo_text, dash, hi_text = part.partition("-")
        lo, hi = seed_number(lo_text, text), seed_number(hi_text if dash else lo_text, text)
        if hi < lo:
            raise bad_param("seeds", f"{SEEDS_MUST} (a range goes from low to high)", part[:80])
        if hi - lo + 1 + len(seeds) > MAX_POINTS:  # overlaps counted twice: still bounded
            raise bad_param("seeds", f"at most {MAX_POINTS:,} seeds", text[:80])
        seeds.update(dict.fromkeys(range(lo, hi + 1)))
    return list(seeds)


def seed_number(text: str, whole: str) -> int:
    """One seed: decimal digits only (no sign, no '1_000'), at most 18 of them."""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise bad_param("seeds", SEEDS_MUST, whole[:80])
    return int(text)


def apply(base: TrainConfig, settings: dict[str, Value], seed: int) -> TrainConfig:
    """The config of one point: ``base`` with the point's settings and seed."""
    kw: dict[str, Any] = {k: v for k, v in settings.items() if k not in ("hidden", "layers")}
    if "train_size" in settings:
        kw["train_size"] = settings["train_size"]  # None (all) must override too
    layers = base.layers
    if "layers" in settings:
        layers = tuple(int(s) for s in str(settings["layers"]).split("-"))
    if "hidden" in settings:
        sizes = [int(s) for s in str(settings["hidden"]).split("x")]
        if len(sizes) == 1:
            sizes *= max(1, len(base.layers) - 2)
        layers = (base.layers[0], *sizes, base.layers[-1])
    return replace(base, **kw, layers=layers, seed=seed)


@dataclass(frozen=True)
class Point:
    """One network of the sweep: its grid settings and seed."""

    settings: dict[str, Value]
    seed: int

    @property
    def name(self) -> str:
        """The run folder's name, e.g. ``hidden64-train_size500-seed0``; one longer than
        ``MAX_NAME`` keeps its start and a hash of the whole, so it always fits a filesystem."""
        parts = [k + re.sub(r"[^A-Za-z0-9._-]", "", "all" if v is None else str(v))
                 for k, v in self.settings.items()]
        name = "-".join([*parts, f"seed{self.seed}"])
        if len(name) <= MAX_NAME:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        tail = f"-{digest}-seed{self.seed}"
        return name[:MAX_NAME - len(tail)].rstrip("-.") + tail

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "settings": dict(self.settings), "seed": self.seed}


def points(grid: dict[str, list[Value]], seeds: list[int], base: TrainConfig) -> list[Point]:
    """Every combination × seed, each checked as a training config before any work."""
    total = math.prod(len(v) for v in grid.values()) * len(seeds)
    if total > MAX_POINTS:
        raise bad_param("grid", f"at most {MAX_POINTS:,} points", f"{total:,} points")
    out = []
    for combo in itertools.product(*grid.values()):
        settings = dict(zip(grid, combo, strict=True))
        for seed in seeds:
            p = Point(settings, seed)
            config = apply(base, settings, seed)
            validate_config(config)
            ends = io_sizes(config.dataset)
            if ends is not None and (config.layers[0], config.layers[-1]) != ends:
                raise bad_param("layers", f"sizes from {ends[0]} to {ends[1]} for dataset "
                                f"{config.dataset!r}", "-".join(map(str, config.layers)))
            out.append(p)
    return out
