"""Test helpers importable from any test folder (``tests`` is on pytest's pythonpath).

How to choose a floating-point tolerance (issue #21): every ``rtol``/``atol``/``approx`` in the
suite says, where it stands, why it holds on any CPU. BLAS (OpenBLAS's SkylakeX, Haswell or
Nehalem kernels, or another library) and NumPy's SIMD loops choose the order in which a float32
sum is added, so the same maths gives float32 results that differ in the last bits from one
machine to the next. Pick the case:

(a) both sides in float64, or exact (integers, counts, copies of the same bits): a fixed small
    tolerance (or none) and a comment "float64 both sides" / "exact";
(b) a float32 result against a float64 reference, or against another float32 path that sums in
    another order (chunks vs one block, JS vs Python, ONNX Runtime, PyTorch, numba vs NumPy):
    the tolerance follows from the arithmetic. ``sum_order_bound(n, Σ|term|)`` for one sum of
    n terms, ``dense_bound`` for one layer, ``forward_bounds`` for a whole forward pass (z, a,
    probabilities; from any layer, with inputs already apart), ``backward_bound`` for a
    gradient, ``jacobian_bound`` for d z_out / d x; check with ``assert_within``. Against an
    exact/float64 reference half the bound would do; the two-order bound is used for both so
    one helper serves. A page's engine.js adds in float64 and stores float32: that is one more
    order, inside the same bound. Where a comment derives a fixed number instead, it says which
    γ_n and which Σ|term| (``U32`` is float32's u = 2⁻²⁴). These are worst-case bounds (every
    rounding the same way): far above what any CPU shows, so a real bug, off by a whole term,
    still fails them; a finite difference or another method is checked on a float64 pass;
(c) a value rounded for output (JSON to 6 decimals, a page showing 4 digits): the tolerance is
    half the last shown digit, and the comment says so;
(d) a statistical or approximate method (finite differences, SAE training, UMAP, a sampled
    accuracy): the comment says what the tolerance means (truncation error, noise).

A fixed ``rtol`` on float32 results of long sums is the thing to avoid: it holds on the machine
it was tried on. Run a changed test under ``OPENBLAS_CORETYPE=Haswell`` and ``=Nehalem`` too.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# float32's unit roundoff: the relative error of one rounded operation
U32 = 2.0 ** -24


def require(tool: str) -> str:
    """Path of an external program; skip without it, but fail in CI (DIGITLENS_REQUIRE_E2E)."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail(f"{tool} is required for end-to-end tests in CI but is not installed")
        pytest.skip(f"{tool} not installed")
    return path


