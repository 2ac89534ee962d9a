"""``dl.patch`` and ``dl.circuit`` give the CLI's answers, with a one-line repr and a picture."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.notebook.test_questions import PNG, cli_json

import digitlens as dl
from digitlens.errors import DigitlensError


def test_patch_and_circuit_from_python(trained_run: Path) -> None:
    run = dl.load(trained_run, dataset="mnist-sample")
    p = dl.patch(run, source_index=1, into_index=0, layer=0)
    assert p.prediction_after == p.source_prediction  # the whole layer: B becomes A
    want = cli_json("patch", str(trained_run), "--source-index", "1", "--into-index", "0",
                    "--layer", "0", "--dataset", "mnist-sample")
    assert (p.prediction_before, p.prediction_after) == (want["prediction_before"],
                                                         want["prediction_after"])
    names = run.model.class_names
    assert repr(p) == (f"<patch of layer 0 ({len(p.patched)} neurons from a "
                       f"{names[p.source_prediction]}): {names[p.prediction_before]} -> "
                       f"{names[p.prediction_after]} "
                       f"({p.probabilities_after[p.prediction_after]:.0%} sure)>")
    assert p._repr_png_().startswith(PNG)
    want = cli_json("circuit", str(trained_run), "--test-index", "7", "--max-nodes", "8",
                    "--dataset", "mnist-sample")
    c = dl.circuit(run, index=7, max_nodes=8)
    assert [[n["layer"], n["neuron"]] for n in want["nodes"]] == [[a, b] for a, b, _ in c.nodes]
    # the CLI and dl.circuit: the same float64 gaps from the same float32 pass on this CPU;
    # rel 1e-9 allows the JSON round trip only
    assert c.restored == pytest.approx(want["restored"], rel=1e-9)
    assert repr(c).startswith(f"<circuit {names[c.target]} over {names[c.contrast]}: gap ")
    assert c._repr_png_().startswith(PNG)


def test_bad_patches_are_digitlens_errors(trained_run: Path) -> None:
    run = dl.load(trained_run, dataset="mnist-sample")
    with pytest.raises(DigitlensError):
        dl.patch(run, source_index=1, into_index=0, layer=run.model.n_layers - 1)
    with pytest.raises(DigitlensError):
        dl.circuit(run, index=0, max_nodes=0)
