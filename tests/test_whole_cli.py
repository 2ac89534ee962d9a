"""`digitlens render map`, `digitlens compare` and the neuron monitor's history through the real
CLI in subprocesses: results as one JSON line, every user error as one line on stderr."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlens.nn.io import load_model, save_model

pytestmark = pytest.mark.e2e


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DIGITLENS_THREADS": "1"}
    env.pop("DIGITLENS_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "digitlens", *argv], capture_output=True,
                          text=True, env=env, timeout=300)


def last_json(p: subprocess.CompletedProcess[str]) -> dict:
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def one_line_error(p: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert p.returncode == code, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digitlens: error:"), p.stderr
    assert "Traceback" not in p.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_render_map_every_layer_and_one(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.png"
    d = last_json(cli("render", "map", "--run", str(trained_run), "--out", str(out), "--json"))
    maps = d["data"]["maps"]
    assert [m["layer"] for m in maps] == [None, 0, 1]
    assert maps[-1]["separation"] > maps[0]["separation"]
    with Image.open(out) as im:
        assert im.width > 900 and len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3),
                                                axis=0)) > 20
    d = last_json(cli("render", "map", "--run", str(trained_run), "--layer", "0", "--method",
                      "pca", "--out", str(out), "--json"))
    assert [m["layer"] for m in d["data"]["maps"]] == [None, 0]


def test_map_errors(trained_run: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "m.png")
    one_line_error(cli("render", "map", "--run", str(trained_run), "--layer", "5", "--out", out),
                   2, "layer", "0..1")
    one_line_error(cli("render", "map", "--run", str(trained_run), "--method", "gradient",
                       "--out", out), 2, "pca or umap")
    single = tmp_path / "single.npz"
    from digitlens.nn.mlp import MLP
    save_model(MLP.create((784, 10), meta={"dataset": {"name": "mnist-sample"}}), single)
    one_line_error(cli("render", "map", "--run", str(single), "--out", out), 2,
                   "no hidden layer")


def test_compare_json_and_picture(trained_run: Path, tmp_path: Path) -> None:
    from digitlens.analysis.neurons import prune
    parent = load_model(trained_run)
    pruned = tmp_path / "pruned.npz"
    save_model(prune(parent, 0, [0, 3]), pruned)
    png = tmp_path / "cmp.png"
    d = last_json(cli("compare", str(trained_run), str(pruned), "--json", "--out", str(png)))
    for key in ("accuracy_a", "accuracy_b", "per_class", "disagreements", "matches"):
        assert key in d
    assert set(d["disagreements"]) >= {"count", "indices"}
    assert d["disagreements"]["count"] == len(d["disagreements"]["indices"])
    assert len(d["matches"]) == 30 and set(d["matches"][0]) == {"a", "b", "similarity"}
    assert d["matches"][0]["similarity"] == pytest.approx(1.0)  # float64 cosine, 5 decimals
    assert len(d["per_class"]) == 10
    with Image.open(png) as im:
        assert im.width > 800 and im.height > 600


def test_compare_an_imported_onnx_model(trained_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    onnx_file = tmp_path / "net.onnx"
    assert cli("export", str(trained_run), "--out", str(onnx_file)).returncode == 0
    d = last_json(cli("compare", str(onnx_file), str(trained_run), "--json"))
    assert d["accuracy_a"] == pytest.approx(d["accuracy_b"])  # counts of the same predictions
    assert d["disagreements"]["count"] == 0
    assert all(m["a"] == m["b"] for m in d["matches"])
    said = cli("compare", str(onnx_file), str(trained_run)).stdout
    assert re.search(r"they disagree on 0 of \d{1,3}(,\d{3})+ test digits", said), said  # grouped


def test_compare_a_pytorch_state_dict(tmp_path: Path) -> None:
    """A .safetensors state_dict compared with the same weights as a digitlens model: the
    reader `digitlens import` and `dl.load` use, so the two agree on every test digit."""
    fixture = Path(__file__).parent / "export" / "fixtures" / "import-relu.safetensors"
    npz = tmp_path / "same.npz"
    assert cli("import", str(fixture), "--out", str(npz)).returncode == 0
    d = last_json(cli("compare", str(fixture), str(npz), "--dataset", "mnist-sample", "--json"))
    assert d["accuracy_a"] == pytest.approx(d["accuracy_b"])  # counts
    assert d["disagreements"]["count"] == 0


def test_compare_errors(trained_run: Path, tmp_path: Path) -> None:
    from digitlens.nn.mlp import MLP
    other = tmp_path / "five.npz"
    save_model(MLP.create((784, 16, 5)), other)
    # any class count is a valid model now: refused as a comparison of different questions (2)
    one_line_error(cli("compare", str(trained_run), str(other)), 2, "10 classes", "5")
    wide = tmp_path / "wide.npz"
    save_model(MLP.create((100, 16, 10)), wide)
    one_line_error(cli("compare", str(wide), str(trained_run)), 2, "100 inputs")
    one_line_error(cli("compare", str(trained_run), str(tmp_path / "nope")), 1, "nope")


def test_render_neurons_and_evolution_without_snapshots(trained_run: Path,
                                                        tmp_path: Path) -> None:
    history = json.loads((trained_run / "history.json").read_text())["epochs"]
    assert all(len(r["neurons"]) == 2 for r in history)  # recorded while training
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "model.npz").write_bytes((trained_run / "model.npz").read_bytes())
    one_line_error(cli("render", "evolution", "--run", str(bare), "--out",
                       str(tmp_path / "e.png")), 1, "no snapshots")
