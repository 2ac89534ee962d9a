"""Every view draws the numbers the model computes, at the pixels where they belong."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from digitlens import palette as C
from digitlens.analysis.metrics import evaluate_model
from digitlens.errors import ParameterError
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.run import Run
from digitlens.render.image import Animation, Picture
from digitlens.render.tiles import grid_shape
from digitlens.render.views import evidence as EV
from digitlens.render.views import fingerprints as FP
from digitlens.render.views import weights as W
from digitlens.render.views.confusion import errors_view
from digitlens.render.views.evolution import evolution
from support import assert_within, forward_bounds


def colour_at(view: Picture, y: int, x: int) -> tuple[int, ...]:
    return tuple(int(v) for v in view.rgb()[y, x])


def pal(i: np.ndarray | int) -> tuple[int, ...]:
    return tuple(int(v) for v in C.PALETTE[int(i)])


def rectangles(rgb: np.ndarray, colour: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """(y, x, height, width) of every solid block of ``colour`` (its top-left pixel's runs)."""
    m = (rgb == np.asarray(colour, np.uint8)).all(axis=2)
    corners = m & ~np.pad(m, ((1, 0), (0, 0)))[:-1] & ~np.pad(m, ((0, 0), (1, 0)))[:, :-1]
    out = []
    for y, x in zip(*np.nonzero(corners), strict=True):
        w = int(np.argmin(np.append(m[y, x:], False)))
        h = int(np.argmin(np.append(m[y:, x], False)))
        if m[y:y + h, x:x + w].all():
            out.append((int(y), int(x), h, w))
    return out


def header_colours(view: Picture, k: int) -> set[tuple[int, ...]]:
    """The colours in class ``k``'s name above its tiles (the strip above the row labels)."""
    x0 = EV.LEFT + k * (EV.TILE + EV.GAP)
    strip = view.rgb()[:EV.TOP - 22, x0:x0 + EV.TILE]
    return {tuple(int(v) for v in c) for c in strip.reshape(-1, 3)}


def test_evidence_single_layer_is_exact(single_run, sample) -> None:
    model = load_model(single_run)
    x, label = sample.test_images[3], int(sample.test_labels[3])
    view = EV.evidence_panel(model, x, label)
    t = model.trace(x)
    assert view.data["method"] == "weights"
    # the panel's scores and this trace: two float32 785-term sums in any order
    assert_within(view.data["scores"], t.zs[-1][0], forward_bounds(model, x)[0][-1][0], "scores")
    assert view.data["prediction"] == int(t.prediction[0])
    vmax_w, vmax_c = view.data["vmax_weights"], view.data["vmax_contributions"]
    xin = model.as_input(x)[0]
    for k, (r, c) in [(0, (10, 12)), (4, (14, 14)), (9, (20, 7))]:
        x0 = EV.LEFT + k * (EV.TILE + EV.GAP) + 3 * c
        w = model.weights[0][r * 28 + c, k]
        assert colour_at(view, EV.TOP + 3 * r, x0) == pal(C.diverging(np.array(w), vmax_w))
        y1 = EV.TOP + EV.ROW_STEP + 3 * r
        assert colour_at(view, y1, x0) == pal(C.diverging(np.array(xin[r * 28 + c] * w), vmax_c))
    # the true class's header and frame are green, no class is orange: the prediction is right
    assert view.data["prediction"] == label
    green, orange = C.NAMED["true"], C.NAMED["wrong"]
    for k in range(10):
        frame = colour_at(view, EV.TOP - 2, EV.LEFT + k * (EV.TILE + EV.GAP) + EV.TILE // 2)
        assert (green in header_colours(view, k), frame == green) == (k == label, k == label)
        assert orange not in header_colours(view, k) and frame != orange
    # told another label, that class turns green and the (now wrong) prediction orange
    other = (label + 1) % 10
    wrong = EV.evidence_panel(model, x, other)
    for k in range(10):
        frame = colour_at(wrong, EV.TOP - 2, EV.LEFT + k * (EV.TILE + EV.GAP) + EV.TILE // 2)
        head = header_colours(wrong, k)
        assert (green in head, frame == green) == (k == other, k == other)
        assert (orange in head, frame == orange) == (k == label, k == label)


def test_evidence_deep_net_says_which_method(trained_model, sample) -> None:
    for method in ("composed", "gradient"):
        view = EV.evidence_panel(trained_model, sample.test_images[0], 7, method)
        assert view.data["method"] == method and method in view.caption
    anim = EV.evidence_animation(trained_model, sample.test_images[:4], sample.test_labels[:4])
    assert anim.n_frames == 4 and anim.frame(0).shape == anim.frame(3).shape
    # the animation's batch of 4 and a single row: other BLAS shapes, maybe other orders
    assert_within(anim.data["scores"][2], trained_model.trace(sample.test_images[2]).zs[-1][0],
                  forward_bounds(trained_model, sample.test_images[2])[0][-1][0], "scores")
    with pytest.raises(ParameterError):
        EV.evidence_panel(trained_model, sample.test_images[0], 7, "weights")


def test_fingerprint_cells_show_trace_activations(trained_model, sample) -> None:
    x = sample.test_images[8]
    view = FP.fingerprint(trained_model, x, int(sample.test_labels[8]), sample.test_images[:300])
    t = trained_model.trace(x)
    bounds = forward_bounds(trained_model, x)[1]  # two float32 passes, any order
    for got, want, bound in zip(view.data["activations"], t.activations[1:], bounds,
                                strict=True):
        assert_within(got, want[0], bound[0], "fingerprint activations")
    lay = FP.FingerprintLayout(trained_model, view.data["scales"], [str(i) for i in range(10)])
    rows, cols = grid_shape(32)
    cell = FP.PANEL // max(rows, cols)
    a = t.activations[1][0]
    for j in (0, 13, 31):
        r, c = divmod(j, cols)
        y = lay.top + 1 + r * cell + cell // 2
        xx = lay.x[1] + 1 + c * cell + cell // 2
        assert colour_at(view, y, xx) == pal(C.grey(np.array(a[j]), 0, view.data["scales"][0]))


def test_fingerprint_animation_and_classes(trained_model, sample) -> None:
    fives = np.flatnonzero(sample.test_labels == 5)[:6]
    anim = FP.fingerprint_animation(trained_model, sample.test_images[fives],
                                    sample.test_labels[fives])
    assert anim.n_frames == 6 and not np.array_equal(anim.frame(0), anim.frame(1))
    view = FP.class_fingerprints_view(trained_model, sample.test_images, sample.test_labels)
    assert len(view.data["consistency"]) == 3 and len(view.data["readout_accuracy"]) == 3
    # the output layer's row is a one-row strip: its "read-out" line still fits in the row
    row = FP._row("output (10)", "read-out 98%", [np.zeros((10, 96), np.uint8)], [""], 104,
                  FP.LABEL)
    labels = row[:, :FP.LABEL]
    inked = np.flatnonzero((labels != labels[0, 0]).any(axis=1))
    assert inked.size and inked[-1] < row.shape[0] - 2  # blank rows under the text


def test_evolution_frames_and_pixels(sigmoid_run, sample) -> None:
    run = Run(sigmoid_run)
    anim = evolution(run, test=(sample.test_images, sample.test_labels))
    assert anim.n_frames == len(run.snapshot_epochs()) == 7
    assert anim.data["epochs"] == list(range(7))
    hist = [h["test_accuracy"] for h in run.history()]
    assert anim.data["test_accuracy"][1:] == hist
    m0 = run.load_snapshot(0)
    assert anim.data["test_accuracy"][0] == float(np.mean(m0.predict(sample.test_images)
                                                          == sample.test_labels))
    y, x = anim.data["hidden_at"]
    s = anim.data["hscale"]
    for i in (0, 6):
        m = run.load_snapshot(i)
        f = anim.frame(i)
        assert f.shape[::-1] == tuple(anim.data["size"])
        assert f[y, x] == C.diverging(np.array(m.weights[0][0, 0]), anim.data["vmax_hidden"][i])
        px = 28 * 13 + 5  # a pixel inside neuron 0's tile
        assert f[y + s * (px // 28), x + s * (px % 28)] == C.diverging(
            np.array(m.weights[0][px, 0]), anim.data["vmax_hidden"][i])
        bar = f[y + 5, x + 28 * s + 1]
        assert bar == C.bias(np.array(m.biases[0][0]), anim.data["vmax_bias"][i])


def test_evolution_files(sigmoid_run, tmp_path) -> None:
    from digitlens.render.animate import hold_frames, write_gif_pillow
    anim = evolution(sigmoid_run, fps=10)
    hold = hold_frames(10)
    gif = anim.save(tmp_path / "e.gif")
    with Image.open(gif) as im:
        assert getattr(im, "n_frames", 1) == 7 + hold
        im.seek(3)
        got = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(got, C.to_rgb(anim.frame(3)))
    import imageio_ffmpeg
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(anim.save(tmp_path / "e.mp4")))
    assert frames == 7 + hold
    with Image.open(anim.save(tmp_path / "e.webp")) as im:
        assert getattr(im, "n_frames", 1) == 7
        im.seek(3)  # lossless: the exact colours
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), C.to_rgb(anim.frame(3)))
    assert write_gif_pillow(anim.frames(), tmp_path / "p.gif", 10) == 7 + hold
    with Image.open(tmp_path / "p.gif") as im:
        im.seek(6)
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), C.to_rgb(anim.frame(6)))
    assert anim.poster().size == anim.data["size"]


