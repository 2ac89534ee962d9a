"""``digitlens step`` through a real subprocess: the JSON fields, the run left as it was,
--out, and one error line for bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from digitlens.nn.onestep import one_step

pytestmark = pytest.mark.e2e


def run(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "digitlens", "step", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == code, proc.stderr
    if code:
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    return proc


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_wrong_label_step_and_its_json(trained_run: Path, sample: Dataset,
                                         tmp_path: Path) -> None:
    model, files = load_model(trained_run), fingerprint(trained_run)
    true = int(sample.test_labels[3])
    wrong = (true + 5) % 10
    proc = run(str(trained_run), "--test-index", "3", "--label", str(wrong), "--lr", "0.05",
               "--optimizer", "momentum", "--json", "--out", str(tmp_path / "stepped"))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert fingerprint(trained_run) == files  # the run on disk is only read
    x = sample.test_images[3].ravel().astype(np.float32) / 255
    ref = one_step(model, x, wrong, 0.05, "momentum")
    assert out["test_index"] == 3 and out["true_label"] == true and out["label"] == wrong
    assert out["optimizer"] == "momentum"
    # the CLI and one_step run the same float32 calls on the same row on this same CPU (one
    # kernel, one order): equal but for the JSON round trip, inside approx's rel 1e-6
    assert out["loss_before"] == pytest.approx(ref.loss_before)
    assert out["loss_after"] == pytest.approx(ref.loss_after)
    assert out["loss_after"] < out["loss_before"]
    assert out["probabilities_after"][wrong] > out["probabilities_before"][wrong]
    assert out["prediction_before"] == int(np.argmax(out["probabilities_before"]))
    assert out["prediction_after"] == int(np.argmax(out["probabilities_after"]))
    assert out["gradient_norms"] == pytest.approx(ref.gradient_norms)
    assert len(out["gradient_norms"]) == model.n_layers
    stepped = load_model(tmp_path / "stepped")
    assert np.array_equal(stepped.params, ref.model.params)
    assert stepped.meta["stepped_from"]["label"] == wrong


def test_an_image_step_in_words(trained_run: Path, sample: Dataset, tmp_path: Path) -> None:
    Image.fromarray(sample.test_images[0]).save(tmp_path / "d.png")
    proc = run(str(trained_run), "--image", str(tmp_path / "d.png"), "--label", "3")
    assert proc.stdout.startswith("teaching 3: loss ") and "->" in proc.stdout


@pytest.mark.parametrize(("extra", "code", "words"), [
    (["--label", "10"], 2, "not a class"), (["--label", "3", "--lr", "0"], 2, "'lr'"),
    (["--label", "3", "--lr", "1e9"], 2, "'lr'"), (["--label", "3", "--lr", "nan"], 2, "'lr'"),
    (["--label", "3", "--lr", "x"], 2, "invalid float"),
    (["--label", "3", "--optimizer", "rmsprop"], 2, "invalid choice"),
    (["--label", "3", "--image", "BLANK"], 1, "blank")])
def test_bad_input_is_one_line(extra: list[str], code: int, words: str, trained_run: Path,
                               tmp_path: Path) -> None:
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "blank.png")
    args = [a.replace("BLANK", str(tmp_path / "blank.png")) for a in extra]
    where = [] if "--image" in args else ["--test-index", "0"]
    proc = run(str(trained_run), *where, *args, code=code)
    assert words in proc.stderr


def test_out_never_overwrites(trained_run: Path) -> None:
    proc = run(str(trained_run), "--test-index", "0", "--label", "3", "--out", str(trained_run),
               code=1)
    assert "already exists" in proc.stderr
