"""The seeds' signature pictures show the numbers they claim to: S1's panels the 784-10 net's
exact weights, S3's video the output neurons' own incoming weights on the hidden grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitlens import palette as C
from digitlens.nn.presets import TrainConfig
from digitlens.nn.run import Run
from digitlens.nn.train import train
from digitlens.render.views import evidence as EV
from digitlens.render.views.evolution import evolution, story_epochs
from support import assert_within, dense_bound


@pytest.fixture(scope="module")
def s3_shaped(sample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """784-64-10 sigmoid like S3 (an 8×8 hidden grid), three epochs on the sample."""
    run = tmp_path_factory.mktemp("run") / "s3"
    train(TrainConfig(layers=(784, 64, 10), activation="sigmoid", output="sigmoid",
                      init="xavier", optimizer="sgd", lr=0.5, batch_size=50, epochs=3,
                      dataset="mnist-sample", preset="s3-machine-academy"), sample, run)
    return run


def test_s1_panels_use_the_exact_weights(single_run, sample) -> None:
    """For 784-10 each bar is Σ pixel × weight + bias, and the drawn weight tiles are W's
    columns (not a gradient, not composed weights)."""
    model = Run(single_run).model()
    x = sample.test_images[3]
    pic = EV.evidence_panel(model, x, int(sample.test_labels[3]))
    assert pic.data["method"] == "weights"
    xin = x.reshape(-1).astype(np.float64) / 255.0
    w, b = model.weights[0].astype(np.float64), model.biases[0].astype(np.float64)
    # float32 785-term sums against float64: the sum-order bound
    assert_within(pic.data["scores"], xin @ w + b,
                  dense_bound(model.as_input(x), model.weights[0], model.biases[0])[0], "bars")
    vmax = pic.data["vmax_weights"]
    assert vmax == pytest.approx(C.symmetric_limit(w))  # a max of the same float32 weights
    for k in (0, 7):
        x0 = EV.LEFT + k * (EV.TILE + EV.GAP)
        tile = pic.pixels[EV.TOP:EV.TOP + EV.TILE, x0:x0 + EV.TILE][::3, ::3]
        np.testing.assert_array_equal(tile, C.diverging(w[:, k].reshape(28, 28), vmax))
        rgb = C.to_rgb(tile).astype(int)
        strong = np.abs(w[:, k].reshape(28, 28)) > vmax / 3
        red = rgb[..., 0] > rgb[..., 2]
        assert np.array_equal(red[strong], (w[:, k].reshape(28, 28) > 0)[strong])


def test_s3_video_output_grids_are_the_output_weights(s3_shaped) -> None:
    """Each output neuron's 8×8 grid is its 64 incoming weights (layer 2, row-major in the
    hidden mosaic's order), red where positive, in every frame."""
    run = Run(s3_shaped)
    anim = evolution(run, 1, None, None, None, story_epochs(run.snapshot_epochs()))
    d = anim.data
    assert d["out_grid"] == (8, 8) and d["hidden_grid"] == (8, 8)
    assert d["output_title"].startswith("Output neurons: 8×8 weights, one per hidden neuron")
    y0, x0 = d["out_at"]
    s, (cell_h, cell_w), cols = d["oscale"], d["out_cell"], d["out_cols"]
    for i, epoch in enumerate(d["epochs"]):
        w2 = run.load_snapshot(epoch).weights[1].astype(np.float64)  # (64, 10)
        frame = anim.frame(i)
        vmax = d["vmax_output"][i]
        assert vmax == pytest.approx(np.abs(w2).max(), rel=1e-6)  # a max: exact, no sums
        for k in range(10):
            r, c = divmod(k, cols)
            y, x = y0 + r * cell_h, x0 + c * cell_w
            tile = frame[y:y + 8 * s, x:x + 8 * s][::s, ::s]
            expect = w2[:, k].reshape(8, 8)
            np.testing.assert_array_equal(tile, C.diverging(expect, vmax))
            rgb = C.to_rgb(tile).astype(int)
            strong = np.abs(expect) > vmax / 3
            assert np.array_equal((rgb[..., 0] > rgb[..., 2])[strong], (expect > 0)[strong])


def test_deeper_video_says_which_layer_feeds_the_outputs(trained_run) -> None:
    anim = evolution(Run(trained_run))
    title = anim.data["output_title"]
    assert "from layer 1 (hidden)" in title and "not drawn" in title


def test_story_epochs_keep_the_early_epochs_and_the_last() -> None:
    eps = story_epochs(list(range(231)))
    assert eps[:41] == list(range(41)) and eps[-1] == 230
    assert all(e % 2 == 0 for e in eps if 40 < e <= 100)
    assert all(e % 5 == 0 for e in eps if e > 100)
    assert story_epochs(list(range(11))) == list(range(11))
    assert story_epochs(list(range(43)))[-1] == 42
