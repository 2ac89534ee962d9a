"""Fingerprint statistics against a direct per-example computation."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis.fingerprints import activation_scales, class_fingerprints
from digitlens.errors import ParameterError


def test_class_means_and_consistency(trained_model, sample) -> None:
    x, y = sample.test_images[:400], sample.test_labels[:400].astype(np.int64)
    fp = class_fingerprints(trained_model, x, y)
    acts = trained_model.trace(x).activations[1:]
    assert len(fp.means) == 3 and fp.consistency.shape == (3, 10)
    for k, a in enumerate(acts):
        for c in range(10):
            np.testing.assert_allclose(fp.means[k][c], a[y == c].mean(axis=0), rtol=1e-5,
                                       atol=1e-6)
    # consistency of class 3 in the last hidden layer, one example at a time with corrcoef
    a = acts[1].astype(np.float64)
    own = [np.corrcoef(a[i], fp.means[1][3])[0, 1] for i in np.flatnonzero(y == 3)]
    assert fp.consistency[1, 3] == pytest.approx(np.mean(own), abs=1e-6)
    nearest = [np.argmax([np.corrcoef(a[i], fp.means[1][c])[0, 1] for c in range(10)])
               for i in range(len(y))]
    assert fp.readout_accuracy[1] == pytest.approx(np.mean(np.array(nearest) == y))
    assert np.all(fp.consistency > fp.nearest_other - 0.2)


def test_scales_are_positive_and_missing_class_is_an_error(trained_model, sample) -> None:
    assert all(s > 0 for s in activation_scales(trained_model, sample.test_images[:50]))
    x, y = sample.test_images[:200], sample.test_labels[:200]
    keep = y != 7
    with pytest.raises(ParameterError, match="class 7"):
        class_fingerprints(trained_model, x[keep], y[keep])
