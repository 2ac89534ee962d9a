"""The views on models of other sizes than MNIST's: scikit-learn's 8×8 digits (10 classes) and
drawn 12×12 shapes (circle, cross, line). Tiles are checked pixel by pixel against the model's
own weights and inputs reshaped to its input shape; the class names drawn are recorded from the
canvas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitlens import palette as C
from digitlens.data.sources import Dataset
from digitlens.errors import ModelError
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.run import Run
from digitlens.render.draw import digit_tile, scale_for
from digitlens.render.image import Animation, Picture
from digitlens.render.tiles import Canvas, upscale
from digitlens.render.views import build
from digitlens.render.views import evidence as E
from digitlens.render.views.weights import tiles_of
from shapes import SHAPES, digits8, shapes12, train_small
from support import assert_within, forward_bounds


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Dataset]]:
    root = tmp_path_factory.mktemp("shape-runs")
    d8, s12 = digits8(), shapes12()
    return {"8x8": (train_small(d8, (32,), root / "d8"), d8),
            "12x12": (train_small(s12, (16, 8), root / "s12", epochs=6), s12)}


@pytest.fixture
def texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every string a view writes on a canvas."""
    seen: list[str] = []
    original = Canvas.text

    def spy(self: Canvas, y: int, x: int, text: str, *a: object, **k: object) -> None:
        seen.append(text)
        original(self, y, x, text, *a, **k)  # type: ignore[arg-type]
    monkeypatch.setattr(Canvas, "text", spy)
    return seen


def test_weight_tiles_are_the_weights_in_the_input_shape() -> None:
    """A one-layer 12×12 → 3 model whose class k has a single +1 weight at pixel (r_k, c_k):
    its tile is red in that block only, so rows and columns cannot be swapped."""
    model = MLP.create((144, 3), meta={"input_shape": [12, 12], "class_names": list(SHAPES)})
    spots = [(1, 9), (10, 2), (6, 6)]
    model.weights[0][:] = 0
    for k, (r, c) in enumerate(spots):
        model.weights[0][r * 12 + c, k] = 1.0
    tiles, vmax = tiles_of(model.weights[0], "diverging", False, 2, (12, 12))
    s = scale_for((12, 12), 2)
    assert s == 4 and tiles.shape == (3, 48, 48) and vmax > 0
    for k, (r, c) in enumerate(spots):
        hot = np.argwhere(tiles[k] != C.diverging(np.zeros(1), 1.0)[0])
        assert hot.min(axis=0).tolist() == [r * s, c * s]
        assert hot.max(axis=0).tolist() == [r * s + s - 1, c * s + s - 1]


def test_weights_view_labels_the_output_neurons_with_class_names(texts: list[str]) -> None:
    model = MLP.create((144, 3), meta={"input_shape": [12, 12], "class_names": list(SHAPES)})
    ds = shapes12(30, 9)
    pic = build("weights", model, ds)
    assert pic.data["n"] == 3
    for name in SHAPES:
        assert name in texts
    assert "Each tile is an output neuron's 144 input weights" in texts


@pytest.mark.parametrize("name", ["8x8", "12x12"])
def test_evidence_panel_shows_the_input_and_every_class(
        name: str, runs: dict[str, tuple[Path, Dataset]], texts: list[str]) -> None:
    run, ds = runs[name]
    model = load_model(run)
    x, label = ds.test_images[3], int(ds.test_labels[3])
    pic = build("evidence", run, ds, index=3)
    assert isinstance(pic, Picture)
    want = digit_tile(x, 4, model.input_shape)  # input drawn at MNIST's size
    assert want.shape == (model.input_shape[0] * scale_for(model.input_shape, 4),) * 2
    np.testing.assert_array_equal(pic.pixels[E.TOP:E.TOP + want.shape[0], 10:10 + want.shape[1]],
                                  want)
    t = model.trace(x)
    # the view's float32 pass and this one, in whichever order each sums
    assert_within(pic.data["scores"], t.zs[-1][0], forward_bounds(model, x)[0][-1][0], "scores")
    for cls in ds.class_names:
        assert cls in texts
    assert f"true {ds.class_names[label]}" in texts
    assert f"predicted {ds.class_names[int(t.prediction[0])]}" in texts


def test_errors_view_confusion_of_three_named_classes(
        runs: dict[str, tuple[Path, Dataset]], texts: list[str]) -> None:
    from sklearn.metrics import confusion_matrix

    run, ds = runs["12x12"]
    model = load_model(run)
    pic = build("errors", run, ds)
    pred = model.predict(ds.test_images)
    assert np.array_equal(pic.data["confusion_matrix"],
                          confusion_matrix(ds.test_labels, pred, labels=[0, 1, 2]))
    wrong = [g for g in pic.data["gallery"]]
    assert len(wrong) == int((pred != ds.test_labels).sum()) or len(wrong) == 40
    for g in wrong:
        assert f"true {SHAPES[g['true']]}" in texts