def test_first_layer_weights(sigmoid_run) -> None:
    model = load_model(sigmoid_run)
    view = W.first_layer(model, "diverging")
    head = 14 + 8 + 16
    assert colour_at(view, head, 0) == pal(C.diverging(np.array(model.weights[0][0, 0]),
                                                       view.data["vmax"]))
    grey = W.first_layer(model, "grey")
    tile = grey.rgb()[head:head + 56, :56]
    assert (tile == 0).all(axis=2).any() and (tile == 255).all(axis=2).any()


@pytest.mark.parametrize("sizes", [(784, 10), (784, 7, 10), (784, 30, 12, 10),
                                   (784, 20, 9, 5, 10)])
def test_composed_any_depth(sizes) -> None:
    model = MLP.create(sizes, "relu", seed=3)
    view = W.composed(model)
    assert view.data["layers"] == list(sizes[1:])
    assert W.first_layer(model).size[0] > 50


def test_composed_draws_the_product_of_a_hand_built_net() -> None:
    """784-2-2-10 with W0 = (+1 on the top half, −1 on the left half), W1 = identity and the
    outputs alternating +neuron 0 / −neuron 1: layer 1's composed tiles are a red top half and
    a blue left half; the outputs' are red top (even classes) and red left (odd), in class
    order along one row. Each tile on its own scale, so ±1 is full red or blue, 0 white."""
    model = MLP.create((784, 2, 2, 10), "relu", seed=0)
    img = np.zeros((28, 28, 2))
    img[:14, :, 0], img[:, :14, 1] = 1.0, -1.0
    model.weights[0][:] = img.reshape(784, 2)
    model.weights[1][:] = np.eye(2)
    model.weights[2][:] = 0
    model.weights[2][0, 0::2], model.weights[2][1, 1::2] = 1.0, -1.0
    rgb = W.composed(model).rgb()
    red, blue, white = C.RED, C.BLUE, (255, 255, 255)

    def blocks(colour: tuple[int, int, int], h: int, w: int) -> list[tuple[int, int]]:
        return sorted((x, y) for y, x, hh, ww in rectangles(rgb, colour) if (hh, ww) == (h, w))

    # layer 1: tiles drawn 2× (56 px), side by side: red top half, then blue left half
    (x_top, y_top), = blocks(red, 28, 56)
    (x_left, y_left), = blocks(blue, 56, 28)
    assert y_top == y_left and x_left > x_top
    assert (rgb[y_top + 28:y_top + 56, x_top:x_top + 56] == white).all()
    assert (rgb[y_left:y_left + 56, x_left + 28:x_left + 56] == white).all()
    # the outputs: drawn 3× (84 px), one row, classes 0..9 alternating top / left
    tops, lefts = blocks(red, 42, 84), blocks(red, 84, 42)
    assert len(tops) == len(lefts) == 5
    row = sorted([(x, y, "top") for x, y in tops] + [(x, y, "left") for x, y in lefts])
    assert [kind for _, _, kind in row] == ["top", "left"] * 5
    assert len({y for _, y, _ in row}) == 1 and row[0][1] > y_top
    for x, y, kind in row:
        rest = rgb[y + 42:y + 84, x:x + 84] if kind == "top" else rgb[y:y + 84, x + 42:x + 84]
        assert (rest == white).all()


