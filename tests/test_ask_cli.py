"""nudge, attribute and dream through a real subprocess: the JSON contract and the errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlens.nn.io import load_model

pytestmark = pytest.mark.e2e


def run(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "digitlens", *args], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == code, proc.stderr
    if code:
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    return proc


def last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_nudge_one_digit_and_the_table(trained_run: Path, sample) -> None:
    model = load_model(trained_run)
    out = last_json(run("nudge", str(trained_run), "--test-index", "2", "--json"))
    adv = np.array(out["adversarial"])
    assert adv.shape == (784,) and adv.min() >= 0 and adv.max() <= 1
    assert int(model.trace(adv).prediction[0]) == out["to"] != out["from"]
    x = sample.test_images[2].ravel() / 255
    # l2 unrounded, adv written to 5 decimals: ‖Δ‖ ≤ √784·5e-6 ≈ 1.4e-4
    assert out["l2"] == pytest.approx(np.linalg.norm(adv - x), abs=1e-3)
    assert out["test_index"] == 2 and out["changed_pixels"] > 0 and out["linf"] > 0
    aimed = last_json(run("nudge", str(trained_run), "--test-index", "2", "--target",
                          str((out["from"] + 1) % 10), "--json"))
    assert aimed["to"] == (out["from"] + 1) % 10
    fg = last_json(run("nudge", str(trained_run), "--test-index", "2", "--method", "fgsm",
                       "--json"))
    # FGSM moves every changed pixel by ε, clipped into 0..1: linf = ε up to float32 (≤ u)
    assert fg["method"] == "fgsm" and fg["epsilon"] == pytest.approx(fg["linf"], abs=1e-5)
    table = last_json(run("nudge", str(trained_run), "--test-count", "12", "--json"))
    assert table["n"] == 12 and table["flipped"] == 12
    assert [r["test_index"] for r in table["results"]] == list(range(12))
    # a median of the float64 numbers the table lists: float64 both sides
    assert table["median_l2"] == pytest.approx(np.median([r["l2"] for r in table["results"]]))


def test_attribute_and_completeness(trained_run: Path, tmp_path: Path, sample) -> None:
    out = last_json(run("attribute", str(trained_run), "--test-index", "4", "--steps", "64",
                        "--json"))
    assert out["method"] == "integrated-gradients" and len(out["attributions"]) == 784
    assert out["completeness_error"] <= 0.01
    diff = out["score"] - out["baseline_score"]
    # the method's 1% completeness, plus 784 attributions rounded to 6 decimals (≤ 4e-4)
    assert sum(out["attributions"]) == pytest.approx(diff, rel=0.011)
    png = tmp_path / "digit.png"
    Image.fromarray(255 - sample.test_images[4]).resize((140, 140)).save(png)
    gi = last_json(run("attribute", str(trained_run), "--image", str(png), "--method",
                       "gradient-input", "--baseline", "blur", "--target", "3", "--json"))
    assert gi["target"] == 3 and gi["baseline"] == "blur" and gi["image"] == str(png)


def test_dream_json(trained_run: Path) -> None:
    out = last_json(run("dream", str(trained_run), "--class", "5", "--json"))
    assert len(out["image"]) == 784 and out["layer"] == 2 and out["neuron"] == 5
    assert out["activation"] > out["max_train_activation"] > out["start_activation"]
    hidden = last_json(run("dream", str(trained_run), "--layer", "0", "--neuron", "3",
                           "--steps", "50", "--json"))
    assert hidden["activation"] >= hidden["start_activation"] and hidden["steps"] == 50


def test_bad_input_is_one_line(trained_run: Path, tmp_path: Path) -> None:
    r = str(trained_run)
    pred = last_json(run("nudge", r, "--test-index", "0", "--json"))["from"]
    assert "other than the current" in run("nudge", r, "--test-index", "0", "--target",
                                           str(pred), code=2).stderr
    assert "--target 10: not a class" in run("nudge", r, "--test-index", "0", "--target", "10",
                                            code=2).stderr
    assert "'test-index'" in run("nudge", r, "--test-index", "99999", code=2).stderr
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    assert "blank" in run("nudge", r, "--image", str(blank), code=1).stderr
    assert "blank" in run("attribute", r, "--image", str(blank), code=1).stderr
    assert "exactly one" in run("attribute", r, code=1).stderr
    assert "'neuron'" in run("dream", r, "--layer", "0", "--neuron", "32", code=2).stderr
    assert "--class 10: not a class" in run("dream", r, "--class", "10", code=2).stderr
    assert "'layer'" in run("dream", r, "--layer", "7", "--neuron", "0", code=2).stderr
    flat = load_model(trained_run)
    flat.params[...] = 0
    flat.biases[-1][1] = 1.0
    from digitlens.nn.io import save_model
    save_model(flat, tmp_path / "flat.npz")
    assert "found no change within the 0..1 pixel box" in run(
        "nudge", str(tmp_path / "flat.npz"), "--test-index", "0", "--dataset", "mnist-sample",
        code=1).stderr
