"""The diagram's strongest connections (analysis/flow.py), checked against a full sort, with
and without knocked-out neurons."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from digitlens.analysis.flow import strongest_connections, top_k
from digitlens.analysis.inspector import knockout_masks
from digitlens.data.sources import Dataset
from digitlens.nn.mlp import MLP


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 30), st.integers(1, 60), st.integers(0, 10**6))
def test_top_k_equals_a_full_sort(rows: int, cols: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mag = np.abs(rng.normal(size=(rows, cols))).round(1)  # ties on purpose
    k = min(k, mag.size)
    got = top_k(mag.ravel(), mag.max(axis=1), k)
    want = np.argsort(-mag.ravel(), kind="stable")[:k]
    np.testing.assert_array_equal(mag.ravel()[got], mag.ravel()[want])
    assert len(set(got.tolist())) == k


def test_strongest_connections_skip_knocked_out_targets(trained_model: MLP,
                                                        sample: Dataset) -> None:
    masks = knockout_masks(trained_model, {0: list(range(16))})
    t = trained_model.trace(sample.test_images[5], masks=masks)
    flow = strongest_connections(trained_model, t, 30, masks)
    assert all(j >= 16 for _, j, _ in flow[0])  # nothing flows into switched-off neurons
    assert all(i >= 16 for i, _, _ in flow[1])  # nor out of them


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), k=st.integers(1, 60), sparsity=st.floats(0.0, 0.99))
def test_strongest_connections_from_row_peaks_are_the_same(trained_model: MLP, seed: int,
                                                           k: int, sparsity: float) -> None:
    """The shortcut through each row's largest weight gives exactly the full answer (ties and
    order included), with and without knocked-out neurons."""
    rng = np.random.default_rng(seed)
    x = rng.random(784).astype(np.float32)
    x[rng.random(784) < sparsity] = 0
    x[:3] = 0.5  # equal inputs: ties between rows
    peaks = [np.abs(w).max(axis=1) for w in trained_model.weights]
    for masks in (None, knockout_masks(trained_model, {0: [1, 5, 9]})):
        t = trained_model.trace(x, masks=masks)
        assert (strongest_connections(trained_model, t, k, masks, peaks)
                == strongest_connections(trained_model, t, k, masks))
