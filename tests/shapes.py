"""Datasets and models of other sizes than MNIST's, made in memory for the tests of every
surface: scikit-learn's real 8×8 digits (10 classes) and drawn 12×12 shapes (3 named classes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from digitlens.analysis.monitor import watch
from digitlens.data.sources import Dataset
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train

SHAPES = ("circle", "cross", "line")


def digits8() -> Dataset:
    """scikit-learn's 8×8 digits (values 0..16 scaled to 0..255), first 1,500 train, rest test."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.rint(d.images * (255 / 16)).astype(np.uint8)
    labels = d.target.astype(np.uint8)
    return Dataset("sklearn-digits", images[:1500], labels[:1500], images[1500:], labels[1500:],
                   "scikit-learn", {}, tuple(str(i) for i in range(10)))


def draw_shape(kind: int, rng: np.random.Generator, side: int = 12) -> np.ndarray:
    """One anti-aliased ``SHAPES[kind]`` drawn at 4× and reduced to side×side uint8."""
    big = side * 4
    img = Image.new("L", (big, big), 0)
    d = ImageDraw.Draw(img)
    r = rng.uniform(0.25, 0.4) * big
    cx, cy = rng.uniform(r + 2, big - r - 2, 2)
    width = int(rng.integers(3, 6))
    if kind == 0:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=width)
    elif kind == 1:
        d.line([cx - r, cy - r, cx + r, cy + r], fill=255, width=width)
        d.line([cx - r, cy + r, cx + r, cy - r], fill=255, width=width)
    else:
        a = rng.uniform(0, np.pi)
        dx, dy = r * np.cos(a), r * np.sin(a)
        d.line([cx - dx, cy - dy, cx + dx, cy + dy], fill=255, width=width)
    return np.asarray(img.resize((side, side), Image.Resampling.BOX), np.uint8)


def shapes12(n_train: int = 600, n_test: int = 150, seed: int = 0) -> Dataset:
    """Drawn 12×12 circles, crosses and lines; the labels cycle through the three classes."""
    rng = np.random.default_rng(seed)
    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = (np.arange(n) % 3).astype(np.uint8)
        return np.stack([draw_shape(int(k), rng) for k in labels]), labels
    tr, ytr = make(n_train)
    te, yte = make(n_test)
    return Dataset("shapes-12", tr, ytr, te, yte, "drawn", {}, SHAPES)


def train_small(ds: Dataset, hidden: tuple[int, ...], out: Path, epochs: int = 4) -> Path:
    """A short real run on ``ds`` (snapshots included) in ``out``."""
    h, w = ds.image_shape
    config = TrainConfig(layers=(h * w, *hidden, len(ds.class_names)), epochs=epochs,
                         batch_size=32, lr=3e-3, seed=1, dataset=ds.name)
    train(config, ds, out, monitor=watch)
    return out
