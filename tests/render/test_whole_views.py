"""The monitor's line under the evolution video and its chart in the neurons view."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from digitlens import palette as C
from digitlens.analysis.monitor import history_counts
from digitlens.nn.run import Run
from digitlens.render.views.evolution import LINE_H, evolution
from digitlens.render.views.monitor import history_sentence, neuron_history_chart


def test_evolution_frames_carry_the_counts_of_their_epoch(trained_run: Path,
                                                          tmp_path: Path) -> None:
    anim = evolution(Run(trained_run))
    w, h = anim.data["size"]
    frames = [anim.frame(i) for i in range(anim.n_frames)]
    assert all(f.shape == (h, w) for f in frames)
    strips = [f[-LINE_H:] for f in frames]
    assert all((s != C.WHITE).any() for s in strips)
    assert not np.array_equal(strips[0], strips[-1])  # epoch 0 says "not measured"
    # a run trained without the monitor: no line
    bare = tmp_path / "bare"
    shutil.copytree(trained_run, bare)
    hist = json.loads((bare / "history.json").read_text())
    for row in hist["epochs"]:
        row.pop("neurons")
    (bare / "history.json").write_text(json.dumps(hist))
    plain = evolution(Run(bare))
    assert plain.data["size"] == (w, h - LINE_H)


def test_history_chart_and_sentence(trained_run: Path) -> None:
    counts = history_counts(Run(trained_run).history())
    assert counts is not None
    rgb = neuron_history_chart(counts, 500, 260)
    assert rgb.shape == (260, 500, 3) and len(np.unique(rgb.reshape(-1, 3), axis=0)) > 10
    last = counts["layers"][0]
    assert (f"layer 0 (hidden): {last['dead'][-1]} dead, {last['dim'][-1]} dim"
            in history_sentence(counts))
