"""The classroom collects 28×28 drawings of the ten digits: a model of another image size or
class count is refused in one line, before anything listens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from digitlens.nn.io import save_model
from digitlens.nn.mlp import MLP


@pytest.mark.e2e
@pytest.mark.parametrize(("sizes", "meta", "said"), [
    ((64, 16, 10), {"input_shape": [8, 8]}, "reads 8×8 images into 10 classes"),
    ((784, 16, 3), {"class_names": ["a", "b", "c"]}, "reads 28×28 images into 3 classes"),
])
def test_classroom_refuses_a_model_of_other_data(sizes: tuple[int, ...], meta: dict[str, list],
                                                 said: str, tmp_path: Path) -> None:
    save_model(MLP.create(sizes, meta=meta), tmp_path / "m.npz")
    proc = subprocess.run([sys.executable, "-m", "digitlens", "classroom", "--run",
                           str(tmp_path / "m.npz"), "--port", "0", "--db",
                           str(tmp_path / "class.sqlite")], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "the classroom collects 28×28 drawings of the digits 0-9; this model " + said \
        in proc.stderr
    assert not (tmp_path / "class.sqlite").exists()