def test_compare_needs_same_shape(trained_model, sigmoid_run) -> None:
    other = load_model(sigmoid_run)
    with pytest.raises(ParameterError, match="same layer sizes"):
        W.compare_training(other, trained_model)
    assert W.compare_training(trained_model.copy(), trained_model).size[1] > 400


def test_errors_view_numbers(trained_model, sample) -> None:
    x, y = sample.test_images, sample.test_labels
    view = errors_view(trained_model, x, y, 12)
    ev = evaluate_model(trained_model, x, y)
    assert view.data["accuracy"] == ev.accuracy
    assert view.data["confusion_matrix"] == ev.confusion.tolist()
    assert len(view.data["gallery"]) == 12
    for item in view.data["gallery"]:
        assert item["true"] == int(y[item["index"]]) != item["top"][0]
        assert item["top"][0] == int(ev.predictions[item["index"]])


def test_jupyter_reprs(trained_model, sample) -> None:
    pic = FP.fingerprint(trained_model, sample.test_images[0])
    with Image.open(io.BytesIO(pic._repr_png_())) as im:
        assert im.size == pic.size
    anim = Animation(3, lambda i: np.full((10, 12), C.GREY_START + 20 * i, np.uint8), 5.0)
    html = anim._repr_html_()
    assert html.startswith('<img src="data:image/gif;base64,')


