"""Small real runs of other shapes for the render tests (sample data, a few seconds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from digitlens.analysis.monitor import watch
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train
from support import require


@pytest.fixture(scope="session")
def sigmoid_run(sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An S3-shaped run, smaller: 784-20-10 sigmoid, 6 epochs, snapshots every epoch."""
    run = tmp_path_factory.mktemp("run") / "sigmoid"
    train(TrainConfig(layers=(784, 20, 10), activation="sigmoid", output="sigmoid",
                      init="xavier", optimizer="sgd", lr=0.5, batch_size=50, epochs=6,
                      dataset="mnist-sample", preset="test-sigmoid"), sample, run, monitor=watch)
    return run


@pytest.fixture(scope="session")
def single_run(sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """S1's shape: 784-10, no hidden layer."""
    run = tmp_path_factory.mktemp("run") / "single"
    train(TrainConfig(layers=(784, 10), init="xavier", optimizer="sgd", lr=0.5, batch_size=50,
                      epochs=3, dataset="mnist-sample", preset="test-single"), sample, run)
    return run


@pytest.fixture
def require_tool() -> Callable[[str], str]:
    """The shared ``require``: skip without the tool locally, fail in CI."""
    return require
