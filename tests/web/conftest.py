"""Fixtures for the explorer: a runs folder of small real runs, the app on a real uvicorn server
in a thread, and ``digitlens serve`` as a subprocess for the browser tests."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from digitlens.analysis.monitor import watch
from digitlens.data.sources import Dataset
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train
from digitlens.web.app import create_app
from digitlens.web.runs import Registry
from support import stop_process


@pytest.fixture(scope="session")
def runs_dir(trained_run: Path, sample: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``small`` (784-32-16-10 ReLU) and ``single`` (784-10, S1's net), both on the sample."""
    root = tmp_path_factory.mktemp("runs")
    shutil.copytree(trained_run, root / "small")
    config = TrainConfig(layers=(784, 10), init="xavier", optimizer="sgd", lr=0.5, batch_size=50,
                         epochs=3, dataset="mnist-sample", preset="s1-single-layer")
    train(config, sample, root / "single", monitor=watch)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadServer:
    """uvicorn serving an app in a background thread on a free loopback port."""

    def __init__(self, app: object) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",  # type: ignore[arg-type]
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def served_runs(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the runs for one test module's server (training tests add runs)."""
    root = tmp_path_factory.mktemp("served") / "runs"
    shutil.copytree(runs_dir, root)
    return root


@pytest.fixture(scope="module")
def api_url(served_runs: Path) -> Iterator[str]:
    """A training-enabled server on loopback, refusing foreign Host headers."""
    app = create_app(Registry(served_runs), allow_training=True,
                     allowed_hosts=["127.0.0.1", "localhost"])
    with ThreadServer(app) as url:
        yield url


@pytest.fixture(scope="module")
def client(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=60) as c:
        yield c


class Served:
    """``digitlens serve`` as a subprocess; its printed URL and its output."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "digitlens", "serve", "--port", "0",
                                      *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"serve printed no URL: {line!r} {self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.url = match.group(1)

    def stop(self) -> str:
        """Stop the server; its remaining stderr."""
        return stop_process(self.proc)


@pytest.fixture(scope="module")
def served(served_runs: Path) -> Iterator[Served]:
    s = Served("--runs-dir", str(served_runs), "--run", str(served_runs / "small"))
    try:
        yield s
    finally:
        s.stop()

