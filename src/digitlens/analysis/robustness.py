"""How accuracy holds up when digits are drawn off-centre or at the wrong size (S3's story).

S3's network failed on the author's own drawings until they were centred like MNIST. We
recreate that: shift and scale test digits inside the 28×28 field as a person's drawing would
be, then measure accuracy fed as-is and after MNIST's preprocessing
(``digitlens.data.preprocess``: crop, fit to 20×20, centre by mass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from digitlens.data.preprocess import preprocess
from digitlens.errors import bad_param
from digitlens.nn.backprop import evaluate
from digitlens.nn.mlp import MLP

SHIFTS = (0, 1, 2, 3, 4, 5, 6)
SCALES = (0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.4)


def as_float(images: np.ndarray) -> np.ndarray:
    a = np.asarray(images)
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move a 28×28 digit by (dy, dx) pixels; what leaves the field is lost, as on a canvas."""
    out = np.zeros_like(image)
    h, w = image.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = image[ys, xs]
    return out


def scale(image: np.ndarray, factor: float) -> np.ndarray:
    """Resize a 28×28 digit about the field's centre (bilinear), cropping or padding to 28×28."""
    if factor <= 0:
        raise bad_param("scale", "a factor > 0", factor)
    n = max(1, int(round(28 * factor)))
    img = Image.fromarray(np.ascontiguousarray(image, np.float32), mode="F")
    big = np.clip(np.asarray(img.resize((n, n), Image.Resampling.BILINEAR)), 0, 1)
    out = np.zeros((28, 28), np.float32)
    if n >= 28:
        o = (n - 28) // 2
        out[:] = big[o:o + 28, o:o + 28]
    else:
        o = (28 - n) // 2
        out[o:o + n, o:o + n] = big
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
    return np.stack([preprocess(im).centred if im.max() > 0 else im for im in images])


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


def robustness(model: MLP, images: np.ndarray, labels: np.ndarray,
               shifts: tuple[float, ...] = SHIFTS, scales: tuple[float, ...] = SCALES,
               n: int = 500, seed: int = 0) -> Robustness:
    """Accuracy over shifts (pixels, random directions) and scales, raw and preprocessed, on the
    first ``n`` digits. ``examples`` keeps the first digit at each setting for pictures."""
    if n < 1 or len(images) == 0:
        raise bad_param("n", "an int >= 1 with at least one image", n)
    x, y = as_float(images[:n]), np.asarray(labels[:n])
    res = Robustness(list(shifts), list(scales), [], [], [], [], len(x))
    for kind, values in (("shift", shifts), ("scale", scales)):
        for v in values:
            moved = shifted(x, v, seed) if kind == "shift" else scaled(x, v)
            fixed = preprocessed(moved)
            for name, images_at in (("raw", moved), ("preprocessed", fixed)):
                scores = evaluate(model, model.as_input(images_at), y)
                getattr(res, f"{kind}_{name}").append(scores.accuracy)
            res.examples[f"{kind}:{v:g}"] = np.stack([moved[0], fixed[0]])
    return res
