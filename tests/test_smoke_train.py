"""The sample run trains to a sensible accuracy and its files exist."""

from __future__ import annotations

import json
from pathlib import Path

from digitlens.nn.io import load_model


def test_small_run_learns(trained_run: Path, sample) -> None:
    history = json.loads((trained_run / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    assert history[-1]["test_accuracy"] > 0.80
    model = load_model(trained_run)
    assert (model.predict(sample.test_images) == sample.test_labels).mean() == history[-1][
        "test_accuracy"]
    assert sorted(p.name for p in (trained_run / "snapshots").iterdir()) == [
        f"epoch-{e:04d}.npz" for e in range(6)]
