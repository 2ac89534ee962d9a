"""Each nonlinearity's record against oracles: its in-place form against its function, its
derivative (written from the output) against finite differences, its spreadsheet formula
evaluated, and the page's display names against the record's."""

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