@pytest.mark.parametrize("name", ["8x8", "12x12"])
def test_main_views_draw_at_the_models_size(
        name: str, runs: dict[str, tuple[Path, Dataset]], texts: list[str]) -> None:
    run, ds = runs[name]
    model = load_model(run)
    h, w = model.input_shape
    comp = build("composed", run, ds)
    assert comp.data["layers"] == list(model.sizes[1:])
    fp = build("fingerprints", run, ds)
    assert len(fp.data["activations"][-1]) == len(ds.class_names)
    classes = build("fingerprints", run, ds, mode="classes")
    assert np.asarray(classes.data["readout_accuracy"]).shape == (model.n_layers,)
    anim = build("evolution", Run(run), ds)
    assert isinstance(anim, Animation)
    frame = anim.frame(anim.n_frames - 1)
    assert frame.ndim == 2
    neurons = build("neurons", run, ds)
    assert isinstance(neurons, Picture) and neurons.pixels.ndim == 3
    rob = build("robustness", run, ds, n=60)
    assert rob.data["n"] == 60
    nudge = build("nudge", run, ds)
    assert nudge.data["from"] in range(len(ds.class_names))
    for cls in ds.class_names:
        assert cls in texts
    assert f"Layer 0 (hidden): each neuron's {h * w} input weights, bias bar at right" in texts


def test_evolution_tiles_are_the_first_layer_weights(runs: dict[str, tuple[Path, Dataset]]
                                                     ) -> None:
    """The last frame's first hidden tile is the last snapshot's neuron 0, 8×8 drawn 7× larger."""
    run, ds = runs["8x8"]
    anim = build("evolution", Run(run), ds)
    assert isinstance(anim, Animation)
    frame = anim.frame(anim.n_frames - 1)
    model = load_model(run)
    w0 = model.weights[0][:, :32]
    vmax = C.symmetric_limit(w0)
    tile = upscale(C.diverging(w0[:, 0].reshape(8, 8), vmax), 7)
    y, x = 52 + 22, 16  # EvolutionLayout.hidden_at
    np.testing.assert_array_equal(frame[y:y + 56, x:x + 56], tile)


def test_views_refuse_a_dataset_of_another_image_size(runs: dict[str, tuple[Path, Dataset]]
                                                      ) -> None:
    run, _ = runs["8x8"]
    with pytest.raises(ModelError, match=r"the model reads 8×8 images but shapes-12's are 12×12"):
        build("weights", run, shapes12(30, 9))


def test_report_of_a_run_on_other_data(runs: dict[str, tuple[Path, Dataset]],
                                       tmp_path: Path) -> None:
    """The sections without MNIST's seed tags, the intros and alt texts at 12×12 with the
    three class names; the single-file explorer beside it."""
    from digitlens.render.report import build_report

    run, ds = runs["12x12"]
    out = build_report(run, tmp_path / "report", ds, train_twin_run=False, robustness_n=60)
    page = (tmp_path / "report" / "index.html").read_text()
    assert 'class="seed"' not in page and "The tags S0–S4" not in page
    assert "multiplies the 144 pixels by its 144 weights. Drawn as a 12×12 image" in page
    assert "one 12×12 red/blue image per neuron" in page
    assert "For each class (circle to line), its mean activation pattern" in page
    assert "How a " in page and " network reads images" in page
    assert "explorer.html" in out["files"]
    assert set(out["sections"]) >= {"training", "fingerprints", "evidence", "weights", "errors"}


def test_errors_view_of_26_letters(texts: list[str]) -> None:
    """A 26-class confusion matrix grows to hold its letters; the gallery says 'class'."""
    import string

    from digitlens.render.views.confusion import errors_view

    names = list(string.ascii_uppercase)
    model = MLP.create((144, 32, 26), meta={"input_shape": [12, 12], "class_names": names},
                       seed=1)
    rng = np.random.default_rng(0)
    x = (rng.random((300, 12, 12)) * 255).astype(np.uint8)
    y = rng.integers(0, 26, 300)
    small = errors_view(MLP.create((144, 3), meta={"input_shape": [12, 12]}), x, y % 3)
    texts.clear()
    pic = errors_view(model, x, y)
    pred = model.predict(x)
    cm = np.zeros((26, 26), int)
    np.add.at(cm, (y, pred), 1)
    assert np.array_equal(pic.data["confusion_matrix"], cm)
    assert pic.pixels.shape[0] > small.pixels.shape[0] + 200  # room for 26 rows
    assert any(t.startswith("true ") and t[5:] in names for t in texts)
    assert not any("true digit" in t for t in texts)