def test_neurons_view_frames_dead_neurons(trained_model, sample) -> None:
    from digitlens.analysis.neurons import analyse_neurons
    from digitlens.render.views.neurons import neurons_view
    m = trained_model.copy()
    m.weights[0][:, 5] = 0.0   # first-layer neuron 5 sees nothing: a dead neuron
    m.biases[0][5] = -1.0
    rep = analyse_neurons(m, sample.test_images[:300], sample.test_labels[:300], layer=0)
    assert rep.dead[5]
    view = neurons_view(m, rep)
    assert view.data["dead"] == np.flatnonzero(rep.dead).tolist()
    # least important last: the dead neuron's tile is the mosaic's last (final row, last
    # column), framed in the dead colour around its blank (all-zero) weights
    assert rep.order[0] == 5
    rows, cols = grid_shape(32)
    pitch = 2 * 28 + 2 * 2 + 4  # tiles drawn 2×, a 2-px frame, 4 px apart
    head = 14 + 8 + 16  # the title and its subtitle
    rgb = view.rgb()
    w = pitch - 4
    dead = (rgb == np.asarray(C.NAMED["dead"], np.uint8)).all(axis=2)
    y, x = head + (rows - 1) * pitch, (cols - 1) * pitch
    frame = np.ones((w, w), bool)
    frame[2:-2, 2:-2] = False
    tile = rgb[y:y + w, x:x + w]
    assert dead[y:y + w, x:x + w][frame].all() and (tile[~frame] == 255).all()
    # every dead neuron (the trained net has one of its own) is framed at the end, none before
    n_dead = int(rep.dead.sum())
    framed_dead = [bool(dead[y:y + w, c * pitch:c * pitch + w][frame].all()) for c in range(cols)]
    assert framed_dead == [False] * (cols - n_dead) + [True] * n_dead
    assert not dead[:y].any()
    first = rgb[head:head + w, :w]  # the most important neuron: a white frame, weights inside
    assert (first[frame] == 255).all() and len(np.unique(first[~frame], axis=0)) > 20


@pytest.mark.parametrize("hidden", [1, 5, 30])
def test_neurons_key_is_measured_for_small_layers(sample, hidden) -> None:
    from digitlens.analysis.neurons import analyse_neurons
    from digitlens.render.tiles import text_width
    from digitlens.render.views.neurons import KEY, neuron_mosaic, neurons_view
    m = MLP.create((784, hidden, 10), "sigmoid", "sigmoid", seed=hidden)
    rep = analyse_neurons(m, sample.test_images[:200], sample.test_labels[:200])
    img = neuron_mosaic(m, rep)  # wraps at the mosaic's own width
    longest = max(text_width(t, 11) for _, t in KEY)
    assert img.shape[1] >= longest + 18
    assert np.all(img[:, -1] == C.WHITE)  # nothing runs into the right edge, so nothing is cut
    pic = neurons_view(m, rep)  # in the view the key has the charts' width: one line
    assert pic.rgb().shape[1] >= 980 and np.all(pic.rgb()[:, -1] == 255)


