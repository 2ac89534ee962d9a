"""Fingerprint statistics against a direct per-example computation."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis.fingerprints import activation_scales, class_fingerprints
from digitlens.errors import ParameterError
from support import assert_within, forward_bounds, sum_order_bound


def test_class_means_and_consistency(trained_model, sample) -> None:
    x, y = sample.test_images[:400], sample.test_labels[:400].astype(np.int64)
    fp = class_fingerprints(trained_model, x, y)
    acts = trained_model.trace(x).activations[1:]
    assert len(fp.means) == 3 and fp.consistency.shape == (3, 10)
    # the fingerprints' own float32 pass may sum in another order than this trace: a class
    # mean moves by at most the mean of its examples' forward bounds, plus the float32 mean's
    # own sum of n_c terms
    bounds = forward_bounds(trained_model, x)[1]
    for k, a in enumerate(acts):
        for c in range(10):
            rows = a[y == c]
            bound = bounds[k][y == c].mean(axis=0) + sum_order_bound(
                len(rows), np.abs(rows.astype(np.float64)).mean(axis=0))
            assert_within(fp.means[k][c], rows.mean(axis=0), bound, f"layer {k} class {c} mean")
    # consistency of class 3 in the last hidden layer, one example at a time with corrcoef
    a = acts[1].astype(np.float64)
    own = [np.corrcoef(a[i], fp.means[1][3])[0, 1] for i in np.flatnonzero(y == 3)]
    # a correlation is the dot product of two centred unit vectors, each of which moves by at
    # most 2‖Δ‖/‖v − v̄‖ when its vector moves by Δ (the forward bound, and the mean's)
    e_mean = np.linalg.norm(bounds[1][y == 3].mean(axis=0) + sum_order_bound(
        int(np.sum(y == 3)), np.abs(a[y == 3]).mean(axis=0)))
    m = fp.means[1][3] - fp.means[1][3].mean()
    moves = [2 * np.linalg.norm(bounds[1][i]) / np.linalg.norm(a[i] - a[i].mean())
             + 2 * e_mean / np.linalg.norm(m) for i in np.flatnonzero(y == 3)]
    assert abs(fp.consistency[1, 3] - np.mean(own)) <= np.mean(moves) + 1e-12
    nearest = [np.argmax([np.corrcoef(a[i], fp.means[1][c])[0, 1] for c in range(10)])
               for i in range(len(y))]
    assert fp.readout_accuracy[1] == pytest.approx(np.mean(np.array(nearest) == y))  # a count
    assert np.all(fp.consistency > fp.nearest_other - 0.2)


def test_scales_are_positive_and_missing_class_is_an_error(trained_model, sample) -> None:
    assert all(s > 0 for s in activation_scales(trained_model, sample.test_images[:50]))
    x, y = sample.test_images[:200], sample.test_labels[:200]
    keep = y != 7
    with pytest.raises(ParameterError, match="class 7"):
        class_fingerprints(trained_model, x[keep], y[keep])
