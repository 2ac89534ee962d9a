"""Custom datasets end to end through the real CLI: train, `data info`, the model's record of
its data, finding the data again (and refusing it once changed), image folders, sklearn digits."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets_support import FILES, NAMES, bars, idx_folder, image_folder
from digitlens.data.idx import write_idx
from digitlens.nn.io import load_model

pytestmark = pytest.mark.e2e


def cli(*args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "digitlens", *args], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "DIGITLENS_THREADS": "1", **env})
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def last_json(proc: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    return lines[0]


def raw_sha256(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha256(gzip.decompress(data) if path.suffix == ".gz" else data).hexdigest()


def test_custom_idx_folder_train_info_record_and_find_again(tmp_path: Path) -> None:
    data = idx_folder(tmp_path / "My Symbols")
    run = tmp_path / "run"
    summary = last_json(cli("train", "--data-dir", str(data), "--preset", "s0-fingerprints",
                            "--epochs", "4", "--batch-size", "32", "--out", str(run), "--json"))
    assert summary["config"]["layers"] == [144, 256, 64, 3]  # the preset's ends replaced
    assert "144-256-64-3" in summary["assumed"]["layers"]
    assert summary["dataset"] == "my-symbols" and summary["test_accuracy"] >= 0.9

    info = last_json(cli("data", "info", "--data-dir", str(data), "--json"))
    assert (info["dataset"], info["kind"], info["image_shape"]) == ("my-symbols", "custom",
                                                                    [12, 12])
    assert info["class_names"] == list(NAMES) and (info["train"], info["test"]) == (240, 60)
    assert info["train_per_class"] == [80, 80, 80] and info["test_per_class"] == [20, 20, 20]
    files = {p: data / FILES[p] for p in ("train_images", "train_labels")}
    files.update({p: data / (FILES[p] + ".gz") for p in ("test_images", "test_labels")})
    assert {p: info["sha256"][p] for p in files} == {p: raw_sha256(f) for p, f in files.items()}

    meta = load_model(run).meta
    assert meta["input_shape"] == [12, 12] and meta["class_names"] == list(NAMES)
    assert meta["dataset"]["kind"] == "custom" and meta["dataset"]["sha256"] == info["sha256"]
    assert meta["dataset"]["path"] == str(data.resolve())

    ev = last_json(cli("evaluate", str(run), "--json"))  # found again from the record
    assert ev["dataset"] == "my-symbols" and ev["accuracy"] == summary["test_accuracy"]
    assert ev["class_names"] == list(NAMES) and len(ev["per_class_accuracy"]) == len(NAMES)
    text = cli("evaluate", str(run)).stdout
    assert all(f"class {c} ({name}): " in text for c, name in enumerate(NAMES))

    bad = cli("train", "--data-dir", str(data), "--layers", "784-32-10", "--epochs", "1",
              "--out", str(tmp_path / "bad"), ok=False)
    line = one_error_line(bad)
    assert "784-32-10" in line and "'my-symbols'" in line and "144" in line and "3 classes" in line
    assert not (tmp_path / "bad").exists()

    labels = np.arange(60, dtype=np.uint8)[::-1] % 3  # the same counts, other labels
    write_idx(data / (FILES["test_labels"] + ".gz"), labels)
    for args in (("evaluate", str(run)), ("render", "fingerprints", "--run", str(run),
                                          "--out", str(tmp_path / "f.png")),
                 ("report", "--run", str(run), "--out", str(tmp_path / "report"))):
        line = one_error_line(cli(*args, ok=False))
        assert "'my-symbols'" in line and "has changed since the model was trained" in line
        assert "test_labels" in line
    assert not (tmp_path / "f.png").exists() and not (tmp_path / "report").exists()
    ev = last_json(cli("evaluate", str(run), "--data-dir", str(data), "--json"))  # asked for
    assert ev["dataset"] == "my-symbols"


def test_image_folder_train(tmp_path: Path) -> None:
    data = image_folder(tmp_path / "shapes")
    run = tmp_path / "run"
    summary = last_json(cli("train", "--data-dir", str(data), "--normalise", "mnist",
                            "--image-size", "16x16", "--layers", "256-32-3", "--epochs", "15",
                            "--batch-size", "10", "--out", str(run), "--json"))
    assert summary["assumed"] == {} and summary["test_accuracy"] >= 0.9
    meta = load_model(run).meta
    assert meta["input_shape"] == [16, 16]
    assert meta["class_names"] == ["circle", "cross", "line"]
    rec = meta["dataset"]
    assert (rec["kind"], rec["format"], rec["image_size"], rec["normalise"]) == (
        "custom", "image-folder", [16, 16], "mnist")
    info = last_json(cli("data", "info", "--data-dir", str(data), "--normalise", "mnist",
                         "--image-size", "16x16", "--json"))
    assert info["sha256"] == rec["sha256"] and info["test_per_class"] == [6, 6, 6]
    assert last_json(cli("evaluate", str(run), "--json"))["accuracy"] == summary["test_accuracy"]


def test_sklearn_digits_train(tmp_path: Path) -> None:
    try:
        from sklearn import datasets as sklearn_datasets
    except ImportError:  # the optional extra digitlens[sklearn]; CI has it
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail("scikit-learn is required for end-to-end tests in CI")
        pytest.skip("scikit-learn not installed")
    info = last_json(cli("data", "info", "--dataset", "sklearn-digits", "--json"))
    assert (info["train"], info["test"], info["image_shape"]) == (1438, 359, [8, 8])
    digits = sklearn_datasets.load_digits()  # the oracle: the package's own counts per class
    assert np.add(info["train_per_class"], info["test_per_class"]).tolist() == np.bincount(
        digits.target).tolist()
    run = tmp_path / "run"
    summary = last_json(cli("train", "--dataset", "sklearn-digits", "--layers", "64-32-10",
                            "--epochs", "20", "--batch-size", "32", "--lr", "0.003",
                            "--out", str(run), "--json"))
    assert summary["test_accuracy"] >= 0.9
    meta = load_model(run).meta
    assert meta["input_shape"] == [8, 8] and meta["dataset"]["kind"] == "package"
    assert last_json(cli("evaluate", str(run), "--json"))["dataset"] == "sklearn-digits"


def test_render_reaches_a_custom_dataset(tmp_path: Path) -> None:
    """A 28×28 custom dataset of 3 named classes: render finds it from the run alone."""
    data = idx_folder(tmp_path / "bars28", size=28)
    run = tmp_path / "run"
    cli("train", "--data-dir", str(data), "--preset", "s1-single-layer", "--epochs", "2",
        "--out", str(run))
    out = tmp_path / "evidence.png"
    result = last_json(cli("render", "evidence", "--run", str(run), "--digit", "0", "--out",
                           str(out), "--json"))
    assert result["out"] == str(out) and out.stat().st_size > 1000


def test_predict_names_and_a_model_without_a_dataset(tmp_path: Path) -> None:
    """`predict` says a class's name, not only its number; a model that records no dataset
    (as an import) and does not fit MNIST asks for the data instead of blaming MNIST."""
    from PIL import Image

    from digitlens.nn.io import save_model
    data = idx_folder(tmp_path / "bars")
    run = tmp_path / "run"
    cli("train", "--data-dir", str(data), "--preset", "s1-single-layer", "--epochs", "3",
        "--batch-size", "32", "--out", str(run))
    images, labels = bars(6, 2)
    paths = []
    for i, image in enumerate(images):
        paths.append(str(tmp_path / f"b{i}.png"))
        Image.fromarray(np.kron(image, np.ones((4, 4), np.uint8))).save(paths[-1])
    pred = last_json(cli("predict", str(run), *paths, "--json"))["predictions"]
    model = load_model(run)
    for row in pred:  # the oracle: the model's own class names, indexed by its answer
        assert row["class_name"] == model.class_names[row["digit"]] == NAMES[row["digit"]]
    text = cli("predict", str(run), paths[0]).stdout.strip()
    assert text.startswith(f"{paths[0]}: {pred[0]['class_name']} (class {pred[0]['digit']}, ")

    # a class is asked for by its name as well as by its number: the same answers
    by_name = last_json(cli("nudge", str(run), "--test-index", "0", "--target", NAMES[2],
                            "--json"))
    by_number = last_json(cli("nudge", str(run), "--test-index", "0", "--target", "2",
                              "--json"))
    assert by_name["to"] == by_name["target"] == 2 and by_name == by_number
    assert last_json(cli("dream", str(run), "--class", NAMES[1], "--steps", "5", "--json"))[
        "neuron"] == 1
    bad = cli("attribute", str(run), "--test-index", "0", "--target", "left", ok=False)
    assert bad.returncode == 2 and bad.stderr == ("digitlens: error: --target left: not a class "
                                                  "of this model (0..2 or a name: top, middle, "
                                                  "bottom)\n")

    views = [tmp_path / "by-name.png", tmp_path / "by-number.png", tmp_path / "other.png"]
    for digit, out in zip((NAMES[2], "2", "0"), views, strict=True):
        cli("render", "evidence", "--run", str(run), "--digit", digit, "--out", str(out))
    assert views[0].read_bytes() == views[1].read_bytes() != views[2].read_bytes()
    book = last_json(cli("export", str(run), "--format", "xlsx", "--digit", NAMES[1], "--out",
                         str(tmp_path / "b.xlsx"), "--json"))
    first = int(np.flatnonzero(bars(60, 2)[1] == 1)[0])  # the test split idx_folder wrote
    assert book["label"] == 1 and book["shows"] == f"bars test image #{first} (label 1, middle)"

    net = tmp_path / "net.json"  # another format: every command reads it as `import` does
    cli("export", str(run), "--format", "json", "--out", str(net))
    ev_json = last_json(cli("evaluate", str(net), "--data-dir", str(data), "--json"))
    ev_run = last_json(cli("evaluate", str(run), "--json"))
    assert ev_json["accuracy"] == ev_run["accuracy"]
    assert ev_json["class_names"] == list(NAMES)

    # a model file (here the .json network) makes a report too; the training story, which
    # needs the run's history, says it is left out
    report = last_json(cli("report", "--run", str(net), "--data-dir", str(data), "--out",
                           str(tmp_path / "report"), "--no-compare", "--json"))
    page = Path(report["index"]).read_text()
    assert "Left out: this section shows training epoch by epoch" in page
    assert "0 epochs" not in page and f"{ev_run['accuracy']:.2%}" in page

    bare = model.copy()
    del bare.meta["dataset"]
    save_model(bare, tmp_path / "bare.npz")
    out = tmp_path / "w.png"
    # decided from the model's shape alone: with no MNIST anywhere and downloads allowed,
    # nothing is fetched or fallen back to before the one line
    line = one_error_line(cli("render", "weights", "--run", str(tmp_path / "bare.npz"),
                              "--out", str(out), ok=False, DIGITLENS_CACHE=str(tmp_path / "c"),
                              DIGITLENS_OFFLINE="", DIGITLENS_MNIST_MIRRORS="http://127.0.0.1:9/"))
    assert "12×12 images into 3 classes and records no dataset" in line and "--data-dir" in line
    assert not out.exists()
    cli("render", "weights", "--run", str(tmp_path / "bare.npz"), "--data-dir", str(data),
        "--out", str(out))
    assert out.stat().st_size > 1000
    line = one_error_line(cli("evaluate", str(run), "--dataset", "mnist-sample", ok=False))
    assert f"error: {run}: the model reads 144 inputs but dataset 'mnist-sample'" in line


def test_a_folder_of_neither_layout_names_both(tmp_path: Path) -> None:
    (tmp_path / "photos" / "training" / "a").mkdir(parents=True)  # not train/, so neither
    line = one_error_line(cli("data", "info", "--data-dir", str(tmp_path / "photos"), ok=False))
    assert "neither an IDX folder" in line and "nor an image folder (train/<class>/" in line


def test_server_keeps_one_image_folder_at_two_sizes_apart(tmp_path: Path) -> None:
    """Two runs on one image folder, read at its own 10×10 and at 16×16: the server finds each
    its own test set (the folder, its size and normalisation are one dataset record)."""
    from digitlens.web.runs import Registry
    data = image_folder(tmp_path / "shapes")
    runs = tmp_path / "runs"
    native = cli("train", "--data-dir", str(data), "--layers", "100-3", "--epochs", "1",
                 "--out", str(runs / "native"))
    sixteen = cli("train", "--data-dir", str(data), "--image-size", "16x16", "--normalise",
                  "mnist", "--layers", "256-3", "--epochs", "1", "--out", str(runs / "sixteen"))
    from PIL import Image  # dark shapes on white, read as they are: the user hears of it
    mean = np.mean([np.asarray(Image.open(f).convert("L")) for f in
                    sorted((data / "train").glob("*/*.png"))])
    assert mean > 127 and f"mostly bright (mean grey {mean:.0f} of 255)" in native.stderr
    assert "--normalise mnist" in native.stderr and "mostly bright" not in sixteen.stderr
    registry = Registry(runs)
    for name, side in (("native", 10), ("sixteen", 16), ("native", 10)):
        served = registry.get(name)
        assert served.dataset.test_images.shape[1:] == (side, side) == served.model.input_shape
