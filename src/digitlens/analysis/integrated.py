"""Integrated gradients (Sundararajan et al., 2017) beside gradient × input, for one class score.

The score is the class's output z before the softmax, as in the evidence panels: the softmax
couples every class, while z is the class's own sum of evidence. Integrated gradients average
the input gradient along the straight path from a baseline b to the image x and multiply by
x − b; the attributions then add up to score(x) − score(b) (completeness), up to the error of
the numerical integral, which is reported with every answer. The integral uses the trapezoid
rule over ``steps`` intervals (steps + 1 gradients, one batched backward pass).

Baselines: ``black`` (all pixels 0, "no ink") and ``blur`` (a Gaussian-blurred copy, σ = 3
pixels on 28×28, scaled with the image's size: the ink without its shape). Gradient × input
(here gradient × (input − baseline), the same thing for the black baseline) is the one-point
reading of the same question; its completeness error is reported too, and shows how far a
single gradient is from the whole path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.analysis.gradients import (
    Network,
    pixels,
    read,
    score_gradient,
)
from digitlens.errors import bad_param

METHODS = ("integrated-gradients", "gradient-input")
BASELINES = ("black", "blur")
STEPS = 64
MAX_STEPS = 4096
BLUR_SIGMA = 3.0


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """28×28 (or any 2-D) Gaussian blur, separable, edges padded with 0 (the background)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    a = np.pad(np.asarray(image, np.float64), radius)
    a = np.apply_along_axis(np.convolve, 0, a, k, mode="same")
    a = np.apply_along_axis(np.convolve, 1, a, k, mode="same")
    return a[radius:-radius, radius:-radius]


def baseline_image(x: np.ndarray, kind: str, shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    if kind not in BASELINES:
        raise bad_param("baseline", f"one of {', '.join(BASELINES)}", kind)
    if kind == "black":
        return np.zeros_like(x)
    return gaussian_blur(x.reshape(shape), BLUR_SIGMA * max(shape) / 28).ravel()


@dataclass
class Attribution:
    method: str
    target: int
    baseline: str
    steps: int
    attributions: np.ndarray  # (784,)
    score: float              # z_target(x)
    baseline_score: float     # z_target(baseline)

    @property
    def completeness_error(self) -> float:
        """|Σ attributions − (score − baseline score)| as a fraction of |score − baseline|."""
        diff = self.score - self.baseline_score
        return float(abs(self.attributions.sum() - diff) / max(abs(diff), 1e-12))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "target": self.target, "baseline": self.baseline,
                "steps": self.steps, "score": self.score, "baseline_score": self.baseline_score,
                "attribution_sum": float(self.attributions.sum()),
                "completeness_error": self.completeness_error,
                "attributions": np.round(self.attributions, 6).tolist()}


def path_gradients(model: Network, x: np.ndarray, base: np.ndarray, target: int,
                   steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid-averaged gradient of z_target along base → x, and z_target at both ends."""
    alphas = np.linspace(0.0, 1.0, steps + 1)
    path = base[None, :] + alphas[:, None] * (x - base)[None, :]
    coef = np.zeros(model.n_classes)
    coef[target] = 1.0
    g, r = score_gradient(model, path, coef)  # (steps + 1, 784)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] *= 0.5
    z = r.z[:, target]
    return weights @ g, np.array([z[-1], z[0]])


def class_path_gradients(model: Network, x: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """(784, n_classes): every class's path-averaged gradient from black to ``x``; times x,
    the integrated gradients of every class (the evidence panels' method)."""
    xv = pixels(model, x)[0].astype(np.float64)
    zero = np.zeros_like(xv)
    return np.stack([path_gradients(model, xv, zero, c, steps)[0]
                     for c in range(model.n_classes)], axis=1)


def attribute(model: Network, x: np.ndarray, method: str = "integrated-gradients",
              target: int | None = None, steps: int = STEPS,
              baseline: str = "black") -> Attribution:
    """Each pixel's share of the target's score (default target: the prediction)."""
    if method not in METHODS:
        raise bad_param("method", f"one of {', '.join(METHODS)}", method)
    if not (isinstance(steps, int) and 1 <= steps <= MAX_STEPS):
        raise bad_param("steps", f"an int in 1..{MAX_STEPS}", steps)
    x1 = pixels(model, x)
    if len(x1) != 1:
        raise bad_param("x", "a single image", x1.shape)
    xv = x1[0].astype(np.float64)
    n = model.n_classes
    if target is None:
        target = int(read(model, x1).prediction[0])
    elif not (isinstance(target, int | np.integer) and 0 <= target < n):
        raise bad_param("target", f"a class in 0..{n - 1}", target)
    base = baseline_image(xv, baseline, model.image_shape)
    if method == "integrated-gradients":
        avg, (score, base_score) = path_gradients(model, xv, base, int(target), steps)
        attr = (xv - base) * avg
    else:
        # one point, the image itself: gradient × (input − baseline); the scores at both ends
        # still come from the path, for the completeness check
        _, (score, base_score) = path_gradients(model, xv, base, int(target), 1)
        coef = np.zeros(n)
        coef[int(target)] = 1.0
        attr = (xv - base) * score_gradient(model, xv[None], coef)[0][0]
        steps = 1
    return Attribution(method, int(target), baseline, steps, attr, float(score),
                       float(base_score))
