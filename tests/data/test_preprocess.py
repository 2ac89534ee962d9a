"""MNIST-style normalisation: real digits survive it, drawings are fixed by it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from digitlens.data.preprocess import centre_of_mass, preprocess
from digitlens.errors import ParameterError


def as_drawing(digit: np.ndarray, scale: int, offset: tuple[int, int], size: tuple[int, int],
               dark_on_light: bool) -> Image.Image:
    """A person's drawing: the digit enlarged, off-centre on a big canvas."""
    big = np.kron(digit.astype(np.float32) / 255, np.ones((scale, scale), np.float32))
    canvas = np.zeros(size, np.float32)
    canvas[offset[0]:offset[0] + big.shape[0], offset[1]:offset[1] + big.shape[1]] = big
    if dark_on_light:
        canvas = 1 - canvas
    return Image.fromarray((canvas * 255).astype(np.uint8), mode="L")


def test_real_mnist_digits_are_a_fixed_point(sample) -> None:
    for digit in sample.test_images[:20]:
        out = preprocess(digit).centred
        assert np.abs(out - digit / 255).max() < 0.02


def test_steps_of_an_off_centre_dark_on_light_drawing(sample) -> None:
    digit = sample.test_images[3]
    pre = preprocess(as_drawing(digit, 6, (10, 200), (240, 400), dark_on_light=True))
    assert pre.has_ink and pre.inverted
    assert pre.ink.shape == (240, 400) and pre.raw28.shape == (28, 28)
    assert max(pre.fitted.shape) == 20
    top, left, bottom, right = pre.bbox
    assert (bottom - top, right - left) == pre.cropped.shape
    cy, cx = centre_of_mass(pre.centred)
    assert abs(cy - 14) < 0.6 and abs(cx - 14) < 0.6
    similarity = np.corrcoef(pre.centred.ravel(), digit.ravel())[0, 1]
    assert similarity > 0.85
    raw_similarity = np.corrcoef(pre.raw28.ravel(), digit.ravel())[0, 1]
    assert raw_similarity < similarity


def test_centring_rescues_predictions(trained_model, sample) -> None:
    """S3's story: off-centre drawings fail raw and work after MNIST preprocessing."""
    digits, labels = sample.test_images[:60], sample.test_labels[:60]
    raw, fixed = [], []
    for digit in digits:
        pre = preprocess(as_drawing(digit, 3, (0, 0), (150, 150), dark_on_light=True))
        raw.append(pre.raw28)
        fixed.append(pre.centred)
    acc_raw = np.mean(trained_model.predict(np.array(raw)) == labels)
    acc_fixed = np.mean(trained_model.predict(np.array(fixed)) == labels)
    assert acc_fixed > 0.75 and acc_fixed > acc_raw + 0.3


def test_no_ink_is_a_result_not_a_crash() -> None:
    for blank in (np.zeros((64, 64)), np.ones((30, 50)), Image.new("L", (10, 10), 255)):
        pre = preprocess(blank)
        assert not pre.has_ink and pre.centred.sum() == 0


def test_transparent_png_and_aspect() -> None:
    rgba = np.zeros((100, 100, 4), np.uint8)
    rgba[10:90, 45:55] = (0, 0, 0, 255)          # a black vertical bar on transparency
    pre = preprocess(Image.fromarray(rgba, "RGBA"))
    assert pre.inverted                           # transparency is composited on white
    assert pre.fitted.shape == (20, 2)            # 80×10 scaled by 1/4, aspect kept


@pytest.mark.parametrize("bad", [np.zeros((3, 3, 3)), np.array([]), np.full((5, 5), np.nan)])
def test_bad_input(bad: np.ndarray) -> None:
    with pytest.raises(ParameterError):
        preprocess(bad)


@pytest.mark.parametrize("paper", [0.97, 0.9, 0.8])
def test_off_white_paper_is_background_not_ink(paper: float, sample) -> None:
    digit = sample.test_images[3]
    drawing = np.asarray(as_drawing(digit, 4, (20, 30), (150, 150), True), np.float32) / 255
    drawing = paper * drawing  # the same drawing on greyer paper (ink stays black)
    clean = preprocess(as_drawing(digit, 4, (20, 30), (150, 150), True))
    pre = preprocess(drawing)
    assert pre.bbox == clean.bbox
    assert np.abs(pre.centred - clean.centred).max() < 0.05
