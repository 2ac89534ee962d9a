"""Shared fixtures: the embedded real-MNIST sample and a small trained run."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.analysis.monitor import watch
from digitlens.data.sources import Dataset, load_sample
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig, get_preset
from digitlens.nn.train import train
from support import chromium, screenshot_folder


def pytest_sessionstart(session: pytest.Session) -> None:  # noqa: ARG001 - pytest's hook
    """The real MNIST once, through digitlens's own fetch (verified, into the cache), before
    any test runs; then no test downloads anything (``DIGITLENS_OFFLINE``, inherited by the
    processes tests start), so no result depends on the network or on what the cache held."""
    from digitlens.data.sources import load_dataset
    from digitlens.errors import DataError
    if not os.environ.get("DIGITLENS_OFFLINE"):
        try:
            load_dataset("mnist", fallback=False, log=lambda m: print(m, file=sys.stderr))
        except DataError as exc:
            if os.environ.get("DIGITLENS_REQUIRE_E2E"):
                pytest.exit(f"the real MNIST is needed and could not be fetched: {exc}", 1)
            print(f"note: no real MNIST ({exc}); its tests will fail", file=sys.stderr)
    os.environ["DIGITLENS_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def sample() -> Dataset:
    return load_sample()


@pytest.fixture(scope="session")
def trained_run(sample: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real run (784-32-16-10 ReLU, 5 epochs on the sample) with snapshots."""
    run = tmp_path_factory.mktemp("run") / "small"
    config = TrainConfig(layers=(784, 32, 16, 10), epochs=5, batch_size=32, seed=1,
                         dataset="mnist-sample", preset="test-small")
    train(config, sample, run, monitor=watch)
    return run


@pytest.fixture(scope="session")
def trained_model(trained_run: Path) -> MLP:
    from digitlens.nn.io import load_model
    return load_model(trained_run)


@pytest.fixture(scope="session")
def cnn_runs(trained_run: Path, sample: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``lenet`` (LeNet-5, 2 epochs on the sample) beside ``small`` (784-32-16-10 ReLU)."""
    root = tmp_path_factory.mktemp("cnn-runs")
    shutil.copytree(trained_run, root / "small")
    config = get_preset("lenet5").config.with_overrides(dataset="mnist-sample", epochs=2,
                                                         schedule="constant", seed=2)
    train(config, sample, root / "lenet", threads=1)
    return root


@pytest.fixture(scope="session")
def lenet_model(cnn_runs: Path) -> CNN:
    from digitlens.nn.io import load_network
    model = load_network(cnn_runs / "lenet")
    assert isinstance(model, CNN)
    return model


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, one per test module (a module's pages share it)."""
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a module's screenshots go (``DIGITLENS_SCREENSHOTS`` keeps them)."""
    return screenshot_folder(tmp_path_factory)
