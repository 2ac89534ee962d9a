"""Convolution and pooling against PyTorch (float64, forward and backward), the compiled loops
bit-equal to NumPy's forms, and the backward passes as the adjoints of the forward ones."""

from __future__ import annotations

import os

import numpy as np
import pytest

from digitlens.nn import conv as C
from digitlens.nn import kernels
from support import torch_or_skip

CASES = [  # (n, c, h, w, out, k, stride, pad)
    (2, 1, 28, 28, 6, 5, 1, 2), (3, 6, 14, 14, 16, 5, 1, 0), (2, 3, 9, 7, 4, 3, 2, 1),
    (1, 2, 5, 5, 3, 5, 1, 0), (2, 4, 8, 8, 2, 1, 1, 0), (1, 1, 6, 6, 2, 3, 3, 2),
]


def last(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def first(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("case", CASES)
def test_convolution_matches_pytorch_forward_and_backward(case: tuple[int, ...]) -> None:
    torch = torch_or_skip()
    n, c, h, w, o, k, stride, pad = case
    rng = np.random.default_rng(sum(case))
    x, kern = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, k, k))
    bias = rng.standard_normal(o)
    z, cols = C.conv_forward(last(x), kern, bias, stride, pad)
    tx, tk, tb = (torch.tensor(a, requires_grad=True) for a in (x, kern, bias))
    tz = torch.nn.functional.conv2d(tx, tk, tb, stride=stride, padding=pad)
    np.testing.assert_allclose(first(z), tz.detach().numpy(), rtol=1e-12, atol=1e-12)
    delta = rng.standard_normal(tz.shape)
    tz.backward(torch.tensor(delta))
    dk, db, dx = C.conv_backward(last(delta), cols, kern, last(x).shape, stride, pad)
    # float64 both sides: sums of at most a few hundred products, orders differing
    np.testing.assert_allclose(dk, tk.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert dx is not None
    np.testing.assert_allclose(first(dx), tx.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("shape", "k"), [((2, 3, 8, 8), 2), ((1, 2, 7, 5), 2), ((2, 1, 9, 9), 3)])
def test_pooling_matches_pytorch_with_ties_and_leftover_rows(shape: tuple[int, ...],
                                                            k: int) -> None:
    torch = torch_or_skip()
    rng = np.random.default_rng(k)
    x = np.round(rng.standard_normal(shape) * 2) / 2   # many ties inside tiles
    delta = rng.standard_normal((shape[0], shape[1], shape[2] // k, shape[3] // k))
    for kind in ("max", "avg"):
        tx = torch.tensor(x, requires_grad=True)
        pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
        ty = pool(tx, k)
        ty.backward(torch.tensor(delta))
        if kind == "max":
            y, where = C.max_pool(last(x), k)
            dx = C.max_pool_backward(last(delta), where, last(x).shape, k)
        else:
            y, dx = C.avg_pool(last(x), k), C.avg_pool_backward(last(delta), last(x).shape, k)
        np.testing.assert_allclose(first(y), ty.detach().numpy(), rtol=1e-15, atol=1e-15)
        # the max's gradient goes to the first of tied pixels, as PyTorch's
        np.testing.assert_allclose(first(dx), tx.grad.numpy(), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("case", CASES)
def test_fold_is_the_adjoint_of_patches(case: tuple[int, ...]) -> None:
    """<patches(x), g> = <x, fold(g)> for any x and g: the backward pass of a copy."""
    n, c, h, w, _, k, stride, pad = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, h, w, c))
    cols = C.patches(x, k, stride, pad)
    g = rng.standard_normal(cols.shape)
    assert np.isclose(np.sum(cols * g), np.sum(x * C.fold(g, x.shape, k, stride, pad)),
                      rtol=1e-12)


def test_compiled_loops_give_numpy_bits() -> None:
    if kernels.backend() != "numba":
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail("numba (the 'fast' extra) is required in CI")
        pytest.skip("numba not installed")
    rng = np.random.default_rng(2)
    for n, c, h, w, _, k, stride, pad in CASES:
        x = (rng.standard_normal((n, h, w, c)) * 10.0 ** rng.integers(-8, 3, (n, h, w, c)))
        x = x.astype(np.float32)
        cols = C.patches(x, k, stride, pad)
        g = rng.standard_normal(cols.shape).astype(np.float32)
        out = np.empty(x.shape, np.float32)
        kernels.kernel("fold")(g, k, stride, pad, out)
        assert np.array_equal(out.view(np.uint32),
                              C.fold(g, x.shape, k, stride, pad).view(np.uint32))
        if min(h, w) >= 2:
            x[:, ::2] = np.round(x[:, ::2])  # ties
            best = np.empty((n, h // 2, w // 2, c), np.float32)
            where = np.empty(best.shape, np.uint8)
            kernels.kernel("max_pool")(x, 2, best, where)
            want, want_where = C.max_pool(x, 2)
            assert np.array_equal(best, want) and np.array_equal(where, want_where)
            back = np.empty(x.shape, np.float32)
            kernels.kernel("max_pool_back")(best, where, 2, back)
            assert np.array_equal(back, C.max_pool_backward(best, where, x.shape, 2))


def test_sizes_that_do_not_fit() -> None:
    assert C.out_size(4, 5) == 0 and C.out_size(4, 5, pad=1) == 2 and C.out_size(28, 5, 1, 2) == 28
