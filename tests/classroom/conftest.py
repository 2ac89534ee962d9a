"""Fixtures for the classroom: ``digitlens classroom`` as a real subprocess on a free port,
its database in a temporary folder, and helpers to send drawings as a phone would."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from support import stop_process


class Classroom:
    """``digitlens classroom`` as a subprocess; the two URLs it printed."""

    def __init__(self, run: Path, db: Path, port: int = 0, extra: tuple[str, ...] = ()) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.run, self.db = run, db
        self.proc = subprocess.Popen([sys.executable, "-m", "digitlens", "classroom", "--run",
                                      str(run), "--db", str(db), "--port", str(port), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        assert self.proc.stdout is not None
        first, second = self.proc.stdout.readline(), self.proc.stdout.readline()
        student = re.fullmatch(r"student: (http://\S+/)\n", first)
        teacher = re.fullmatch(r"teacher: (http://\S+/teacher\?token=([\w-]+))\n", second)
        if not (student and teacher):
            self.proc.kill()
            raise RuntimeError(f"classroom printed {first!r} {second!r} "
                               f"{self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.student, self.teacher, self.token = student[1], teacher[1], teacher[2]
        self.base = self.student.rstrip("/")
        self.port = int(self.base.rsplit(":", 1)[1])

    def stop(self) -> str:
        """Stop the server; its remaining stderr."""
        return stop_process(self.proc)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=10)


def drawing(image: np.ndarray, scale: int = 4) -> tuple[str, int, int]:
    """An MNIST digit as a phone would send it: dark ink on white, enlarged, base64 bytes."""
    big = np.kron(255 - image, np.ones((scale, scale), np.uint8))
    return base64.b64encode(big.tobytes()).decode(), big.shape[1], big.shape[0]


def submit(client: httpx.Client, device: str, label: int, image: np.ndarray) -> httpx.Response:
    gray, w, h = drawing(image)
    return client.post("/api/class/drawings", json={"device": device, "label": label,
                                                    "gray": gray, "width": w, "height": h})


@pytest.fixture(scope="module")
def lesson(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    """A lesson served from the module's trained run, its database fresh."""
    c = Classroom(trained_run, tmp_path_factory.mktemp("lesson") / "class.sqlite")
    yield c
    c.stop()
