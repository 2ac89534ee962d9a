"""The smallest change that flips a prediction: DeepFool (minimal L2) and FGSM (one signed step).

DeepFool (Moosavi-Dezfooli et al., 2016) linearises the output scores z around the current image
and steps to the nearest decision boundary, again until the prediction flips. Pixels must stay
in 0..1, and clamping each step stalls: background pixels sit at 0, so much of every step is
clamped away and the next one asks for the same again. Here each linearised step is solved *in
the box*: the shortest r with w·r = gap and 0 ≤ x + r ≤ 1 is r = clip(t·w, −x, 1 − x) for the
smallest t ≥ 0 that closes the gap (the problem's KKT conditions), found exactly by sorting the
values of t at which pixels reach 0 or 1. A 2 % overshoot crosses the boundary; a last line
search walks back towards the original as far as the flip holds. Every answer is checked by
feeding the nudged image through the network again. Both read the class scores of either kind of
network (``digitlens.analysis.gradients``): an MLP's or a convolutional network's.

FGSM (Goodfellow et al., 2015) moves every pixel by ±ε along the sign of the loss gradient; the
baseline here is the smallest ε that flips, found by a scan and a bisection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.analysis.gradients import (
    Network,
    Reading,
    pixels,
    read,
    score_jacobian,
)
from digitlens.errors import DigitlensError, bad_param
from digitlens.nn.threads import blas_threads

METHODS = ("deepfool", "fgsm")
OVERSHOOT = 0.02
MAX_ITER = 50
CHANGED = 1 / 255  # a pixel counts as changed when it moved by more than one grey level


class UnflippableError(DigitlensError):
    """No change within the 0..1 pixel box makes the network say the asked class."""


@dataclass
class Nudge:
    method: str
    original: np.ndarray      # (pixels,) float64 0..1
    adversarial: np.ndarray   # (pixels,) float64 0..1
    source: int               # the prediction before ("from")
    to: int                   # the prediction of the nudged image, as the network reads it
    target: int | None
    flipped: bool
    iterations: int
    epsilon: float | None     # FGSM's step
    probabilities: np.ndarray  # of the nudged image
    original_probabilities: np.ndarray
    shape: tuple[int, int] = (28, 28)  # the model's input image

    @property
    def difference(self) -> np.ndarray:
        return self.adversarial - self.original

    @property
    def l2(self) -> float:
        return float(np.linalg.norm(self.difference))

    @property
    def linf(self) -> float:
        return float(np.max(np.abs(self.difference)))

    @property
    def changed_pixels(self) -> int:
        return int(np.count_nonzero(np.abs(self.difference) > CHANGED))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "from": self.source, "to": self.to,
                "target": self.target, "flipped": self.flipped, "l2": self.l2,
                "linf": self.linf, "changed_pixels": self.changed_pixels,
                "iterations": self.iterations, "epsilon": self.epsilon,
                "probability": float(self.probabilities[self.to]),
                # the float32 values the network read (9 digits give each back exactly), so
                # the image fed back flips as reported, even one a hair past the boundary
                "adversarial": [float(f"{v:.9g}") for v in self.adversarial.astype(np.float32)]}


def box_step(w: np.ndarray, gap: np.ndarray, lo: np.ndarray,
             hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row k: the shortest r with w_k·r = gap_k (> 0) and lo ≤ r ≤ hi (lo ≤ 0 ≤ hi), and
    whether the box allows it at all (else r is the box's farthest point along w_k).

    r = clip(t·w, lo, hi); g(t) = w·r(t) is piecewise linear and non-decreasing in t, with a
    kink wherever a pixel saturates (t = hi/w or lo/w): sort those, evaluate g at each, and
    solve the linear piece where g first reaches the gap. Vectorised over rows."""
    w = np.asarray(w, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = np.where(w > 0, hi / w, np.where(w < 0, lo / w, np.inf))
    order = np.argsort(kink, axis=1, kind="stable")
    ks = np.take_along_axis(kink, order, axis=1)
    ws = np.take_along_axis(w, order, axis=1)
    bound = np.where(ws > 0, hi[order], lo[order])
    sat = np.cumsum(np.where(np.isfinite(ks), ws * bound, 0.0), axis=1)  # saturated pixels' part
    w2 = ws * ws
    cum_w2 = np.cumsum(w2, axis=1)
    free = w2.sum(axis=1, keepdims=True) - cum_w2  # Σ w² of pixels not yet saturated
    with np.errstate(invalid="ignore"):
        g = np.where(np.isfinite(ks), sat + ks * free, sat)
    reach = g[:, -1] >= gap
    j = np.argmax(g >= gap[:, None], axis=1)
    rows = np.arange(len(w))
    sat_before = np.where(j > 0, sat[rows, j - 1], 0.0)
    free_before = np.where(j > 0, free[rows, j - 1], cum_w2[:, -1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(reach, (gap - sat_before) / np.maximum(free_before, 1e-300), np.inf)
    far = np.where(w > 0, hi, np.where(w < 0, lo, 0.0))
    with np.errstate(invalid="ignore"):
        r = np.where(reach[:, None], np.clip(t[:, None] * w, lo, hi), far)
    return r, reach


def _check(model: Network, x: np.ndarray, target: int | None
           ) -> tuple[np.ndarray, int, Reading]:
    x1 = pixels(model, x)
    if len(x1) != 1:
        raise bad_param("x", "a single image", x1.shape)
    if not np.any(x1 > 0):
        raise DigitlensError("the drawing is blank: there is no digit to nudge")
    t = read(model, x1)
    source = int(t.prediction[0])
    n = model.n_classes
    if target is not None:
        if not (isinstance(target, int | np.integer) and 0 <= target < n):
            raise bad_param("target", f"a class in 0..{n - 1}", target)
        if target == source:
            raise bad_param("target", f"a class other than the current prediction {source}",
                            int(target))
    return x1[0].astype(np.float64), source, t


def _done(pred: np.ndarray, source: int, target: int | None) -> np.ndarray:
    return pred == target if target is not None else pred != source


def shrink(model: Network, x0: np.ndarray, adv: np.ndarray, source: int, target: int | None,
           points: int = 17) -> np.ndarray:
    """The point nearest x0 on the segment x0 → adv that still flips (one batched trace)."""
    alphas = np.linspace(0.0, 1.0, points)[1:]
    batch = np.clip(x0 + alphas[:, None] * (adv - x0), 0.0, 1.0)
    ok = _done(read(model, batch).prediction, source, target)
    return batch[int(np.argmax(ok))] if ok.any() else adv


def deepfool(model: Network, x: np.ndarray, target: int | None = None,
             overshoot: float = OVERSHOOT, max_iter: int = MAX_ITER) -> Nudge:
    """DeepFool in the pixel box; untargeted (nearest other class) or towards ``target``."""
    x0, source, t = _check(model, x, target)
    n = model.n_classes
    cur = x0.copy()
    it, flipped = 0, False
    for it in range(max_iter + 1):
        if it:
            t = read(model, cur[None])
        pred = int(t.prediction[0])
        flipped = bool(_done(t.prediction, source, target)[0])
        if flipped or it == max_iter:
            break
        z = t.z[0]
        jac = score_jacobian(model, cur[None], t)  # (784, n): d z_k / d x
        win = source if target is None else pred
        ks = [k for k in range(n) if k != win] if target is None else [target]
        w = (jac[:, ks] - jac[:, [win]]).T  # (k, 784): gradient of z_k − z_win
        gap = (z[win] - z[ks]) * (1 + overshoot) + 1e-6
        r, reach = box_step(w, gap, -cur, 1.0 - cur)
        if reach.any():
            norms = np.where(reach, np.linalg.norm(r, axis=1), np.inf)
            best = int(np.argmin(norms))
        else:  # the linear picture cannot cross in the box: go as far as it allows
            with np.errstate(divide="ignore", invalid="ignore"):
                best = int(np.argmax((w * r).sum(axis=1) / gap))
        if not np.any(r[best]):
            break
        cur = np.clip(cur + r[best], 0.0, 1.0)
    if flipped:
        cur = shrink(model, x0, cur, source, target)
    return _result(model, "deepfool", x0, cur, source, target, it, None)


def fgsm(model: Network, x: np.ndarray, target: int | None = None, scan: int = 128) -> Nudge:
    """FGSM with the smallest flipping ε: x' = clip(x ± ε·sign(∇ cross-entropy), 0, 1)."""
    x0, source, t = _check(model, x, target)
    jac = score_jacobian(model, x0[None], t)
    p = t.probabilities[0].astype(np.float64)
    onehot = np.eye(model.n_classes)[source if target is None else target]
    grad = jac @ (p - onehot)  # d cross-entropy / d x (softmax's delta p − y through the scores)
    sign = np.sign(grad) if target is None else -np.sign(grad)

    def flips(eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch = np.clip(x0 + eps[:, None] * sign, 0.0, 1.0)
        return _done(read(model, batch).prediction, source, target), batch

    grid = np.linspace(1.0 / scan, 1.0, scan)
    ok, batch = flips(grid)
    if not ok.any():
        return _result(model, "fgsm", x0, batch[-1], source, target, scan, None)
    i = int(np.argmax(ok))
    lo, hi = (grid[i - 1] if i else 0.0), grid[i]
    fine = np.linspace(lo, hi, 33)[1:]
    ok2, batch2 = flips(fine)
    k = int(np.argmax(ok2)) if ok2.any() else len(fine) - 1
    return _result(model, "fgsm", x0, batch2[k], source, target, scan + 32, float(fine[k]))


def _result(model: Network, method: str, x0: np.ndarray, adv: np.ndarray, source: int,
            target: int | None, iterations: int, eps: float | None) -> Nudge:
    t = read(model, np.stack([adv, x0]))  # the check: what the engine reads in the nudged image
    to = int(t.prediction[0])
    flipped = bool(_done(t.prediction[:1], source, target)[0])
    p = t.probabilities.astype(np.float64)
    return Nudge(method, x0, adv.astype(np.float64), source, to, target, flipped, iterations,
                 eps, p[0], p[1], model.image_shape)


def nudge(model: Network, x: np.ndarray, target: int | None = None, method: str = "deepfool",
          require: bool = True) -> Nudge:
    """One image's nudge by ``method``; with ``require`` an image that does not flip is an
    ``UnflippableError`` (one clear line) rather than a result."""
    if method not in METHODS:
        raise bad_param("method", f"one of {', '.join(METHODS)}", method)
    res = (deepfool if method == "deepfool" else fgsm)(model, x, target)
    if require and not res.flipped:
        want = f"say {target}" if target is not None else f"stop saying {res.source}"
        how = (f"DeepFool gave up after {res.iterations} steps" if method == "deepfool"
               else "no FGSM step of size 0..1 flips it")
        raise UnflippableError(f"found no change within the 0..1 pixel box that makes this "
                               f"network {want} ({how})")
    return res


def nudge_many(model: Network, images: np.ndarray, method: str = "deepfool") -> list[Nudge | None]:
    """Untargeted nudges of many images (None for a blank one): the robustness table. BLAS
    runs on one thread: one digit's products are too small to share, and spinning threads
    on a busy machine made each nudge twenty times slower."""
    out: list[Nudge | None] = []
    with blas_threads(1):
        for im in pixels(model, images):
            out.append(nudge(model, im, None, method, require=False) if np.any(im > 0)
                       else None)
    return out


def summary(results: list[Nudge | None], indices: np.ndarray) -> dict[str, Any]:
    """``n``, ``flipped``, ``median_l2`` (over flipped digits) and one row per digit."""
    rows: list[dict[str, Any]] = []
    for i, res in zip(indices, results, strict=True):
        ok = res is not None and res.flipped
        rows.append({"test_index": int(i), "from": None if res is None else res.source,
                     "to": res.to if ok and res else None, "l2": res.l2 if ok and res else None,
                     "flipped": ok})
    l2 = [float(r["l2"]) for r in rows if r["flipped"]]
    return {"n": len(rows), "flipped": len(l2),
            "median_l2": float(np.median(l2)) if l2 else None, "results": rows}
