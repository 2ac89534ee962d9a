"""Shifts and scales of digits, and the accuracy sweep with and without preprocessing."""

from __future__ import annotations

import numpy as np

from digitlens.analysis import robustness as R
from digitlens.data.preprocess import centre_of_mass


def test_shift_moves_every_pixel(rng) -> None:
    img = rng.random((28, 28)).astype(np.float32)
    out = R.shift(img, 2, -3)
    np.testing.assert_array_equal(out[2:, :25], img[:26, 3:])
    assert np.all(out[:2] == 0) and np.all(out[:, 25:] == 0)


def test_scale_identity_and_shrink(sample) -> None:
    img = sample.test_images[0].astype(np.float32) / 255
    # PIL's float32 bilinear resampling at factor 1 weights each pixel by its normalised
    # kernel (1 up to rounding): a few ulp of values ≤ 1, well inside 1e-6 ≈ 16u; no sums
    np.testing.assert_allclose(R.scale(img, 1.0), img, atol=1e-6)
    small = R.scale(img, 0.5)
    rows = np.flatnonzero(small.max(axis=1) > 0.1)
    full_rows = np.flatnonzero(img.max(axis=1) > 0.1)
    assert rows.size <= full_rows.size // 2 + 2


def test_preprocessing_recentres_a_shifted_digit(sample) -> None:
    img = sample.test_images[1].astype(np.float32) / 255
    moved = R.shift(img, 4, 4)
    fixed = R.preprocessed(moved[None])[0]
    cy, cx = centre_of_mass(fixed)
    assert abs(cy - 14) < 1 and abs(cx - 14) < 1


def test_sweep_numbers(trained_model, sample) -> None:
    x, y = sample.test_images, sample.test_labels
    res = R.robustness(trained_model, x, y, shifts=(0, 6), scales=(1.0, 0.5), n=200)
    direct = float(np.mean(trained_model.predict(x[:200]) == y[:200]))
    assert res.shift_raw[0] == direct and res.scale_raw[0] == direct
    moved = R.shifted(R.as_float(x[:200]), 6)
    assert res.shift_raw[1] == float(np.mean(trained_model.predict(moved) == y[:200]))
    # the S3 story: far-off digits fail as drawn and recover once centred
    assert res.shift_raw[1] < res.shift_raw[0] - 0.2
    assert res.shift_preprocessed[1] > res.shift_raw[1] + 0.2
    assert set(res.examples) == {"shift:0", "shift:6", "scale:1", "scale:0.5"}
