"""The convolution's data movement as single loops numba compiles: folding patch gradients
back onto pixels, max-pooling and its backward pass, and the bias gradient's column sums.
(Copying windows into patch rows stays NumPy's: its strided copy is faster than a loop.)

None of them rounds differently from ``digitlens.nn.conv``'s NumPy forms: copies and
comparisons are exact, ``fold`` adds each pixel's contributions in the same order (kernel row,
then kernel column, from zero), and ``row_sums`` adds rows in order as NumPy's axis-0 sum does
(for rows at least 2 wide: a 1-wide column NumPy sums pairwise, so callers keep NumPy's form
there). So the loops give bit-identical results, and the tests hold them to exact equality.
What they save is NumPy's strided temporaries and its per-row overhead on narrow arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from digitlens.nn import conv as C


def fold_numpy(cols: np.ndarray, k: int, stride: int, pad: int, out: np.ndarray) -> None:
    out[...] = C.fold(cols, out.shape, k, stride, pad)


def _fold_loop(cols: np.ndarray, k: int, stride: int, pad: int, out: np.ndarray) -> None:
    n, h, w, c = out.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    out[...] = 0
    for b in range(n):
        for i in range(k):
            for j in range(k):
                q = (i * k + j) * c
                for oy in range(ho):
                    y = oy * stride + i - pad
                    if y < 0 or y >= h:
                        continue
                    r = (b * ho + oy) * wo
                    for ox in range(wo):
                        xx = ox * stride + j - pad
                        if 0 <= xx < w:
                            for ch in range(c):
                                out[b, y, xx, ch] += cols[r + ox, q + ch]


def max_pool_numpy(x: np.ndarray, k: int, best: np.ndarray, where: np.ndarray) -> None:
    best[...], where[...] = C.max_pool(x, k)


def _max_pool_loop(x: np.ndarray, k: int, best: np.ndarray, where: np.ndarray) -> None:
    n, ho, wo, c = best.shape
    for b in range(n):
        for oy in range(ho):
            for ox in range(wo):
                for ch in range(c):
                    top, at = x[b, oy * k, ox * k, ch], 0
                    for pos in range(1, k * k):
                        v = x[b, oy * k + pos // k, ox * k + pos % k, ch]
                        if v > top:
                            top, at = v, pos
                    best[b, oy, ox, ch] = top
                    where[b, oy, ox, ch] = at


def max_pool_back_numpy(delta: np.ndarray, where: np.ndarray, k: int, out: np.ndarray) -> None:
    out[...] = C.max_pool_backward(delta, where, out.shape, k)


def _max_pool_back_loop(delta: np.ndarray, where: np.ndarray, k: int, out: np.ndarray) -> None:
    n, ho, wo, c = delta.shape
    out[...] = 0
    for b in range(n):
        for oy in range(ho):
            for ox in range(wo):
                for ch in range(c):
                    pos = where[b, oy, ox, ch]
                    out[b, oy * k + pos // k, ox * k + pos % k, ch] = delta[b, oy, ox, ch]


def row_sums_numpy(d: np.ndarray, out: np.ndarray) -> None:
    np.sum(d, axis=0, out=out)


def _row_sums_loop(d: np.ndarray, out: np.ndarray) -> None:
    # +0.0 plus each row in order: NumPy's axis-0 sum of a C-ordered array at least 2 wide
    out[:] = 0
    for r in range(d.shape[0]):
        for j in range(d.shape[1]):
            out[j] += d[r, j]


def _maps() -> np.ndarray:
    return np.zeros((1, 2, 2, 1), np.float32)


EXAMPLES = {
    "fold": lambda: (np.zeros((4, 1), np.float32), 1, 1, 0, _maps()),
    "max_pool": lambda: (_maps(), 2, np.zeros((1, 1, 1, 1), np.float32),
                         np.zeros((1, 1, 1, 1), np.uint8)),
    "max_pool_back": lambda: (np.zeros((1, 1, 1, 1), np.float32),
                              np.zeros((1, 1, 1, 1), np.uint8), 2, _maps()),
    "row_sums": lambda: (np.zeros((1, 2), np.float32), np.zeros(2, np.float32)),
}
PAIRS: dict[str, tuple[Callable[..., None], Callable[..., None]]] = {
    "fold": (fold_numpy, _fold_loop), "max_pool": (max_pool_numpy, _max_pool_loop),
    "max_pool_back": (max_pool_back_numpy, _max_pool_back_loop),
    "row_sums": (row_sums_numpy, _row_sums_loop)}
