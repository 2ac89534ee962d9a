"""`digitlens render` and `digitlens report` end to end, through the real CLI."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from digitlens.cli import main
from digitlens.render.views import CONVOLUTIONAL, VIEWS


def run_cli(capsys, *argv: str) -> tuple[int, dict, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    data = json.loads(lines[-1]) if code == 0 and "--json" in argv and lines else {}
    return code, data, err


def test_list(capsys) -> None:
    code, data, _ = run_cli(capsys, "render", "--list", "--json")
    assert code == 0
    assert [v["name"] for v in data["views"]] == list(VIEWS) == [
        "fingerprints", "evidence", "weights", "composed", "evolution", "neurons", "map",
        "compare", "errors", "nudge", "dream", "robustness", "filters", "feature-maps"]


@pytest.mark.parametrize("view", [v for v in VIEWS if v not in CONVOLUTIONAL])
def test_every_view_as_png(view, trained_run, tmp_path, capsys) -> None:
    out = tmp_path / f"{view}.png"
    extra = ["--n", "100"] if view == "robustness" else []
    extra += ["--compare", str(trained_run)] if view == "compare" else []
    extra += ["--target", "1", "--n", "40"] if view == "dream" else []
    code, data, err = run_cli(capsys, "render", view, "--run", str(trained_run), "--out",
                              str(out), "--json", *extra)
    assert code == 0, err
    assert data["view"] == view and data["frames"] == 1
    with Image.open(out) as im:
        assert im.width > 200 and im.height > 100
        px = np.asarray(im.convert("RGB"))
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 8  # a picture, not a blank


def test_dream_needs_a_target(trained_run, tmp_path, capsys) -> None:
    code, _, err = run_cli(capsys, "render", "dream", "--run", str(trained_run), "--out",
                           str(tmp_path / "d.png"))
    assert code == 2 and "--target C" in err and not (tmp_path / "d.png").exists()


def test_animations(trained_run, tmp_path, capsys) -> None:
    for view, ext, frames in (("evolution", "gif", 6), ("fingerprints", "gif", 5),
                              ("evidence", "mp4", 5)):
        out = tmp_path / f"{view}.{ext}"
        code, data, err = run_cli(capsys, "render", view, "--run", str(trained_run), "--out",
                                  str(out), "--frames", "5", "--json")
        assert code == 0, err
        assert data["frames"] >= frames and out.stat().st_size > 1000
    code, data, _ = run_cli(capsys, "render", "fingerprints", "--mode", "classes", "--run",
                            str(trained_run), "--out", str(tmp_path / "c.png"), "--json")
    assert code == 0 and len(data["data"]["consistency"]) == 3


def test_evolution_still_at_an_epoch(trained_run, tmp_path, capsys) -> None:
    out = tmp_path / "e2.png"
    code, _, err = run_cli(capsys, "render", "evolution", "--run", str(trained_run), "--epoch",
                           "2", "--out", str(out))
    assert code == 0, err
    code, _, err = run_cli(capsys, "render", "evolution", "--run", str(trained_run), "--epoch",
                           "99", "--out", str(out))
    assert code == 2 and "epoch" in err and "Traceback" not in err  # a flag value out of range


@pytest.mark.parametrize(("argv", "message", "status"), [
    (["render", "nope", "--run", "RUN", "--out", "x.png"], "unknown view", 2),
    (["render", "weights", "--run", "RUN", "--out", "x.txt"], "'out'", 2),
    (["render", "errors", "--run", "RUN", "--out", "x.mp4"], "still image", 2),
    (["render", "weights", "--run", "/no/such/run", "--out", "x.png"], "no such", 1),
    (["render", "evidence", "--run", "RUN", "--digit", "42", "--out", "x.png"], "digit", 2),
    (["render", "fingerprints", "--run", "RUN", "--frames", "0", "--out", "x.gif"], "frames", 2),
    (["render", "evolution", "--run", "RUN", "--fps", "0", "--out", "x.gif"], "fps", 2),
    (["render", "neurons", "--run", "RUN", "--layer", "5", "--out", "x.png"], "layer", 2),
])
def test_bad_input_is_one_clear_line(argv, message, status, trained_run, tmp_path,
                                     capsys) -> None:
    """A flag value out of range or not among the choices is a usage error (2); a missing run
    is 1."""
    argv = [a.replace("RUN", str(trained_run)).replace("x.", str(tmp_path / "x.")) for a in argv]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == status
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_report(trained_run, tmp_path, capsys) -> None:
    out = tmp_path / "report"
    code, data, err = run_cli(capsys, "report", "--run", str(trained_run), "--out", str(out),
                              "--json")
    assert code == 0, err
    html = (out / "index.html").read_text()
    for anchor in ("training", "fingerprints", "evidence", "weights", "neurons", "maps",
                   "errors", "robustness", "ask"):
        assert f'id="{anchor}"' in html
    assert "DeepFool median L2" in html and "dreams-classes.png" in data["files"]
    for section in re.findall(r"<section id=.*?</section>", html, re.S):  # no caption twice
        captions = re.findall(r"<figcaption>(.*?)</figcaption>", section, re.S)
        assert len(captions) == len(set(captions)), section[:80]
    for name in data["files"]:
        assert (out / name).stat().st_size > 500
        assert f'"{name}"' in html or name.endswith("-poster.png")
    assert "weights-compare.png" in data["files"]  # the 500-image twin was trained
    assert {"compare-few-many.png", "maps.png", "neurons-history.png"} <= set(data["files"])
    assert "linear-probe accuracy" in html
    assert f"{data['accuracy']:.2%}" in html
    # counts agree with their nouns; the video leaves its controls a band below the frame
    assert "after 5 epochs" in html and " 1 epochs" not in html
    assert "pruned + 1 epoch fine-tuning" in html and "its optimizer (adam" in html
    assert '<figure class="video" id="v-evolution-mp4">' in html  # sized by a rule, CSP-safe
    assert re.search(r"#v-evolution-mp4 \{ --w: \d+; --h: \d+; \}", html)
