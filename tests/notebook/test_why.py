"""``dl.patch`` and ``dl.circuit`` give the CLI's answers, with a one-line repr and a picture."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.analysis.test_feature_gap import same_split
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
        dl.patch(run, source_index=1, into_index=0, layer=run.mlp.n_layers - 1)
    with pytest.raises(DigitlensError):
        dl.circuit(run, index=0, max_nodes=0)


def test_features_from_python_measure_the_clis_atlas(trained_run: Path, tmp_path: Path) -> None:
    """``dl.features(atlas=…)`` reads the file ``digitlens features`` wrote and measures it on
    the same test digits: the CLI's figures (float32 encodings in another process: the TopK
    choice can differ only at exact ties, so the shares agree to one test digit)."""
    run = dl.load(trained_run, dataset="mnist-sample")
    out = tmp_path / "atlas"
    want = cli_json("features", str(trained_run), "--layer", "1", "--features", "64", "--k",
                    "4", "--epochs", "2", "--out", str(out), "--dataset", "mnist-sample")
    f = dl.features(run, layer=1, atlas=str(out / "features.npz"))
    n = len(run.dataset.test_labels)
    assert f.atlas.l0 == pytest.approx(want["l0"], abs=1 / n)
    assert f.atlas.accuracy == want["accuracy"]  # the same network on the same digits
    assert f.atlas.accuracy_spliced == pytest.approx(want["accuracy_spliced"], abs=1 / n)
    # float64 sums of float32 rebuilds made with another thread count: far inside 1e-4
    assert f.atlas.explained_variance == pytest.approx(want["explained_variance"], abs=1e-4)
    assert f.seconds is None and f.codes.shape == (n, 64)
    assert repr(f).startswith("<features of layer 1: 64 (k 4), ")
    assert f._repr_png_().startswith(PNG)
    trained = dl.features(run, layer=1, features=32, k=2, epochs=1)  # trained here
    assert trained.sae.n_features == 32 and trained.seconds is not None
    with pytest.raises(DigitlensError):
        dl.features(run, layer=run.mlp.n_layers - 1)
    with pytest.raises(DigitlensError):
        dl.features(run, layer=0, atlas=str(out / "features.npz"))  # written for layer 1
    with pytest.raises(DigitlensError):
        dl.features(run, layer=1, k=0)
    # dl.circuit splits the gap over a last-hidden-layer atlas: the CLI's numbers
    c = dl.circuit(run, index=7, atlas=str(out / "features.npz"))
    want = cli_json("circuit", str(trained_run), "--test-index", "7", "--atlas",
                    str(out / "features.npz"), "--dataset", "mnist-sample")
    assert c.features is not None
    same_split(want["features"], c.features)  # the CLI's, in another process
    assert ", led in features by feature " in repr(c)
    assert dl.circuit(run, index=7).features is None  # the run folder holds no atlas
