"""Convolution and pooling, forward and backward, written to be read.

Feature maps travel as (n, height, width, channels) arrays ("channels last"): a pixel's
channels sit side by side, so a window of pixels is a run of memory and a layer's output comes
out of its matrix product already in this order. Kernels are stored as PyTorch stores them,
``(out, in, k, k)``; ``CNN`` flattens maps in PyTorch's order (channel, row, column).

A convolution is a matrix product over patches: ``patches`` copies every k×k window of all
input channels into one row (the "im2col" of every fast CNN library), and the layer is
``patches @ kernelsᵀ + bias``, one BLAS call. The backward pass is the same idea read the other
way: the kernels' gradient is ``deltaᵀ @ patches``, and the input's gradient is ``delta @
kernels`` folded back onto the pixels each patch came from (``fold``, adding where windows
overlap). Max-pooling passes each window's largest value, and its gradient goes back to that one
pixel (the first, where several tie, as PyTorch does); average-pooling passes the mean and
shares the gradient equally.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Array = np.ndarray


def out_size(size: int, k: int, stride: int = 1, pad: int = 0) -> int:
    """Output positions of a k-wide window sliding by ``stride`` over ``size`` + 2·``pad``
    (0 or less: the window does not fit)."""
    return (size + 2 * pad - k) // stride + 1 if size + 2 * pad >= k else 0


def kernel_rows(kernels: Array) -> Array:
    """Kernels (o, c, k, k) as rows (o, k·k·c) in the order of a patch's entries."""
    return kernels.transpose(0, 2, 3, 1).reshape(len(kernels), -1)


def patches(x: Array, k: int, stride: int = 1, pad: int = 0) -> Array:
    """Every k×k window of ``x`` (n, h, w, c) as a row: (n·ho·wo, k·k·c), rows ordered by
    image, output row, output column; a row's entries by kernel row, kernel column, channel.
    A one-channel input's matrix is stored column by column (the products read either)."""
    n, c = len(x), x.shape[3]
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    win = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]  # n,ho,wo,c,k,k
    ho, wo = win.shape[1], win.shape[2]
    if c == 1:  # one column per kernel entry: k·k long copies instead of n·ho·wo short ones
        cols = np.empty((k, k, n, ho, wo), x.dtype)
        for i in range(k):
            for j in range(k):
                cols[i, j] = win[..., 0, i, j]
        return cols.reshape(k * k, n * ho * wo).T    # the same matrix, stored by column
    return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n * ho * wo, k * k * c)


def fold(cols: Array, shape: tuple[int, int, int, int], k: int, stride: int = 1,
         pad: int = 0) -> Array:
    """The adjoint of ``patches``: each row's entries added back onto the pixels of ``shape``
    (n, h, w, c) its window covered."""
    n, h, w, c = shape
    ho, wo = out_size(h, k, stride, pad), out_size(w, k, stride, pad)
    grid = cols.reshape(n, ho, wo, k, k, c)
    out = np.zeros((n, h + 2 * pad, w + 2 * pad, c), cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, i:i + stride * ho:stride, j:j + stride * wo:stride] += grid[:, :, :, i, j]
    return out[:, pad:pad + h, pad:pad + w]


def conv_forward(x: Array, kernels: Array, bias: Array | None, stride: int = 1, pad: int = 0,
                 windows: Callable[[Array, int, int, int], Array] | None = None
                 ) -> tuple[Array, Array]:
    """z = the convolution of ``x`` (n, h, w, c) with ``kernels`` (o, c, k, k), plus ``bias``
    (o,): (n, ho, wo, o), and the patches it read (kept for the backward pass). ``bias`` None:
    the product alone, for a caller that adds the bias in the same pass as the nonlinearity.
    ``windows``: another form of ``patches`` giving the same rows."""
    n, k = len(x), kernels.shape[2]
    ho, wo = out_size(x.shape[1], k, stride, pad), out_size(x.shape[2], k, stride, pad)
    cols = (windows or patches)(x, k, stride, pad)      # (n·ho·wo, k·k·c)
    z = cols @ kernel_rows(kernels).T                   # (n·ho·wo, o)
    if bias is not None:
        z += bias
    return z.reshape(n, ho, wo, -1), cols


def conv_backward(delta: Array, cols: Array, kernels: Array, in_shape: tuple[int, int, int, int],
                  stride: int = 1, pad: int = 0, need_input: bool = True,
                  folding: Callable[..., Array] | None = None,
                  summing: Callable[[Array], Array] | None = None
                  ) -> tuple[Array, Array, Array | None]:
    """From ``delta`` = dCost/dz (n, ho, wo, o): the kernels' gradient (o, c, k, k), the
    bias's (o,) and, when ``need_input``, the input's (n, h, w, c). ``folding``: another form
    of ``fold`` giving the same sums; ``summing`` of the bias's column sums (rows in order)."""
    o, c, k = kernels.shape[0], kernels.shape[1], kernels.shape[2]
    d = delta.reshape(-1, o)                            # (n·ho·wo, o), rows as in ``cols``
    dk = (d.T @ cols).reshape(o, k, k, c).transpose(0, 3, 1, 2)  # (o, n·ho·wo) @ (n·ho·wo, kkc)
    db = summing(d) if summing else d.sum(axis=0)
    if not need_input:
        return np.ascontiguousarray(dk), db, None
    dcols = d @ kernel_rows(kernels)                    # (n·ho·wo, k·k·c)
    return np.ascontiguousarray(dk), db, (folding or fold)(dcols, in_shape, k, stride, pad)


def pool_offsets(x: Array, k: int) -> list[Array]:
    """The k·k strided views of ``x`` (n, h, w, c), one per position inside a tile, each
    (n, h//k, w//k, c); rows and columns left over at the bottom and right are dropped
    (PyTorch's floor mode)."""
    ho, wo = x.shape[1] // k, x.shape[2] // k
    return [x[:, i:ho * k:k, j:wo * k:k] for i in range(k) for j in range(k)]


def max_pool(x: Array, k: int) -> tuple[Array, Array]:
    """Each k×k tile's largest value (n, h//k, w//k, c), and which position of the tile
    (0..k·k−1, row by row) held it, the first where several tie."""
    views = pool_offsets(x, k)
    best, where = views[0].copy(), np.zeros(views[0].shape, np.uint8)
    for pos, v in enumerate(views[1:], 1):
        larger = v > best
        np.copyto(best, v, where=larger)
        where[larger] = pos
    return best, where


def max_pool_backward(delta: Array, where: Array, shape: tuple[int, int, int, int],
                      k: int) -> Array:
    """The gradient of each tile's output goes to the one pixel that was largest."""
    out = np.zeros(shape, delta.dtype)
    for pos, view in enumerate(pool_offsets(out, k)):
        np.copyto(view, delta, where=where == pos)
    return out


def avg_pool(x: Array, k: int) -> Array:
    """Each k×k tile's mean (n, h//k, w//k, c), summed in the tile's row order."""
    views = pool_offsets(x, k)
    total = views[0].copy()
    for v in views[1:]:
        total += v
    return (total / (k * k)).astype(x.dtype)


def avg_pool_backward(delta: Array, shape: tuple[int, int, int, int], k: int) -> Array:
    """Each tile's gradient shared equally by its k·k pixels."""
    out = np.zeros(shape, delta.dtype)
    share = (delta / (k * k)).astype(delta.dtype)
    for view in pool_offsets(out, k):
        view[...] = share
    return out
