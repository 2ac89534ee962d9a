"""Each nonlinearity's record against oracles: its in-place form against its function, its
derivative (written from the output) against finite differences, its spreadsheet formula
evaluated, the fused training kernels against the record's own forms (bit for bit), and the
page's display names against the record's."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from digitlens.nn import kernels
from digitlens.nn.functions import ACT_NAMES, NONLINEARITIES, Nonlinearity, output_delta

Z = np.array([-30.0, -4.0, -1.5, -0.25, 0.0, 1e-3, 0.7, 2.0, 9.0, 40.0])
INSPECTOR_JS = Path(__file__).parents[2] / "src/digitlens/web/static/js/inspector.js"


@pytest.mark.parametrize("f", NONLINEARITIES.values(), ids=list(NONLINEARITIES))
def test_inplace_form_equals_the_function(f: Nonlinearity) -> None:
    z = np.stack([Z, Z[::-1] / 3]).astype(np.float32)
    a = z.copy()
    f.inplace(a)
    # float32 element by element, no sums: the in-place kernel and NumPy's SIMD loop differ by
    # a few ulp at most (2⁻²⁴ ≈ 6e-8 relative each), well inside 1e-6 ≈ 16 ulp
    np.testing.assert_allclose(a, f.function(z), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f", [f for f in NONLINEARITIES.values() if f.hidden],
                         ids=[k for k, f in NONLINEARITIES.items() if f.hidden])
def test_derivative_from_the_output_matches_finite_differences(f: Nonlinearity) -> None:
    z = Z[np.abs(Z) > 1e-2]  # away from ReLU's kink
    h = 1e-6
    numeric = (f.function(z + h) - f.function(z - h)) / (2 * h)
    # float64 central differences, h = 1e-6: truncation h²·|f'''|/6 ≲ 1e-12 and rounding
    # 2⁻⁵³·|f|/h ≈ 1e-10, so 1e-6 is the method's margin, not the machine's
    np.testing.assert_allclose(f.derivative(f.function(z)), numeric, rtol=1e-6, atol=1e-9)
    delta = np.full_like(z, 3.0)
    assert f.derivative_ is not None
    f.derivative_(delta, f.function(z), np.empty_like(z))  # in place: delta *= f'(z)
    np.testing.assert_allclose(delta, 3 * numeric, rtol=1e-6, atol=1e-9)


def spreadsheet(formula: str, z: float) -> float:
    """Evaluate the workbook's formula for f(z) with the spreadsheet's functions."""
    expr = formula.format(z=f"({z!r})")
    expr = re.sub(r"\bEXP\(", "math.exp(", expr)
    expr = re.sub(r"\bTANH\(", "math.tanh(", expr)
    expr = re.sub(r"\bMAX\(", "max(", expr)
    return float(eval(expr, {"math": math, "max": max}))  # noqa: S307 (our own formula)


@pytest.mark.parametrize("f", [f for f in NONLINEARITIES.values() if f.formula],
                         ids=[k for k, f in NONLINEARITIES.items() if f.formula])
def test_spreadsheet_formula_computes_the_function(f: Nonlinearity) -> None:
    assert f.formula is not None
    for z in Z[np.abs(Z) < 30]:  # float64 both sides
        assert spreadsheet(f.formula, float(z)) == pytest.approx(float(f.function(z)), abs=1e-12)


def test_every_hidden_activation_has_a_derivative_and_outputs_a_delta() -> None:
    for f in NONLINEARITIES.values():
        assert (f.derivative_ is not None) == f.hidden
        for name in (f.fused_forward, f.fused_backward):
            assert name is None or name in kernels.KERNELS
    assert not NONLINEARITIES["softmax"].hidden and NONLINEARITIES["softmax"].formula is None


FUSED = [f for f in NONLINEARITIES.values() if f.fused_forward or f.fused_backward]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and np.array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.parametrize("f", FUSED, ids=[f.name for f in FUSED])
def test_fused_kernels_compute_the_records_forms_bit_for_bit(f: Nonlinearity) -> None:
    """A fused kernel (``kernels.kernel``: numba's loop where it is installed) is not a second
    definition of f or f': it must give exactly the record's in-place form after the bias, and
    the record's derivative followed by the batch sum (rows at least 2 wide; NumPy sums a
    1-wide column pairwise and the fast path keeps the record there)."""
    rng = np.random.default_rng(3)
    for b, n in ((1, 2), (6, 5), (64, 33)):
        z = (rng.standard_normal((b, n)) * 3).astype(np.float32)
        z[0, 0] = -0.0
        bias = rng.standard_normal(n).astype(np.float32)
        if f.fused_forward is not None:
            fused, own = z.copy(), z.copy()
            kernels.kernel(f.fused_forward)(fused, bias)
            own += bias
            f.inplace(own)
            assert same_bits(fused, own)
        if f.fused_backward is not None:
            assert f.derivative_ is not None
            a = f.function(z)
            delta = rng.standard_normal((b, n)).astype(np.float32)
            fused, own = delta.copy(), delta.copy()
            gb_fused, gb_own = np.full(n, np.nan, np.float32), np.empty(n, np.float32)
            kernels.kernel(f.fused_backward)(fused, a, gb_fused)
            f.derivative_(own, a, np.empty_like(a))
            np.sum(own, axis=0, out=gb_own)
            assert same_bits(fused, own) and same_bits(gb_fused, gb_own)


def test_fused_softmax_cross_entropy_delta_is_the_output_delta_bit_for_bit() -> None:
    """The training step's fused output delta is ``output_delta``'s softmax + cross-entropy
    (a - onehot(y)) / n, and its bias gradient the batch sum of it."""
    rng = np.random.default_rng(4)
    for b, n in ((1, 2), (7, 10), (100, 10)):
        a = NONLINEARITIES["softmax"].function(rng.standard_normal((b, n)).astype(np.float32))
        y = rng.integers(0, n, b)
        fused, gb = np.full((b, n), np.nan, np.float32), np.full(n, np.nan, np.float32)
        kernels.kernel("softmax_ce_delta")(a, y, fused, gb)
        own = output_delta("cross_entropy", "softmax", a, y, np.empty_like(a), np.empty_like(a))
        assert same_bits(fused, own) and same_bits(gb, own.sum(axis=0))


def test_output_delta_leaves_the_activations_alone() -> None:
    a = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]])
    before = a.copy()
    delta = output_delta("cross_entropy", "softmax", a, np.array([1, 0]), np.empty_like(a),
                         np.empty_like(a))
    np.testing.assert_array_equal(a, before)
    np.testing.assert_allclose(delta, (a - np.eye(3)[[1, 0]]) / 2)  # float64 both sides


def test_the_page_names_activations_as_the_record_does() -> None:
    """The inspector's ACT_NAMES (web/static/js/inspector.js) follow the Python records."""
    text = INSPECTOR_JS.read_text()
    block = re.search(r"const ACT_NAMES = \{(.*?)\};", text, re.S)
    assert block is not None, "inspector.js no longer defines ACT_NAMES"
    page = dict(re.findall(r'(\w+):\s*"([^"]*)"', block.group(1)))
    assert page == ACT_NAMES
