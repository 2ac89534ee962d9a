"""The training step's element-wise work as single fused loops, compiled by numba when it is
installed: optimizer updates, batch gathering, bias + ReLU, ReLU's backward with the bias
gradient, and the softmax + cross-entropy output delta; and a convolutional network's window
copies and pooling (``digitlens.nn.conv_kernels``).

NumPy needs ten passes over the parameters for one Adam step (each ufunc reads and writes the
whole buffer); a fused loop reads each parameter once. Batches are gathered from the uint8
images and scaled in the same loop, reading a quarter of the bytes of a float32 copy, so
training keeps no float32 copy of the images. The per-layer loops each replace two or three
NumPy calls on small arrays, whose cost is mostly per call. benchmarks/bench_train.py measures
what they save.
numba is the optional ``fast`` extra: without it (or with ``DIGITLENS_KERNELS=numpy``) the NumPy
versions run.

Both versions perform the same float32 operations in the same order, each rounded to float32
(no fused multiply-add: numba does not contract without ``fastmath``), so they give
bit-identical parameters and a run does not depend on which one trained it. The tests hold them
to exact equality.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.nn import conv_kernels
from digitlens.nn.functions import NONLINEARITIES, d_relu_, output_delta, relu_

Kernel = Callable[..., None]


def adam_numpy(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, b1: np.float32,
               b2: np.float32, eps: np.float32, c1: np.float32, tmp: np.ndarray) -> None:
    """m = b1·m + g; v = b2·v + g²; p -= (m / (√v + eps))·c1 — ten in-place passes."""
    m *= b1
    m += g
    np.multiply(g, g, out=tmp)
    v *= b2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= c1
    p -= tmp


def momentum_numpy(p: np.ndarray, g: np.ndarray, v: np.ndarray, mu: np.float32,
                   lr: np.float32, tmp: np.ndarray) -> None:
    """v = mu·v - g·lr; p += v."""
    v *= mu
    np.multiply(g, lr, out=tmp)
    v -= tmp
    p += v


def sgd_numpy(p: np.ndarray, g: np.ndarray, lr: np.float32, tmp: np.ndarray) -> None:
    """p -= g·lr."""
    np.multiply(g, lr, out=tmp)
    p -= tmp


def gather_numpy(images: np.ndarray, idx: np.ndarray, out: np.ndarray,
                 tmp: np.ndarray) -> None:
    """out = images[idx] / 255 for uint8 ``images`` (``tmp``: a uint8 buffer shaped like out).
    Rows out of range raise IndexError (negative ones too, as in the fused loop)."""
    if idx.size and (idx.min() < 0 or idx.max() >= len(images)):
        raise IndexError("row index out of range")
    np.take(images, idx, axis=0, out=tmp)
    np.divide(tmp, np.float32(255), out=out)


# The per-layer kernels' NumPy halves are the nonlinearity records' own forms
# (``digitlens.nn.functions``: the one place each derivative is written), plus the bias sum;
# their fused loops below restate them in one pass and are held bit-equal to these.
def bias_relu_numpy(z: np.ndarray, bias: np.ndarray) -> None:
    """z = max(z + bias, 0) in place (NaN stays NaN, as np.maximum keeps it)."""
    z += bias
    relu_(z)


def relu_back_sum_numpy(delta: np.ndarray, a: np.ndarray, gb: np.ndarray) -> None:
    """delta *= ReLU'(z) = (a > 0); gb = delta summed over the batch (the layer's bias
    gradient)."""
    d_relu_(delta, a, delta)
    np.sum(delta, axis=0, out=gb)


def softmax_ce_delta_numpy(a: np.ndarray, y: np.ndarray, delta: np.ndarray,
                           gb: np.ndarray) -> None:
    """Softmax + cross-entropy output delta (``output_delta``: (a - onehot(y)) / n, ``a``
    unchanged); gb its batch sum (the output layer's bias gradient). Labels out of range
    raise IndexError (negative ones too, as in the fused loop)."""
    if len(y) and (y.min() < 0 or y.max() >= a.shape[1]):
        raise IndexError("label out of range")
    output_delta("cross_entropy", "softmax", a, y, delta, delta)  # CE needs no scratch
    np.sum(delta, axis=0, out=gb)


def _gather_loop(images: Any, idx: Any, out: Any, tmp: Any) -> None:
    scale = np.float32(255)
    n = images.shape[0]
    if idx.size > out.shape[0] or out.shape[1] != images.shape[1]:
        raise ValueError("out does not fit the gathered rows")
    for i in range(idx.size):
        k = idx[i]
        if k < 0 or k >= n:
            raise IndexError("row index out of range")
        row, dest = images[k], out[i]
        for j in range(row.size):
            dest[j] = np.float32(row[j]) / scale


def _bias_relu_loop(z: Any, bias: Any) -> None:
    zero = np.float32(0)
    for i in range(z.shape[0]):
        row = z[i]
        for j in range(row.size):
            v = row[j] + bias[j]
            row[j] = v if (v > zero or v != v) else zero  # -0.0 -> +0.0, as np.maximum


# The two loops below build the bias gradient as +0.0 plus each row in order: that is how
# NumPy's axis-0 sum of a C-ordered array adds (a column of -0.0 sums to +0.0), so the rounding
# is the same, for rows at least 2 wide (a (b, 1) column NumPy sums pairwise: ``BatchStepper``
# keeps NumPy's form for 1-wide layers).
def _relu_back_sum_loop(delta: Any, a: Any, gb: Any) -> None:
    one, zero = np.float32(1), np.float32(0)
    gb[:] = zero
    for i in range(delta.shape[0]):
        d, act = delta[i], a[i]
        for j in range(d.size):
            d[j] = d[j] * (one if act[j] > zero else zero)
        gb += d


def _softmax_ce_delta_loop(a: Any, y: Any, delta: Any, gb: Any) -> None:
    n = np.float32(y.size)
    if y.size != a.shape[0] or delta.shape[0] < a.shape[0] or delta.shape[1] != a.shape[1]:
        raise ValueError("one label per row, and a delta row per row")
    gb[:] = np.float32(0)
    for i in range(a.shape[0]):
        row, d = a[i], delta[i]
        if y[i] < 0 or y[i] >= row.size:
            raise IndexError("label out of range")
        for j in range(row.size):
            d[j] = row[j]
        d[y[i]] -= np.float32(1)
        for j in range(row.size):
            d[j] = d[j] / n
        gb += d


def _adam_loop(p: Any, g: Any, m: Any, v: Any, b1: Any, b2: Any, eps: Any, c1: Any,
               tmp: Any) -> None:
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * b1 + gi
        vi = v[i] * b2 + gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - (mi / (np.sqrt(vi) + eps)) * c1


def _momentum_loop(p: Any, g: Any, v: Any, mu: Any, lr: Any, tmp: Any) -> None:
    for i in range(p.size):
        vi = v[i] * mu - g[i] * lr
        v[i] = vi
        p[i] = p[i] + vi


def _sgd_loop(p: Any, g: Any, lr: Any, tmp: Any) -> None:
    for i in range(p.size):
        p[i] = p[i] - g[i] * lr


@dataclass(frozen=True)
class KernelPair:
    """One operation two ways: NumPy passes and the loop numba compiles, with the arguments of
    a tiny call in the training dtypes (``warm_up``)."""

    numpy: Kernel
    loop: Kernel
    example: Callable[[], tuple[Any, ...]]


def _v() -> np.ndarray:
    return np.zeros(1, np.float32)


def _m() -> np.ndarray:
    return np.zeros((1, 1), np.float32)


def _f(x: float = 1) -> np.float32:
    return np.float32(x)


def _labels() -> np.ndarray:
    return np.zeros(1, np.int64)


KERNELS: dict[str, KernelPair] = {
    "adam": KernelPair(adam_numpy, _adam_loop,
                       lambda: (_v(), _v(), _v(), _v(), _f(), _f(), _f(), _f(), _v())),
    "momentum": KernelPair(momentum_numpy, _momentum_loop,
                           lambda: (_v(), _v(), _v(), _f(), _f(), _v())),
    "sgd": KernelPair(sgd_numpy, _sgd_loop, lambda: (_v(), _v(), _f(), _v())),
    "gather": KernelPair(gather_numpy, _gather_loop, lambda: (
        np.zeros((1, 1), np.uint8), _labels(), _m(), np.zeros((1, 1), np.uint8))),
    "bias_relu": KernelPair(bias_relu_numpy, _bias_relu_loop, lambda: (_m(), _v())),
    "relu_back_sum": KernelPair(relu_back_sum_numpy, _relu_back_sum_loop,
                                lambda: (_m(), _m(), _v())),
    "softmax_ce_delta": KernelPair(softmax_ce_delta_numpy, _softmax_ce_delta_loop,
                                   lambda: (_m(), _labels(), _m(), _v())),
}
KERNELS.update({name: KernelPair(numpy_form, loop, conv_kernels.EXAMPLES[name])
                for name, (numpy_form, loop) in conv_kernels.PAIRS.items()})
NUMPY: dict[str, Kernel] = {name: k.numpy for name, k in KERNELS.items()}


@functools.cache
def _compile() -> dict[str, Kernel] | None:
    """The fused loops, or None without numba (imported on first use: it takes 0.2 s)."""
    if os.environ.get("DIGITLENS_KERNELS", "").lower() == "numpy":
        return None
    try:
        import numba
    except ImportError:
        return None
    # error_model="numpy": a division by zero gives inf/nan like NumPy instead of raising,
    # which is also what lets LLVM vectorise the loop. cache=True: compiled once per machine,
    # unless no cache folder is writable (numba refuses then): compiled once per process.
    for cache in (True, False):
        jit = numba.njit(cache=cache, nogil=True, boundscheck=False, error_model="numpy")
        try:
            return {name: jit(k.loop) for name, k in KERNELS.items()}
        except RuntimeError:
            continue
    return None


def warm_up(name: str, fn: Kernel) -> None:
    """One tiny call with the training dtypes, so numba compiles (or loads) it now."""
    fn(*KERNELS[name].example())


@functools.cache
def kernel(name: str) -> Kernel:
    """The fastest available kernel ``name`` (a key of ``KERNELS``), compiled now so the first
    training step is not the one that waits."""
    fused = _compile()
    if fused is None:
        return NUMPY[name]
    warm_up(name, fused[name])
    return fused[name]


def activate_step(name: str) -> Callable[[np.ndarray, np.ndarray], None]:
    """z = f(z + bias) in place: the nonlinearity's fused kernel, or two NumPy steps (what an
    MLP's training step and a convolution's forward pass both do after their product)."""
    f = NONLINEARITIES[name]
    if f.fused_forward is not None:
        return kernel(f.fused_forward)
    inplace = f.inplace

    def step(z: np.ndarray, bias: np.ndarray) -> None:
        z += bias
        inplace(z)
    return step


def backend() -> str:
    """"numba" or "numpy": what ``kernel`` hands out."""
    return "numba" if _compile() else "numpy"