def test_swatch_legend_wraps_and_never_clips() -> None:
    from digitlens.render.tiles import swatch_legend, text_width
    items = [(C.INDEX["dead"], "dead (output never changes)"), (C.INDEX["dim"], "dim"),
             (C.INDEX["dup"], "near-duplicate of another neuron")]
    widths = [12 + 6 + text_width(t, 11) for _, t in items]
    wide = swatch_legend(items, 2000)
    narrow = swatch_legend(items, widths[0] + 18 + widths[1])  # two lines
    tiny = swatch_legend(items, 10)  # one item a line, each wider than asked
    assert wide.shape[1] == sum(widths) + 2 * 18
    assert wide.shape[0] < narrow.shape[0] < tiny.shape[0]
    assert narrow.shape[1] == widths[0] + 18 + widths[1]
    assert tiny.shape[1] == max(widths)  # as wide as the widest text, not as asked


def test_neuron_sentences_agree_with_their_counts(sample, trained_model) -> None:
    from dataclasses import replace

    from digitlens.analysis.neurons import analyse_neurons
    from digitlens.render.views.neurons import neurons_view, redundancy_sentence
    rep = analyse_neurons(trained_model, sample.test_images[:300], sample.test_labels[:300])
    one = redundancy_sentence(replace(rep, redundant=1))
    assert one.startswith("Freezing the least important neuron of 16 at its mean output")
    assert "neurons of 16 together" in redundancy_sentence(replace(rep, redundant=3))
    assert "<b>3</b>" in redundancy_sentence(replace(rep, redundant=3), bold=True)
    none = redundancy_sentence(replace(rep, redundant=0))
    assert none.startswith("None of the 16 neurons is redundant")
    assert "1 least" not in one + none and " 0 least" not in none
    assert "It is redundant" in neurons_view(trained_model, replace(rep, redundant=1)).caption
    assert "1 near-duplicate pairs" not in str(neurons_view(trained_model, replace(
        rep, duplicates=[(0, 1, 0.99)])).data)


def test_neurons_view_refuses_a_net_without_hidden_layer(single_run, sample) -> None:
    from digitlens.render.views import build
    with pytest.raises(ParameterError, match="784-10 network has no hidden layer"):
        build("neurons", single_run, sample)


def test_counted_words() -> None:
    from digitlens.wording import count, plural
    assert count(1, "neuron") == "1 neuron" and count(30, "neuron") == "30 neurons"
    assert count(0, "pair") == "0 pairs" and count(60000, "digit") == "60,000 digits"
    assert count(1.0, "pixel", fmt="g") == "1 pixel" and count(6, "pixel", fmt="g") == "6 pixels"
    assert plural(1, "is", "are") == "is" and plural(2, "is", "are") == "are"
    from digitlens.wording import article
    assert [article(d) for d in "0123456789"] == ["a"] * 8 + ["an", "a"]  # "an 8" alone
    assert article("Ankle boot") == "an" and article("Sneaker") == "a" and article("11") == "an"


def test_errors_gallery_gives_long_class_names_a_line_each(trained_model, sample) -> None:
    from digitlens.analysis.metrics import evaluate_model
    from digitlens.data.parts import CLASS_NAMES
    from digitlens.render.views.confusion import gallery
    ev = evaluate_model(trained_model, sample.test_images, sample.test_labels)
    short, _ = gallery(sample.test_images, sample.test_labels, ev, list(CLASS_NAMES["mnist"]),
                       n=10)
    long, _ = gallery(sample.test_images, sample.test_labels, ev,
                      list(CLASS_NAMES["fashion-mnist"]), n=10)
    assert short.shape[0] == 132 and long.shape[0] == 146
    # the extra line (rows 124..136 of the cell) carries text only for long names
    assert (short[124:132] != short[0, 0]).sum() == 0
    assert (long[124:136] != long[0, 0]).sum() > 0
