"""Which connections carry the most signal for one input: the lines of the network diagram.

A connection i -> j of layer l carries ``a_i · W[i, j]`` into neuron j's sum (S4's terms). For
each layer we keep the ``k`` terms of largest magnitude, so the diagram draws what actually
drove this prediction, not merely the largest weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from digitlens.nn.mlp import MLP, Trace


def top_k(flat: np.ndarray, row_max: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest of ``flat``, largest first. The k-th largest row maximum
    bounds the answer from below (k rows each hold an entry at least that big), so only the
    few entries above it are sorted instead of partitioning every term."""
    if len(row_max) >= k:
        bound = np.partition(row_max, len(row_max) - k)[len(row_max) - k]
        cand = np.flatnonzero(flat >= bound)
    else:
        cand = np.arange(flat.size)
    best = cand[np.argsort(-flat[cand], kind="stable")[:k]]
    return best


def rows_that_count(a: np.ndarray, src: np.ndarray, peaks: np.ndarray, k: int) -> np.ndarray:
    """The sources whose row can hold one of the ``k`` largest terms, in order. A row's
    largest term is ``|a_i|·max|w_i|`` exactly (rounding keeps order), and ``top_k`` only ever
    looks at rows reaching the k-th largest of those: the same answer from a few rows."""
    if len(src) <= k:
        return src
    row_max = np.abs(a[src]) * peaks[src]
    bound = np.partition(row_max, len(row_max) - k)[len(row_max) - k]
    return src[row_max >= bound]


def strongest_connections(model: MLP, trace: Trace, k: int = 48,
                          masks: Mapping[int, np.ndarray] | None = None,
                          peaks: Sequence[np.ndarray] | None = None
                          ) -> list[list[tuple[int, int, float]]]:
    """Per weight layer, up to ``k`` (source, target, a_source·w) triples, strongest first.

    ``trace`` must be of a single input (``model.trace(x, masks)``); knocked-out targets carry
    nothing onward, so their incoming terms are left out. ``peaks``: each layer's ``max |w|``
    per row, from a caller that keeps them (see ``rows_that_count``).
    """
    out: list[list[tuple[int, int, float]]] = []
    for layer, w in enumerate(model.weights):
        a = trace.activations[layer][0]
        src = np.flatnonzero(a)  # silent inputs contribute nothing
        if peaks is not None and (masks is None or layer not in masks):
            src = rows_that_count(a, src, peaks[layer], k)
        terms = a[src, None] * w[src]  # (n_src, 1) * (n_src, n_out) -> (n_src, n_out)
        if masks is not None and layer in masks:
            terms = terms * masks[layer][None, :]
        mag = np.abs(terms)
        flat = mag.ravel()
        kk = min(k, int(np.count_nonzero(flat)))
        if kk == 0:
            out.append([])
            continue
        top = top_k(flat, mag.max(axis=1), kk)
        rows, cols = np.divmod(top, w.shape[1])
        out.append([(int(src[r]), int(c), float(terms[r, c])) for r, c in zip(rows, cols,
                                                                            strict=True)])
    return out
