"""``dl.step`` gives ``digitlens step``'s answer (the same numbers, the run left as it was),
with a repr that says what moved and a picture; bad arguments are DigitlensErrors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.notebook.test_questions import PNG, cli_json

import digitlens as dl
from digitlens.errors import DigitlensError


def test_step_is_the_cli_step(trained_run: Path) -> None:
    run = dl.load(trained_run, dataset="mnist-sample")
    before = run.model.params.copy()
    s = dl.step(run, index=2, label="3", lr=0.05, optimizer="momentum")
    want = cli_json("step", str(trained_run), "--test-index", "2", "--label", "3", "--lr",
                    "0.05", "--optimizer", "momentum", "--dataset", "mnist-sample")
    # the CLI and dl.* run the same float32 calls on the same data on this same CPU (one
    # kernel, one summation order; the CLI's single thread splits only the outputs), so the
    # answers agree but for the JSON round trip of a float64 (1e-6 is ample)
    assert s.loss_before == pytest.approx(want["loss_before"], rel=1e-6)
    assert s.loss_after == pytest.approx(want["loss_after"], rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(s.probabilities_after, want["probabilities_after"], atol=1e-6)
    assert (s.prediction_before, s.prediction_after) == (want["prediction_before"],
                                                         want["prediction_after"])
    assert np.array_equal(run.model.params, before)  # the run is never changed
    assert not np.array_equal(s.model.params, before)
    assert repr(s).startswith("<step teaching 3 (momentum, lr 0.05): loss ")
    assert s._repr_png_().startswith(PNG)
    # an image answers as its test index does (the same row, the same calls: 1e-6 is ample)
    image = run.dataset.test_images[2]
    assert dl.step(run, image, label=3, lr=0.05, optimizer="momentum").loss_after \
        == pytest.approx(s.loss_after, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("kwargs", [{"label": None}, {"label": 99}, {"label": True},
                                    {"label": 3, "lr": float("nan")}, {"label": 3, "lr": 0},
                                    {"label": 3, "optimizer": "lbfgs"}])
def test_bad_steps_are_digitlens_errors(trained_run: Path, kwargs: dict) -> None:
    run = dl.load(trained_run, dataset="mnist-sample")
    with pytest.raises(DigitlensError):
        dl.step(run, index=0, **kwargs)
    with pytest.raises(DigitlensError, match="blank"):
        dl.step(run, np.zeros((28, 28)), label=3)
