"""How accuracy holds up when digits are drawn off-centre or at the wrong size (S3's story).

S3's network failed on the author's own drawings until they were centred like MNIST. We
recreate that: shift and scale test digits inside their field (28×28 for MNIST) as a person's
drawing would be, then measure accuracy fed as-is and after MNIST's preprocessing
(``digitlens.data.preprocess``: crop, fit to 20×20, centre by mass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from digitlens.analysis.metrics import evaluate_model
from digitlens.data.preprocess import preprocess
from digitlens.errors import bad_param
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP

SHIFTS = (0, 1, 2, 3, 4, 5, 6)
SCALES = (0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.4)


def as_float(images: np.ndarray) -> np.ndarray:
    a = np.asarray(images)
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move a digit by (dy, dx) pixels; what leaves the field is lost, as on a canvas."""
    out = np.zeros_like(image)
    h, w = image.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = image[ys, xs]
    return out


def scale(image: np.ndarray, factor: float) -> np.ndarray:
    """Resize a digit about the field's centre (bilinear), cropping or padding to its size."""
    if factor <= 0:
        raise bad_param("scale", "a factor > 0", factor)
    h, w = image.shape
    nh, nw = max(1, int(round(h * factor))), max(1, int(round(w * factor)))
    img = Image.fromarray(np.ascontiguousarray(image, np.float32), mode="F")
    big = np.clip(np.asarray(img.resize((nw, nh), Image.Resampling.BILINEAR)), 0, 1)
    return np.asarray(fit_centred(big, h, w), np.float32)


def fit_centred(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """``a`` cropped or padded with 0 about its centre to h×w."""
    out = np.zeros((h, w), np.float32)
    for axis, n in ((0, h), (1, w)):
        m = a.shape[axis]
        o = abs(m - n) // 2
        take = slice(o, o + n) if m >= n else slice(0, m)
        a = a[take] if axis == 0 else a[:, take]
    oy, ox = (h - a.shape[0]) // 2, (w - a.shape[1]) // 2
    out[oy:oy + a.shape[0], ox:ox + a.shape[1]] = a
    return out


def directions(n: int, seed: int) -> np.ndarray:
    """One random direction per digit (unit vectors), fixed by ``seed``."""
    ang = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    return np.stack([np.sin(ang), np.cos(ang)], axis=1)


def shifted(images: np.ndarray, pixels: float, seed: int = 0) -> np.ndarray:
    """Every digit moved ``pixels`` in its own random direction."""
    d = np.rint(directions(len(images), seed) * pixels).astype(int)
    return np.stack([shift(im, int(dy), int(dx)) for im, (dy, dx) in zip(images, d, strict=True)])


def scaled(images: np.ndarray, factor: float) -> np.ndarray:
    return np.stack([scale(im, factor) for im in images])


def preprocessed(images: np.ndarray) -> np.ndarray:
    """MNIST's normalisation applied to each digit (an empty field stays empty)."""
    return np.stack([preprocess(im, im.shape).centred if im.max() > 0 else im for im in images])


@dataclass
class Robustness:
    shifts: list[float]
    scales: list[float]
    shift_raw: list[float]
    shift_preprocessed: list[float]
    scale_raw: list[float]
    scale_preprocessed: list[float]
    n: int
    examples: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        r = {k: getattr(self, k) for k in ("shifts", "scales", "shift_raw", "shift_preprocessed",
                                           "scale_raw", "scale_preprocessed", "n")}
        return {k: ([round(float(x), 4) for x in v] if isinstance(v, list) else v)
                for k, v in r.items()}


def robustness(model: MLP | CNN, images: np.ndarray, labels: np.ndarray,
               shifts: tuple[float, ...] = SHIFTS, scales: tuple[float, ...] = SCALES,
               n: int = 500, seed: int = 0) -> Robustness:
    """Accuracy over shifts (pixels, random directions) and scales, raw and preprocessed, on the
    first ``n`` digits. ``examples`` keeps the first digit at each setting for pictures."""
    if n < 1 or len(images) == 0:
        raise bad_param("n", "an int >= 1 with at least one image", n)
    x, y = as_float(images[:n]), np.asarray(labels[:n])
    side = max(x.shape[1:])
    if side != 28 and shifts == SHIFTS:  # the same share of the field as on MNIST's 28×28
        shifts = tuple(round(s * side / 28, 1) for s in shifts)
    res = Robustness(list(shifts), list(scales), [], [], [], [], len(x))
    for kind, values in (("shift", shifts), ("scale", scales)):
        for v in values:
            moved = shifted(x, v, seed) if kind == "shift" else scaled(x, v)
            fixed = preprocessed(moved)
            for name, images_at in (("raw", moved), ("preprocessed", fixed)):
                accuracy = evaluate_model(model, images_at, y).accuracy
                getattr(res, f"{kind}_{name}").append(accuracy)
            res.examples[f"{kind}:{v:g}"] = np.stack([moved[0], fixed[0]])
    return res