def torch_or_skip():  # noqa: ANN201 - the module, when the dev extra is installed
    """PyTorch, the oracle of some tests; skip without it, but fail in CI."""
    try:
        import torch
    except ImportError:
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail("torch (the dev extra) is the oracle of these tests in CI")
        pytest.skip("torch (the dev extra) is not installed")
    return torch


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser build)."""
    executable = require("chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS,
                                    headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where browser tests save screenshots: ``DIGITLENS_SCREENSHOTS`` keeps them."""
    folder = os.environ.get("DIGITLENS_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def stop_process(proc: subprocess.Popen[str]) -> str:
    """Terminate a server started by a test (kill it if it will not go); its remaining stderr."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def sum_order_bound(n_terms: int, abs_sum: Any) -> np.ndarray:
    """How far apart two float32 sums of the same ``n_terms`` terms may lie when they are added
    in different orders (BLAS kernels and block sizes choose the order, and differ by CPU).

    Each is within γ_n·Σ|term| of the exact sum, γ_n = n·u/(1 − n·u), u = 2⁻²⁴ (Higham, Accuracy
    and Stability of Numerical Algorithms, §3.1), so two orders differ by at most 2·γ_n·Σ|term|.
    A comparison with this tolerance holds on every CPU; one with a fixed ``rtol`` holds on the
    machine it was tried on.
    """
    gamma = n_terms * U32 / (1 - n_terms * U32)
    return 2 * gamma * np.asarray(abs_sum, np.float64)


def dense_bound(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``sum_order_bound`` for a dense layer's pre-activations ``x @ W + b`` (one term per
    input, plus the bias); ReLU, sigmoid and tanh are 1-Lipschitz, so it bounds their outputs
    too."""
    x64 = np.abs(np.asarray(x, np.float64))
    return sum_order_bound(weights.shape[0] + 1, x64 @ np.abs(weights.astype(np.float64))
                           + np.abs(bias.astype(np.float64)))


def forward_bounds(model: Any, x: np.ndarray, masks: Any = None, start: int = 0,
                   x_error: Any = 0.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """How far two float32 forward passes of ``model`` on ``x`` (uint8 pixels or model input)
    may lie apart when each sums in its own order: bounds on every layer's z and a, shaped like
    ``model.trace(x).zs`` and ``.activations[1:]``. They hold for a float32 pass against a
    float64 one as well (that is at most half as far).

    Layer by layer, with e the inputs' bound: |Δz| ≤ 2γ_n·(|a|·|W| + |b|) + (1 + γ_n)·e·|W|
    (``sum_order_bound`` for this layer's sums, plus what the inputs already differed by, carried
    through |W|). Hidden activations and a sigmoid output are 1-Lipschitz, plus 4u·|a| for a
    float32 exp/tanh that NumPy's SIMD loops compute to within a few ulp, differently per CPU.
    Softmax: each p_i moves by at most the factor exp(±2·max|Δz|), so |Δp_i| ≤ p_i·(e^{2D} − 1),
    plus (n_out + 4)·2u·p_i for its own float32 exp and sum. Knocked-out neurons (``masks``)
    only shrink the sums, so the bounds without masks hold with them. With ``start`` the pass
    begins at that layer and ``x`` is its input activations, which may already differ by
    ``x_error`` (the lists then hold the layers from ``start`` on).
    """
    from digitlens.nn.functions import NONLINEARITIES
    # the float64 pass, for the sizes of the terms
    a = (model.as_input(x) if start == 0 else np.atleast_2d(x)).astype(np.float64)
    e = np.zeros_like(a) + x_error  # how far the two passes' inputs to this layer may differ
    z_bounds: list[np.ndarray] = []
    a_bounds: list[np.ndarray] = []
    for layer in range(start, model.n_layers):
        w, b = model.weights[layer], model.biases[layer]
        w64, b64 = w.astype(np.float64), b.astype(np.float64)
        n = w.shape[0] + 1
        gamma = n * U32 / (1 - n * U32)
        ez = sum_order_bound(n, np.abs(a) @ np.abs(w64) + np.abs(b64)) \
            + (1 + gamma) * (e @ np.abs(w64))
        name = model.activations[layer]
        a = NONLINEARITIES[name].function(a @ w64 + b64)
        if name == "softmax":
            d = ez.max(axis=-1, keepdims=True)
            ea = a * np.expm1(2 * d) + (w.shape[1] + 4) * 2 * U32 * a
        else:
            ea = ez + 4 * U32 * np.abs(a)
        z_bounds.append(ez)
        a_bounds.append(ea)
        if masks is not None and layer in masks:
            a = a * masks[layer]
        e = ea
    return z_bounds, a_bounds


def encode_bound(sae: Any, acts: np.ndarray) -> np.ndarray:
    """How far two float32 passes of a sparse autoencoder's pre-activations
    ``(a − b_dec)·W_enc + b_enc`` (``analysis/sae.py``) may lie apart, (n, F): the n_hidden + 1
    terms in two orders, the float32 rounding of ``a − b_dec`` carried through |W_enc|, and a
    float32 store of the result. ReLU keeps the bound; TopK keeps it where the k-th and the
    next value lie further apart than twice it (elsewhere a near tie may go either way)."""
    x = np.asarray(acts, np.float64) - sae.b_dec
    w = np.abs(sae.W_enc.astype(np.float64))
    pre = x @ sae.W_enc.astype(np.float64) + sae.b_enc
    terms = np.abs(x) @ w
    return np.asarray(sum_order_bound(w.shape[0] + 1, terms + np.abs(sae.b_enc))
                      + U32 * terms + U32 * np.abs(pre))


def assert_within(actual: Any, desired: Any, bound: Any, what: str = "") -> None:
    """|actual − desired| ≤ bound elementwise (the bound from ``sum_order_bound``,
    ``dense_bound`` or ``forward_bounds``), saying by how much it was broken if it was."""
    diff = np.abs(np.asarray(actual, np.float64) - np.asarray(desired, np.float64))
    bound = np.broadcast_to(np.asarray(bound, np.float64), diff.shape)
    bad = diff > bound
    if np.any(bad):
        worst = np.unravel_index(np.argmax(np.where(bad, diff - bound, -np.inf)), diff.shape)
        raise AssertionError(f"{what or 'values'}: {int(bad.sum())} of {diff.size} outside the "
                             f"float32 summation bound; worst at {worst}: |diff| = "
                             f"{diff[worst]:.3g} > bound {bound[worst]:.3g}")


def backward_bound(model: Any, acts: Any, delta: np.ndarray, acts_error: Any = None,
                   delta_error: Any = None) -> np.ndarray:
    """How far two float32 backward passes (``digitlens.nn.backprop.backward``) may lie apart,
    as a flat vector like the gradient, when they sum in different orders, from activations and
    an output delta that differ by at most ``acts_error`` (a list like ``acts``) and
    ``delta_error`` (both default 0: the same inputs).

    Each gradient entry is a sum over the batch and over every path down through the layers of
    products of |a|, |W|, |f'| and |delta|; a float64 backward pass of the absolute values adds
    up those |products| (S). The longest chain of roundings on a path is N = batch + Σ n_out of
    the layers above + 2 per layer (the derivative's product), so two orders differ by at most
    2γ_N·S (Higham §3.5, products of matrices). Inputs that differ add, to first order, S⁺ − S,
    where S⁺ is the same pass with |a| + error, |δ| + error and |f'| + 2·error (|f''| ≤ 2 in
    terms of a for sigmoid and tanh). A ReLU that is off in the float64 pass stays off; one
    whose z lies within the forward bound of 0 may switch, which this does not cover (it does
    not happen on these data).
    """
    n = len(delta) + sum(model.sizes[2:]) + 2 * model.n_layers
    exact = _abs_backward(model, acts, delta, None, None)
    if acts_error is None and delta_error is None:
        return sum_order_bound(n, exact)
    widened = _abs_backward(model, acts, delta, acts_error, delta_error)
    return sum_order_bound(n, widened) + (widened - exact)


def _abs_backward(model: Any, acts: Any, delta: np.ndarray, acts_error: Any,
                  delta_error: Any) -> np.ndarray:
    """``backward`` over absolute values in float64 (see ``backward_bound``), flat."""
    from digitlens.nn.functions import NONLINEARITIES
    a_abs = [np.abs(np.asarray(a, np.float64)) for a in acts]
    errors = ([np.zeros_like(a) for a in a_abs] if acts_error is None
              else [np.broadcast_to(np.asarray(e, np.float64), a.shape)
                    for a, e in zip(a_abs, acts_error, strict=True)])
    d = np.abs(np.asarray(delta, np.float64)) + (0 if delta_error is None else delta_error)
    gw: list[np.ndarray] = [np.empty(0)] * model.n_layers
    gb: list[np.ndarray] = [np.empty(0)] * model.n_layers
    for layer in range(model.n_layers - 1, -1, -1):
        a, e = a_abs[layer], errors[layer]
        on = a > 0  # an off ReLU stays off (other activations are never exactly 0 here)
        gw[layer] = (a + np.where(on, e, 0)).T @ d
        gb[layer] = d.sum(axis=0)
        if layer == 0:
            break
        name = model.activations[layer - 1]
        slope = np.abs(NONLINEARITIES[name].derivative(np.asarray(acts[layer], np.float64)))
        if name != "relu":
            slope = slope + 2 * e
        d = (d @ np.abs(model.weights[layer].astype(np.float64)).T) * slope
    return np.concatenate([g.ravel() for g in gw] + [g.ravel() for g in gb])


def jacobian_bound(model: Any, x: np.ndarray, masks: Any = None) -> np.ndarray:
    """How far two float32 input Jacobians d z_out / d x (784, n_out) of one input
    (``digitlens.analysis.gradients.input_jacobian``) may lie apart when their sums run in
    other orders: each entry sums products |W0|·f'·|W1|·…·|WL| over every path, with
    N = Σ hidden and output widths + 2 per layer roundings on a path (Higham §3.5), so
    2γ_N·Σ|products|. f' is taken from the float64 forward pass; for sigmoid and tanh it may
    move with the forward bound (|f''| ≤ 1 in a, twice for the two passes), which is added;
    a ReLU near its kink is not covered (see ``backward_bound``)."""
    from digitlens.nn.backprop import forward
    from digitlens.nn.functions import NONLINEARITIES
    x64 = model.as_input(x).astype(np.float64)[:1]
    acts = forward(model, x64, dtype=np.float64, masks=masks).activations
    a_err = forward_bounds(model, x, masks)[1]
    scale = np.abs(model.weights[0].astype(np.float64))           # (n_in, n_1)
    for layer in range(1, model.n_layers):
        name = model.activations[layer - 1]
        slope = np.abs(NONLINEARITIES[name].derivative(acts[layer][0]))
        if name != "relu":
            slope = slope + 2 * a_err[layer - 1][0]
        if masks is not None and layer - 1 in masks:
            slope = slope * masks[layer - 1]
        scale = (scale * slope) @ np.abs(model.weights[layer].astype(np.float64))
    n = sum(model.sizes[1:]) + 2 * model.n_layers
    return sum_order_bound(n, scale)


def torch_lenet(torch, model):  # noqa: ANN001, ANN201 - torch and a digitlens CNN
    """PyTorch's LeNet-5 in float64 holding ``model``'s kernels and weights (the oracle of the
    convolutional network's gradients)."""
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10)).double()
    layers = [m for m in net if isinstance(m, nn.Conv2d | nn.Linear)]
    with torch.no_grad():
        for m, w, b in zip(layers, model.weights, model.biases, strict=True):
            m.weight.copy_(torch.tensor(w if w.ndim == 4 else w.T, dtype=torch.float64))
            m.bias.copy_(torch.tensor(b, dtype=torch.float64))
    return net


def epochs_done(run: Path) -> int:
    """Epochs a run folder's history records so far (0 before its first is written)."""
    try:
        return len(json.loads((run / "history.json").read_text())["epochs"])
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def kill_after_epochs(proc: subprocess.Popen, run: Path, epochs: int, seconds: float) -> None:
    """SIGKILL a training process once ``run`` has ``epochs`` epochs (it must still run)."""
    deadline = time.time() + seconds
    while epochs_done(run) < epochs and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()

