"""Training runs: resume after kill -9 ends bit-identical, settings are validated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitlens.errors import DigitlensError, ModelError, ParameterError
from digitlens.nn.io import load_model
from digitlens.nn.presets import PRESETS, TrainConfig, get_preset
from digitlens.nn.run import Run
from digitlens.nn.train import epoch_lr, train
from support import epochs_done, kill_after_epochs

ARGS = ["train", "--preset", "s0-fingerprints", "--dataset", "mnist-sample", "--layers",
        "784-256-10", "--batch-size", "16", "--seed", "4", "--epochs", "5"]


@pytest.fixture
def cli():
    """Start ``digitlens`` subprocesses; any still running at the end are killed."""
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if k != "DIGITLENS_THREADS"}
        procs.append(subprocess.Popen([sys.executable, "-m", "digitlens", *args], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        return procs[-1]
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.slow
def test_resume_after_kill_is_bit_identical(tmp_path: Path, cli) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    # one BLAS thread for both: OpenBLAS's sums depend on the count, and by default it is
    # picked by load, which two trainings running side by side change
    ref = cli(*ARGS, "--threads", "1", "--out", str(straight))
    proc = cli(*ARGS, "--threads", "1", "--out", str(killed))
    kill_after_epochs(proc, killed, 2, 120)
    done_at_kill = epochs_done(killed)
    assert 2 <= done_at_kill < 5
    resumed = cli(*ARGS, "--out", str(killed), "--json")  # the checkpoint's count is reused
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    summary = json.loads(out.decode().strip().splitlines()[-1])
    # the checkpoint is written last: history.json may be one epoch ahead of it
    assert summary["resumed_from"] in (done_at_kill - 1, done_at_kill)
    assert summary["epochs"] == 5
    assert summary["threads"] == 1  # the count the checkpoint recorded, not a new pick
    assert ref.wait(timeout=300) == 0
    a, b = load_model(straight), load_model(killed)
    assert np.array_equal(a.params, b.params)
    assert Run(straight).history()[-1]["test_accuracy"] == Run(killed).history()[-1][
        "test_accuracy"]
    assert Run(killed).snapshot_epochs() == list(range(6))
    assert not list(killed.rglob("*.tmp"))
    assert {row["threads"] for row in Run(killed).history()} == {1}


def test_resume_keeps_the_recorded_thread_count(tmp_path: Path, sample, monkeypatch) -> None:
    """Two threads round differently from one; a resumed run must not switch silently."""
    import digitlens.nn.threads as threads
    monkeypatch.delenv("DIGITLENS_THREADS", raising=False)
    c = TrainConfig(layers=(784, 32, 10), epochs=3, batch_size=20, lr=0.1, seed=3,
                    train_size=400)
    straight = train(c, sample, tmp_path / "a", threads=1)
    train(c.with_overrides(epochs=2), sample, tmp_path / "b", threads=1)
    # an idle two-core machine: the pick by load says 2
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    resumed = train(c, sample, tmp_path / "b")
    assert resumed.resumed_from == 2
    assert [row["threads"] for row in resumed.history] == [1, 1, 1]
    assert np.array_equal(straight.model.params, resumed.model.params)
    fresh = train(c, sample, tmp_path / "c")
    assert [row["threads"] for row in fresh.history] == [2, 2, 2]


def test_rerun_of_a_finished_run_trains_nothing(trained_run: Path, sample) -> None:
    config = Run(trained_run).config()
    assert config is not None
    before = (trained_run / "model.npz").read_bytes()
    result = train(config, sample, trained_run)
    assert result.resumed_from == len(result.history) == config.epochs
    assert (trained_run / "model.npz").read_bytes() == before


def test_other_settings_in_the_same_folder_are_refused(trained_run: Path, sample) -> None:
    config = Run(trained_run).config()
    assert config is not None
    with pytest.raises(DigitlensError, match="other settings"):
        train(config.with_overrides(lr=0.5), sample, trained_run)


@pytest.mark.parametrize(("override", "message"), [
    ({"lr": -1.0}, "The 'lr' parameter must be a float > 0. Got -1.0 instead."),
    ({"batch_size": 0}, "'batch_size' parameter must be an int >= 1"),
    ({"optimizer": "rmsprop"}, "'optimizer' parameter must be one of"),
    ({"layers": (784, 10, 9)}, "layers: the model has 9 outputs but dataset 'mnist-sample' "
     "has 10 classes"),
    ({"layers": (64, 10)}, "layers: the model reads 64 inputs but dataset 'mnist-sample' has "
     "784 pixels"),
    ({"layers": (784,)}, "'layers' parameter must be two or more positive sizes"),
])
def test_validation(override: dict, message: str, sample) -> None:
    with pytest.raises(ParameterError) as info:
        train(TrainConfig(epochs=1).with_overrides(**override), sample)
    assert message in str(info.value)


def test_train_size_and_cosine_schedule(sample) -> None:
    c = TrainConfig(layers=(784, 10), epochs=3, schedule="cosine", lr=0.1, train_size=100,
                    optimizer="sgd", batch_size=50)
    result = train(c, sample)
    assert [round(h["lr"], 6) for h in result.history] == [0.1, round(epoch_lr(c, 2), 6), 0.001]
    assert epoch_lr(c, 2) == pytest.approx(0.1 * (0.01 + 0.99 * 0.5))  # float64 both sides


def test_presets_are_the_seeds() -> None:
    assert sum(p.default for p in PRESETS.values()) == 1
    s3 = get_preset("s3-machine-academy").config
    assert (s3.layers, s3.activation, s3.l2, s3.lr, s3.batch_size, s3.init, s3.epochs) == (
        (784, 64, 10), "sigmoid", 1.5, 0.01, 500, "xavier", 230)
    assert get_preset("s0-fingerprints").config.layers == (784, 256, 64, 10)
    assert get_preset("s2-weight-images").config.layers == (784, 512, 256, 10)
    assert get_preset("s1-single-layer").config.layers == (784, 10)
    s4 = get_preset("s4-excel").config
    assert (s4.layers, s4.lr, s4.batch_size, s4.cost) == ((784, 30, 10), 3.0, 10, "quadratic")


def test_divergence_is_an_error_and_saves_nothing(sample, tmp_path: Path) -> None:
    c = TrainConfig(layers=(784, 16, 10), epochs=2, optimizer="sgd", lr=1e30, batch_size=100)
    with pytest.raises(DigitlensError, match="diverged in epoch 1"):
        train(c, sample, tmp_path / "run")
    assert Run(tmp_path / "run").history() == []
    load_model(tmp_path / "run")  # the initial model is still a valid file


def test_zero_epochs_still_leaves_a_model(sample, tmp_path: Path) -> None:
    train(TrainConfig(layers=(784, 10), epochs=0), sample, tmp_path / "r")
    assert load_model(tmp_path / "r").sizes == (784, 10)


def test_corrupt_checkpoint_is_a_clear_error(trained_run: Path, sample, tmp_path: Path) -> None:
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(trained_run, copy)
    data = bytearray((copy / "checkpoint.npz").read_bytes())
    data[200] ^= 0xFF
    (copy / "checkpoint.npz").write_bytes(bytes(data))
    config = Run(copy).config()
    assert config is not None
    with pytest.raises(ModelError, match="corrupt checkpoint"):
        train(config.with_overrides(epochs=config.epochs + 1), sample, copy)


def test_cosine_schedule_cannot_be_stretched(sample, tmp_path: Path) -> None:
    c = TrainConfig(layers=(784, 10), epochs=1, schedule="cosine", batch_size=200)
    train(c, sample, tmp_path / "r")
    with pytest.raises(DigitlensError, match="cannot be stretched"):
        train(c.with_overrides(epochs=3), sample, tmp_path / "r")


@pytest.mark.parametrize(("override", "message"), [
    ({"l2": float("inf")}, "'l2' parameter must be a finite float >= 0"),
    ({"seed": -1}, "'seed' parameter must be an int >= 0"),
    # the one parameter limit (safeload.MAX_PARAMS), for training as for every model file
    ({"layers": (784, 200_000, 10)}, "at most 134,217,728 parameters"),
])
def test_more_validation(override: dict, message: str, sample) -> None:
    with pytest.raises(ParameterError, match=message):
        train(TrainConfig(epochs=1).with_overrides(**override), sample)
