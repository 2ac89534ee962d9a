"""The convolutional views: every kernel drawn in its colour, every channel's map for a digit
with the numbers the engine computes, from the command line; each kind of network's views
refuse the other kind in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitlens import palette as C
from digitlens.data.sources import Dataset
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN, LENET5, Conv, Dense, Pool
from digitlens.render.views.convolution import feature_maps, filters


@pytest.fixture(scope="module")
def lenet_run(cnn_runs: Path) -> Path:
    return cnn_runs / "lenet"


def test_each_kernel_is_drawn_in_its_colour() -> None:
    model = CNN.create((1, 8, 8), (Conv(2, 3), Pool(2), Conv(3, 2), Dense(2, "softmax")), seed=1)
    pic = filters(model)
    assert pic.data["layer 0"] == {"kernels": 2, "channels": 1, "size": 3,
                                   "limit": C.symmetric_limit(model.weights[0].astype(float))}
    assert pic.data["layer 2"]["kernels"] == 3 and pic.data["layer 2"]["channels"] == 2
    # kernel 1 of layer 0, its weight [0, 2], as the diverging colour of that weight
    w = model.weights[0].astype(np.float64)
    want = C.diverging(w[1, 0], pic.data["layer 0"]["limit"])[0, 2]
    assert want in pic.pixels  # the tile's colour is somewhere in the picture
    colours = set(np.unique(pic.pixels).tolist())
    assert set(np.unique(C.diverging(w, pic.data["layer 0"]["limit"])).tolist()) <= colours


def test_feature_maps_carry_the_engines_numbers(sample: Dataset) -> None:
    model = CNN.create((1, 28, 28), LENET5, seed=2)
    image = sample.test_images[3]
    pic = feature_maps(model, image, int(sample.test_labels[3]))
    p = K.forward(model, model.as_input(image))
    for i in (0, 1, 2, 3):
        maps = p.outputs[i + 1][0]
        got = pic.data[f"layer {i}"]
        assert got["maps"] == maps.shape[-1] and got["size"] == list(maps.shape[:2])
        assert got["peak"] == float(maps.max())
        assert got["lit"] == int((maps.max(axis=(0, 1)) > 0).sum())
    assert pic.data["prediction"] == int(np.argmax(p.output[0]))


def digitlens(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digitlens", *args], capture_output=True,
                          text=True, timeout=300)


def test_views_from_the_command_line_and_refusals(lenet_run: Path, trained_run: Path,
                                                  tmp_path: Path) -> None:
    for view, extra in (("filters", []), ("feature-maps", ["--digit", "7"])):
        out = tmp_path / f"{view}.png"
        got = digitlens("render", view, "--run", str(lenet_run), "--out", str(out), "--json",
                        "--dataset", "mnist-sample", *extra)
        assert got.returncode == 0, got.stderr
        data = json.loads(got.stdout.strip().splitlines()[-1])
        assert data["view"] == view
        with Image.open(out) as im:
            assert im.width > 200 and im.height > 150
    maps = json.loads(got.stdout.strip().splitlines()[-1])["data"]
    assert maps["layer 0"]["maps"] == 6 and maps["layer 2"]["maps"] == 16
    for view, run in (("filters", trained_run), ("weights", lenet_run)):
        bad = digitlens("render", view, "--run", str(run), "--out", str(tmp_path / "x.png"))
        assert bad.returncode != 0
        line = bad.stderr.strip()
        assert "\n" not in line and ("fully connected" in line or "convolutional" in line)


def test_channel_fingerprints_are_the_maps_channel_means(lenet_run: Path,
                                                          sample: Dataset) -> None:
    from digitlens.analysis.fingerprints import channel_profiles, class_fingerprints
    from digitlens.nn.io import load_network
    model = load_network(lenet_run)
    assert isinstance(model, CNN)
    x, y = sample.test_images[:400], sample.test_labels[:400]
    prof = channel_profiles(model, x)
    outs = K.forward(model, model.as_input(x)).outputs[1:]
    assert [p.shape[1] for p in prof] == [6, 6, 16, 16, 120, 84, 10]
    np.testing.assert_allclose(prof[2], outs[2].mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_array_equal(prof[4], outs[4])
    fp = class_fingerprints(model, x, y)
    sevens = prof[3][y == 7].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(fp.means[3][7], sevens, rtol=1e-9)
    assert fp.readout_accuracy[-1] > 0.8  # the output names the digit


def test_a_cnn_draws_the_views_that_fit_it_and_says_why_the_others_do_not(
        lenet_run: Path, tmp_path: Path) -> None:
    from digitlens.analysis.metrics import evaluate_model
    from digitlens.data.sources import load_sample
    from digitlens.nn.io import load_network
    for view, extra in (("fingerprints", ["--mode", "classes"]), ("errors", []),
                        ("robustness", ["--n", "60"]), ("nudge", ["--target", "3"]),
                        ("dream", ["--target", "2", "--n", "20"])):
        out = tmp_path / f"{view}.png"
        got = digitlens("render", view, "--run", str(lenet_run), "--out", str(out), "--json",
                        "--dataset", "mnist-sample", *extra)
        assert got.returncode == 0, (view, got.stderr)
        with Image.open(out) as im:
            assert im.width > 200 and im.height > 150
        if view == "errors":
            ds = load_sample()
            want = evaluate_model(load_network(lenet_run), ds.test_images, ds.test_labels)
            wrong = int(want.confusion.sum() - np.trace(want.confusion))
            assert f"{wrong:,} of" in json.loads(got.stdout.strip().splitlines()[-1])["caption"]
    for view, why in (("evidence", "weigh feature maps, not pixels"),
                      ("map", "thousands of map positions"), ("neurons", "units are channels")):
        bad = digitlens("render", view, "--run", str(lenet_run), "--out", str(tmp_path / "x.png"),
                        "--dataset", "mnist-sample")
        line = bad.stderr.strip()
        assert bad.returncode != 0 and "\n" not in line
        assert f"the {view} view does not apply to a convolutional network" in line and why in line
    # without --mode a convolutional network's fingerprints are its classes'; one digit's
    # fingerprint (--mode example) is refused: its feature maps are that
    plain = digitlens("render", "fingerprints", "--run", str(lenet_run), "--out",
                      str(tmp_path / "y.png"), "--dataset", "mnist-sample")
    assert plain.returncode == 0, plain.stderr
    one = digitlens("render", "fingerprints", "--run", str(lenet_run), "--mode", "example",
                    "--out", str(tmp_path / "z.png"), "--dataset", "mnist-sample")
    assert one.returncode != 0 and "feature-maps view" in one.stderr
