"""Every question from Python (``dl.nudge``, ``dl.attribute``, ``dl.dream``, ``dl.compare``,
``dl.map``) gives the CLI's answer, for a run folder and for the same network loaded from
another tool's file, with a one-line repr and an inline picture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import digitlens as dl
from digitlens.errors import DigitlensError

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(trained_run: Path) -> dl.LoadedRun:
    return dl.load(trained_run, dataset="mnist-sample")


def cli_json(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "digitlens", *args, "--json"],
                         capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "DIGITLENS_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_nudge_and_attribute_are_the_cli_answers(run: dl.LoadedRun, trained_run: Path) -> None:
    n = dl.nudge(run, index=3, target=5)
    want = cli_json("nudge", str(trained_run), "--test-index", "3", "--target", "5",
                    "--dataset", "mnist-sample")
    assert (n.source, n.to, n.flipped) == (want["from"], want["to"], want["flipped"])
    # the CLI and dl.* run the same float32 calls on the same data on this same CPU (one
    # kernel, one summation order; the CLI's single thread splits only the outputs), so the
    # answers agree but for the JSON round trip of a float64 (rel 1e-9 is ample)
    assert n.l2 == pytest.approx(want["l2"], rel=1e-9)
    assert repr(n).startswith(f"<nudge deepfool: {n.source} -> {n.to} (")
    assert n._repr_png_().startswith(PNG)

    a = dl.attribute(run, index=3)
    want = cli_json("attribute", str(trained_run), "--test-index", "3",
                    "--dataset", "mnist-sample")
    assert a.target == want["target"]
    np.testing.assert_allclose(a.attributions, want["attributions"], atol=1e-6)  # 6 decimals
    assert f"for {run.model.class_names[a.target]}: score" in repr(a)
    assert a._repr_png_().startswith(PNG)
    # an image gives the same as its test index: a single input, a single answer
    image = run.dataset.test_images[3]
    assert dl.attribute(run, image).target == a.target
    assert isinstance(dl.nudge(run, image, target="5").to, int)


def test_dream_compare_and_map(run: dl.LoadedRun, trained_run: Path) -> None:
    d = dl.dream(run, target=2, steps=30)
    want = cli_json("dream", str(trained_run), "--class", "2", "--steps", "30",
                    "--dataset", "mnist-sample")
    # the same calls in the CLI and here, on this CPU: equal but for the JSON round trip
    assert d.activation == pytest.approx(want["activation"], rel=1e-9)
    assert d.max_train_activation == pytest.approx(want["max_train_activation"], rel=1e-9)
    assert repr(d).startswith("<dream of class 2: ") and d._repr_png_().startswith(PNG)

    c = dl.compare(run, trained_run)
    assert c.a.accuracy == c.b.accuracy and c.disagreements.size == 0
    assert all(s == pytest.approx(1.0) for *_, s in c.matches)  # float64 cosines
    assert "they disagree on 0" in repr(c)

    m = dl.map(run, layer=0)
    h = run.mlp.trace(run.mlp.as_input(run.dataset.test_images)).activations[1]
    assert m.maps[-1].points.shape == (len(h), 2)
    assert "separation by a linear probe" in repr(m) and m._repr_png_().startswith(PNG)


def test_an_imported_file_answers_as_its_run(run: dl.LoadedRun, trained_run: Path,
                                             tmp_path: Path) -> None:
    """The same network as ONNX: every question and the map view work on the loaded object
    (the view no longer re-reads the path as a digitlens model)."""
    onnx_path = tmp_path / "m.onnx"
    subprocess.run([sys.executable, "-m", "digitlens", "export", str(trained_run), "--format",
                    "onnx", "--out", str(onnx_path)], check=True, capture_output=True)
    other = dl.load(onnx_path, dataset="mnist-sample")
    assert dl.nudge(other, index=3, target=5).to == dl.nudge(run, index=3, target=5).to
    assert dl.views.map(other).size[0] > 100
    assert "imported from ONNX" in repr(other)


def test_bad_arguments_are_digitlens_errors(run: dl.LoadedRun) -> None:
    for call in (lambda: dl.nudge(run), lambda: dl.nudge(run, np.zeros(784), index=1),
                 lambda: dl.nudge(run, index=10**6), lambda: dl.nudge(run, index=True),
                 lambda: dl.nudge(run, index=0, target="eleven"),
                 lambda: dl.attribute(run, np.zeros((28, 28))),
                 lambda: dl.dream(run), lambda: dl.dream(run, target=1, layer=0),
                 lambda: dl.dream(run, target=1, steps=0), lambda: dl.map(run, method="tsne"),
                 lambda: dl.nudge(42, index=0)):  # type: ignore[arg-type]
        with pytest.raises(DigitlensError):
            call()


def test_dream_pictures_from_the_cli(run: dl.LoadedRun, trained_run: Path,
                                     tmp_path: Path) -> None:
    """`render dream` and `dream --out` draw the dream `dl.dream` computes."""
    want = dl.dream(run, target=2, steps=30)
    view = cli_json("render", "dream", "--run", str(trained_run), "--target", "2", "--n", "30",
                    "--out", str(tmp_path / "d.png"), "--dataset", "mnist-sample")
    # the same dream in the CLI and here, on this CPU: equal but for the JSON round trip
    assert view["data"]["activation"] == pytest.approx(want.activation, rel=1e-6)
    assert (tmp_path / "d.png").read_bytes().startswith(PNG)
    out = cli_json("dream", str(trained_run), "--layer", "0", "--neuron", "4", "--steps", "30",
                   "--out", str(tmp_path / "n.png"), "--dataset", "mnist-sample")
    assert out["out"] == str(tmp_path / "n.png") and (tmp_path / "n.png").stat().st_size > 500
