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


@pytest.fixture()
def fused() -> dict[str, kernels.Kernel]:
    if kernels.backend() != "numba":
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail("numba (the 'fast' extra) is required in CI")
        pytest.skip("numba not installed")
    return {name: kernels.kernel(name) for name in ("adam", "momentum", "sgd")}


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
        assert np.array_equal(a, b)
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
