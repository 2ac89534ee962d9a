"""The fused (numba) optimizer loops give exactly the NumPy passes' float32 results."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from digitlens.nn import kernels
from digitlens.nn.optim import make_optimizer

f32 = np.float32


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit: -0.0 differs from +0.0 and NaNs compare by payload."""
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(
        a.view(np.uint32), b.view(np.uint32))


@pytest.fixture
def fused() -> dict[str, kernels.Kernel]:
    if kernels.backend() != "numba":
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail("numba (the 'fast' extra) is required in CI")
        pytest.skip("numba not installed")
    return {name: kernels.kernel(name) for name in kernels.NUMPY}


def awkward(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values of every scale, exact zeros and signs mixed (rounding differences show here)."""
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-12, 3, n)
    x[rng.random(n) < 0.05] = 0
    return x.astype(f32)


@pytest.mark.parametrize("n", [1, 7, 1000, 4099])
def test_fused_updates_equal_numpy_bit_for_bit(fused, n: int) -> None:
    rng = np.random.default_rng(n)
    p, m, v = awkward(rng, n), awkward(rng, n), np.abs(awkward(rng, n))
    states = {"fused": [p.copy(), m.copy(), v.copy()], "numpy": [p.copy(), m.copy(), v.copy()]}
    tmp = np.empty(n, f32)
    for t in range(1, 6):
        g = awkward(rng, n)
        c1, eps = f32(1e-3 * t), f32(1e-8 * t)
        for name, (pp, mm, vv) in states.items():
            adam = fused["adam"] if name == "fused" else kernels.adam_numpy
            adam(pp, g, mm, vv, f32(0.9), f32(0.999), eps, c1, tmp)
            mom = fused["momentum"] if name == "fused" else kernels.momentum_numpy
            mom(pp, g, mm, f32(0.9), c1, tmp)
            sgd = fused["sgd"] if name == "fused" else kernels.sgd_numpy
            sgd(pp, g, f32(0.5), tmp)
    for a, b in zip(states["fused"], states["numpy"], strict=True):
        assert same_bits(a, b)
    assert not np.array_equal(states["fused"][0], p)  # something happened


def test_zero_denominator_gives_inf_not_an_exception(fused) -> None:
    p, m, v, g = (np.zeros(3, f32) for _ in range(4))
    m[:] = 1
    with np.errstate(all="ignore"):
        fused["adam"](p, g, m, v, f32(1), f32(1), f32(0), f32(1), np.empty(3, f32))
    assert np.all(np.isinf(p))


def test_numpy_backend_can_be_forced() -> None:
    code = ("from digitlens.nn import kernels; "
            "print(kernels.backend(), kernels.kernel('adam') is kernels.adam_numpy)")
    env = {**os.environ, "DIGITLENS_KERNELS": "numpy"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["numpy", "True"]


def test_optimizers_use_the_kernels(fused) -> None:
    for name in ("adam", "momentum", "sgd"):
        assert make_optimizer(name, 4).update is fused[name]  # type: ignore[attr-defined]


def test_gather_scales_like_the_float_copy(fused) -> None:
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    idx = rng.permutation(50)[:17]
    expected = images[idx].astype(f32) / f32(255)  # what training fed before (as_float)
    for gather in (fused["gather"], kernels.gather_numpy):
        out = np.full((17, 784), np.nan, f32)
        gather(images, idx, out, np.empty((17, 784), np.uint8))
        assert same_bits(out, expected)


def test_bad_rows_labels_and_shapes_are_refused_by_both(fused) -> None:
    images = np.zeros((4, 3), np.uint8)
    out, tmp = np.empty((1, 3), f32), np.empty((1, 3), np.uint8)
    for gather in (fused["gather"], kernels.gather_numpy):
        for bad in (4, -1):
            with pytest.raises(IndexError):
                gather(images, np.array([bad]), out, tmp)
    with pytest.raises(ValueError, match="."):
        fused["gather"](images, np.array([0, 1]), out, tmp)  # two rows into a one-row buffer
    with pytest.raises(ValueError, match="."):
        fused["gather"](images, np.array([0]), np.empty((1, 5), f32), tmp)
    for delta in (fused["softmax_ce_delta"], kernels.softmax_ce_delta_numpy):
        for label in (10, -1):
            with pytest.raises(IndexError):
                delta(np.zeros((2, 10), f32), np.array([0, label]), np.empty((2, 10), f32),
                      np.empty(10, f32))


def test_a_step_from_uint8_equals_one_from_float32() -> None:
    from digitlens.nn.mlp import MLP
    from digitlens.nn.step import BatchStepper
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, (40, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, 40)
    models = [MLP.create((784, 16, 10), "relu", seed=1) for _ in range(2)]
    for model, x in zip(models, (images, images.astype(f32) / f32(255)), strict=True):
        stepper = BatchStepper(model, make_optimizer("adam", model.params.size), 8)
        for i in range(0, 40, 8):
            stepper.step(x, labels, np.arange(i, i + 8), 1e-2)
    assert np.array_equal(models[0].params, models[1].params)


def test_layer_kernels_equal_numpy_bit_for_bit(fused) -> None:
    rng = np.random.default_rng(7)
    # rows at least 2 wide: NumPy sums a 1-wide column pairwise (the stepper keeps NumPy there)
    for b, n in ((1, 2), (5, 3), (128, 256), (33, 10), (7, 2), (16, 2)):
        z = awkward(rng, b * n).reshape(b, n)
        z[0, 0] = np.nan
        z[0, -1] = z[-1, -1] = -0.0
        bias = awkward(rng, n)
        a = np.abs(awkward(rng, b * n)).reshape(b, n) * (rng.random((b, n)) < 0.5)
        a[:, -1] = 0  # a column the ReLU blocks entirely: its deltas become ±0.0
        y = rng.integers(0, n, b)
        results = []
        for impl in (fused, kernels.NUMPY):
            zz, dd, pp = z.copy(), z.copy(), np.abs(z) / (1 + np.abs(z))
            out_delta = np.full((b, n), np.nan, f32)
            gb1, gb2, gb3 = (np.full(n, np.nan, f32) for _ in range(3))
            with np.errstate(all="ignore"):
                impl["row_sums"](z, gb3)  # a convolution's bias gradient
                impl["bias_relu"](zz, bias)
                impl["relu_back_sum"](dd, a, gb1)
                impl["softmax_ce_delta"](pp, y, out_delta, gb2)
            assert np.array_equal(pp, np.abs(z) / (1 + np.abs(z)), equal_nan=True)  # a is kept
            results.append([zz, dd, gb1, out_delta, gb2, gb3])
        for x1, x2 in zip(*results, strict=True):
            assert same_bits(x1, x2)
        assert np.isnan(results[0][0][0, 0])  # ReLU keeps NaN, as np.maximum does


@pytest.mark.parametrize(("activation", "sizes"), [
    ("relu", (784, 32, 16, 10)), ("sigmoid", (784, 32, 16, 10)),
    ("relu", (784, 8, 1, 10)),  # a 1-wide layer: NumPy sums a column pairwise
])
@pytest.mark.usefixtures("fused")
def test_training_steps_equal_with_numpy_kernels(monkeypatch, activation: str,
                                                 sizes: tuple[int, ...]) -> None:
    """Whole steps (gather, layers, deltas, bias sums, Adam) give the same weights both ways."""
    from digitlens.nn import optim, step
    from digitlens.nn.mlp import MLP
    rng = np.random.default_rng(8)
    images = rng.integers(0, 256, (64, 784), dtype=np.uint8)
    labels = rng.integers(0, 10, 64)
    params = []
    for use_numpy in (False, True):
        if use_numpy:
            monkeypatch.setattr(step, "kernel", kernels.NUMPY.__getitem__)
            monkeypatch.setattr(optim, "kernel", kernels.NUMPY.__getitem__)
        model = MLP.create(sizes, activation, seed=2)
        stepper = step.BatchStepper(model, make_optimizer("adam", model.params.size), 64)
        for i in range(0, 64, 16):
            stepper.step(images, labels, np.arange(i, i + 16), 1e-2)
        params.append(model.params.copy())
    assert same_bits(params[0], params[1])


@pytest.mark.usefixtures("fused")
def test_without_a_writable_cache_the_loops_still_compile(monkeypatch) -> None:
    """numba refuses cache=True when no cache folder is writable; compile per process then."""
    import numba
    real = numba.njit
    asked: list[bool] = []

    def njit(**options):
        asked.append(options["cache"])
        if options["cache"]:
            def refuse(_fn):
                raise RuntimeError("cannot cache function: no locator available")
            return refuse
        return real(**options)
    monkeypatch.setattr(numba, "njit", njit)
    loops = kernels._compile.__wrapped__()
    assert asked == [True, False] and loops is not None
    p, g = np.ones(3, f32), np.ones(3, f32)
    loops["sgd"](p, g, f32(0.5), np.empty(3, f32))
    assert np.array_equal(p, np.full(3, 0.5, f32))
