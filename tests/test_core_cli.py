"""The CLI through a real subprocess: the JSON contract, training, evaluate, predict, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "digitlens", *args], capture_output=True,
                          text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def last_json(proc: subprocess.CompletedProcess) -> object:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_presets_json() -> None:
    presets = last_json(run("presets", "--json"))
    assert isinstance(presets, list)
    assert {"default", "s0-fingerprints", "s1-single-layer", "s2-weight-images",
            "s3-machine-academy", "s4-excel"} <= {p["name"] for p in presets}
    assert [p["name"] for p in presets if p["default"]] == ["default"]
    s3 = next(p for p in presets if p["name"] == "s3-machine-academy")
    assert s3["layers"] == [784, 64, 10] and s3["activation"] == "sigmoid"


def test_train_evaluate_predict(tmp_path: Path, sample) -> None:
    out = tmp_path / "run"
    summary = last_json(run("train", "--preset", "s1-single-layer", "--dataset", "mnist-sample",
                            "--epochs", "3", "--out", str(out), "--json"))
    assert isinstance(summary, dict)
    assert summary["epochs"] == 3 and summary["run_dir"] == str(out)
    assert [h["epoch"] for h in summary["history"]] == [1, 2, 3]
    assert summary["test_accuracy"] == summary["history"][-1]["test_accuracy"] > 0.7
    assert summary["seconds_per_epoch"] > 0

    ev = last_json(run("evaluate", str(out), "--json"))
    assert isinstance(ev, dict)
    assert ev["accuracy"] == summary["test_accuracy"]
    cm = np.array(ev["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 1000
    assert np.trace(cm) / 1000 == ev["accuracy"]
    assert " on 1,000 mnist-sample test images" in run("evaluate", str(out)).stdout  # grouped

    paths = []
    for i, digit in enumerate(sample.test_images[:8]):
        big = np.kron(digit, np.ones((5, 5), np.uint8))
        img = 255 - big if i % 2 else big              # both polarities
        path = tmp_path / f"d{i}.png"
        Image.fromarray(img).save(path)
        paths.append(str(path))
    pred = last_json(run("predict", str(out / "model.npz"), *paths, "--json"))
    assert isinstance(pred, dict)
    digits = [p["digit"] for p in pred["predictions"]]
    from digitlens.nn.io import load_model
    expected = load_model(out).predict(sample.test_images[:8])
    assert np.mean(np.array(digits) == expected) >= 0.75
    # float32 softmax sums to 1 within ~14u, and 10 values rounded to 6 decimals add ≤ 5e-6
    assert all(abs(sum(p["probabilities"]) - 1) < 1e-4 for p in pred["predictions"])

    # a small dataset (a class's drawings) without some classes in its test part: those
    # classes say so instead of showing an accuracy of 0%
    from digitlens.data.idx_folder import write_idx_folder
    keep = np.flatnonzero(np.isin(sample.test_labels, [0, 4]))[:6]
    write_idx_folder(tmp_path / "few", "few", {
        "train_images": sample.train_images[:20], "train_labels": sample.train_labels[:20],
        "test_images": sample.test_images[keep], "test_labels": sample.test_labels[keep]})
    text = run("evaluate", str(out), "--data-dir", str(tmp_path / "few")).stdout
    assert "on 6 " in text and text.count("no test images") == 8
    assert "class 1: no test images" in text and "class 0: " in text and "class 0: no" not in text


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    cases = [
        ("evaluate", str(tmp_path / "missing")),
        ("train", "--preset", "nope"),
        ("train", "--dataset", "mnist-sample", "--lr", "-1", "--out", str(tmp_path / "r")),
        ("train", "--dataset", "mnist-sample", "--epochs", "-3", "--out", str(tmp_path / "r")),
        ("predict", str(tmp_path), str(tmp_path / "x.png")),
    ]
    (tmp_path / "garbage.npz").write_bytes(b"not a zip")
    cases.append(("evaluate", str(tmp_path / "garbage.npz")))
    for args in cases:
        proc = run(*args, ok=False)
        # flag values out of range or not among the choices are usage errors (2), like
        # unparseable ones; a missing or corrupt file is 1
        usage = "-1" in args or "-3" in args or "nope" in args
        assert proc.returncode == (2 if usage else 1), args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("digitlens: error: "), proc.stderr
        assert "Traceback" not in proc.stderr
    bad = run("train", "--epochs", "abc", ok=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "digitlens: error: argument --epochs: invalid int value: 'abc' (see 'digitlens train "
        "--help')"]
    proc = run("train", "--dataset", "mnist-sample", "--lr", "-1", "--out",
               str(tmp_path / "r"), ok=False)
    assert "The 'lr' parameter must be a float > 0. Got -1.0 instead." in proc.stderr


def test_data_info_json() -> None:
    info = last_json(run("data", "info", "--dataset", "mnist-sample", "--json"))
    assert isinstance(info, dict)
    assert info["train_per_class"] == [200] * 10 and info["is_sample"] is True


def test_a_loss_learned_by_heart_is_printed_as_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """Rounding leaves the loss of a net that learned a few drawings by heart at -1e-9: the
    log says 0.0000, not -0.0000."""
    from digitlens.commands.core import Progress
    Progress(1).done({"epoch": 1, "test_accuracy": 1.0, "loss": -1e-9, "seconds": 0.5}, None)
    line = capsys.readouterr().err
    assert "loss 0.0000" in line and "-0.0000" not in line
