"""The export and import commands end to end: files out, models back in, other commands on them."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlens.cli import main
from digitlens.data.preprocess import preprocess
from digitlens.nn.io import load_model

FIXTURES = Path(__file__).parent / "fixtures"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = main(list(argv))
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, (json.loads(lines[-1]) if code == 0 and "--json" in argv else {}), err


def test_export_import_round_trips_and_other_commands_work(
        trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, ev, _ = run(capsys, "evaluate", str(trained_run), "--dataset", "mnist-sample", "--json")
    assert code == 0
    for fmt in ("json", "onnx"):
        out = tmp_path / f"net.{fmt}"
        code, res, _ = run(capsys, "export", str(trained_run), "--out", str(out), "--json")
        assert code == 0 and res["format"] == fmt and res["bytes"] == out.stat().st_size
        code, res, _ = run(capsys, "import", str(out), "--out", str(tmp_path / f"{fmt}.npz"),
                           "--json")
        assert code == 0 and res["sizes"] == [784, 32, 16, 10]
        back = load_model(tmp_path / f"{fmt}.npz")
        assert np.array_equal(back.params, load_model(trained_run).params)
        code, ev2, _ = run(capsys, "evaluate", str(tmp_path / f"{fmt}.npz"), "--dataset",
                           "mnist-sample", "--json")
        assert code == 0 and ev2["accuracy"] == ev["accuracy"]


def test_import_torch_file_then_predict(tmp_path: Path, sample,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    model_path = tmp_path / "torch.npz"
    code, res, err = run(capsys, "import", str(FIXTURES / "torch-flatten-relu-logsoftmax.onnx"),
                         "--out", str(model_path), "--json")
    assert code == 0 and res["format"] == "onnx" and "LogSoftmax" in err
    png = tmp_path / "digit.png"
    Image.fromarray(255 - sample.test_images[5]).resize((140, 140)).save(png)
    code, res, _ = run(capsys, "predict", str(model_path), str(png), "--json")
    expected = load_model(model_path).predict(preprocess(Image.open(png)).centred)[0]
    assert code == 0 and res["predictions"][0]["digit"] == expected


def test_xlsx_export_shows_the_chosen_digit(trained_run: Path, tmp_path: Path, sample,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net.xlsx"
    code, res, _ = run(capsys, "export", str(trained_run), "--format", "xlsx", "--out", str(out),
                       "--digit", "4", "--dataset", "mnist-sample", "--neuron", "2:3", "--json")
    index = int(np.flatnonzero(sample.test_labels == 4)[0])
    assert code == 0 and res["label"] == 4 and f"#{index}" in res["shows"]
    model = load_model(trained_run)
    assert res["predicted_digit"] == model.predict(sample.test_images[index])[0]
    png = tmp_path / "d.png"
    Image.fromarray(sample.test_images[9]).save(png)
    code, res, _ = run(capsys, "export", str(trained_run), "--out", str(out), "--image", str(png),
                       "--json")
    assert code == 0 and res["label"] is None
    assert res["predicted_digit"] == model.predict(preprocess(sample.test_images[9]).centred)[0]


@pytest.mark.parametrize(("argv", "message", "status"), [
    (["export", "{run}", "--out", "{tmp}/x.bin"], "'format' parameter must be one of", 2),
    (["export", "{tmp}/missing", "--out", "{tmp}/x.json"], "no such model file", 1),
    (["export", "{run}", "--out", "{tmp}/x.xlsx", "--neuron", "x"], "'neuron' parameter", 2),
    (["export", "{run}", "--out", "{tmp}/x.xlsx", "--digit", "12"], "--digit 12: not a class", 2),
    (["export", "{run}", "--out", "{tmp}/x.json", "--digit", "3"],
     "--digit only applies to the xlsx export", 2),
    (["import", "{tmp}/trunc.onnx", "--out", "{tmp}/m.npz"], "not a readable ONNX file", 1),
    (["import", "{tmp}/trunc.json", "--out", "{tmp}/m.npz"], "not valid JSON", 1),
    (["import", "{run}/model.npz", "--out", "{tmp}/m.npz"], "a digitlens model file already", 1),
    (["import", "{tmp}/s3.xlsx", "--out", "{tmp}/m.npz"],
     r"s3\.xlsx: an Excel workbook .*import reads networks saved as \.json .* or \.onnx", 1),
    (["import", "{tmp}/notes.zip", "--out", "{tmp}/m.npz"],
     r"a zip archive of 2 files that is not a network; import reads", 1),
    (["import", "{tmp}/picture.png", "--out", "{tmp}/m.npz"],
     r"import reads \.json .* or \.onnx networks, and this file is neither", 1),
])
def test_errors_are_one_line(argv: list[str], message: str, status: int, trained_run: Path,
                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Out-of-range flag values exit 2 (usage errors); bad files exit 1."""
    good = (FIXTURES / "torch-flat-sigmoid-softmax.onnx").read_bytes()
    (tmp_path / "trunc.onnx").write_bytes(good[:5000])
    (tmp_path / "trunc.json").write_text('{"format": "digitlens-network", "version": 1, "si')
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    for name, members in (("s3.xlsx", ["[Content_Types].xml", "xl/workbook.xml"]),
                          ("notes.zip", ["a.txt", "b.txt"])):
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            for m in members:
                zf.writestr(m, "x")
    args = [a.format(run=trained_run, tmp=tmp_path, fixtures=FIXTURES) for a in argv]
    extra = ["--dataset", "mnist-sample"] if "--digit" in argv else []
    code, _, err = run(capsys, *args, *extra)
    assert code == status
    assert len(err.strip().splitlines()) == 1 and err.startswith("digitlens: error:")
    assert re.search(message, err)
    assert not (tmp_path / "m.npz").exists()
