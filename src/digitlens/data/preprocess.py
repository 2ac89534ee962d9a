"""MNIST's own normalisation of an arbitrary drawing, every step kept so it can be shown.

MNIST digits were cropped to their ink, scaled (anti-aliased, aspect kept) to fit a 20×20 box
and pasted into 28×28 so that their centre of mass sits at the centre. Measured on MNIST itself
the centre of mass lies at row 14.0, column 14.0 (pixel-index coordinates), so that is where we
put it. The 20×20 box is kept inside the 28×28 field (the shift is clamped), so no ink is lost.
A drawing without ink is reported as such, not as a crash.

Other image sizes scale that rule: for an h×w field the box is ``box_for((h, w))`` =
(round(20·h/28), round(20·w/28)) (at least 1; 20/28 = 5/7 never rounds a half), the drawing keeps
its aspect inside it, and its centre of mass goes to (h/2, w/2). 28×28 gives MNIST's 20×20 and
(14, 14) exactly; 8×8 gives 6×6 at (4, 4); 12×12 gives 9×9 at (6, 6). preprocess.js mirrors it
(docs/datasets.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from digitlens.errors import bad_param

FIELD = 28
BOX = 20
CENTRE = 14.0
INK_THRESHOLD = 0.02  # fraction of the brightest ink below which a pixel is background


@dataclass
class Preprocessed:
    """Each step of the normalisation as float32 images in 0..1, ink bright."""

    ink: np.ndarray                      # the input, ink bright, at its own size
    has_ink: bool
    inverted: bool                       # the input had dark ink on a light background
    raw28: np.ndarray                    # naive: the whole canvas squashed to the field
    cropped: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    fitted: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    centred: np.ndarray = field(default_factory=lambda: np.zeros((FIELD, FIELD), np.float32))
    bbox: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, left, bottom, right (exclusive)
    centre_of_mass: tuple[float, float] = (CENTRE, CENTRE)  # of the fitted box, in the field
    offset: tuple[int, int] = (0, 0)     # where the fitted box's top-left was pasted

    def to_dict(self) -> dict[str, object]:
        def r(a: np.ndarray) -> list[list[float]]:
            return np.round(a, 4).tolist()
        return {"has_ink": self.has_ink, "inverted": self.inverted, "raw28": r(self.raw28),
                "cropped": r(self.cropped), "fitted": r(self.fitted), "centred": r(self.centred),
                "bbox": list(self.bbox), "centre_of_mass": list(self.centre_of_mass),
                "offset": list(self.offset)}


def to_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """Any PIL image or 2-D array -> float32 0..1 grayscale (alpha composited on white)."""
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, rgba)
        arr = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    else:
        arr = np.asarray(image, dtype=np.float32)
        if arr.ndim != 2 or arr.size == 0:
            raise bad_param("image", "a non-empty 2-D grayscale array", arr.shape)
        if arr.max(initial=0) > 1.0:
            arr = arr / 255.0
    if not np.all(np.isfinite(arr)):
        raise bad_param("image", "finite values", "NaN or infinity")
    return np.clip(arr, 0.0, 1.0)


def ink_bright(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Make ink bright on pure black: invert when the border (the background) is light, then
    take the background level away, so off-white paper or a grey canvas is not read as ink."""
    border = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    inverted = border > 0.5
    ink = 1.0 - gray if inverted else gray
    background = 1.0 - border if inverted else border
    if background > 0:
        ink = np.clip((ink - background) / max(1.0 - background, 1e-6), 0.0, 1.0)
    return ink.astype(np.float32), inverted


def resize(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased resize of a float image (Lanczos on a 32-bit float image, clipped)."""
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), mode="F")
    out = img.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=None)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    total = float(a.sum())
    rows, cols = np.indices(a.shape)
    return float((a * rows).sum() / total), float((a * cols).sum() / total)


def box_for(shape: tuple[int, int]) -> tuple[int, int]:
    """The box a drawing is fitted into for an h×w field: MNIST's 20-in-28 scaled."""
    h, w = shape
    return max(1, round(BOX * h / FIELD)), max(1, round(BOX * w / FIELD))


def preprocess(image: Image.Image | np.ndarray,
               shape: tuple[int, int] = (FIELD, FIELD)) -> Preprocessed:
    """Normalise a drawing the way MNIST was made, into an image of ``shape`` (a model's
    ``input_shape``); see the module docstring."""
    field_h, field_w = int(shape[0]), int(shape[1])
    box_h, box_w = box_for((field_h, field_w))
    centre_y, centre_x = field_h / 2, field_w / 2
    ink, inverted = ink_bright(to_gray(image))
    raw28 = resize(ink, field_h, field_w)
    peak = float(ink.max(initial=0.0))
    empty = np.zeros((field_h, field_w), np.float32)
    if peak <= 0.05:
        return Preprocessed(ink, False, inverted, raw28, centred=empty,
                            centre_of_mass=(centre_y, centre_x))
    mask = ink > INK_THRESHOLD * peak
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    cropped = ink[top:bottom, left:right]
    h, w = cropped.shape
    scale = min(box_h / h, box_w / w)  # = BOX / max(h, w) for a square field
    fitted = resize(cropped, max(1, round(h * scale)), max(1, round(w * scale)))
    if fitted.sum() <= 0:
        return Preprocessed(ink, False, inverted, raw28, cropped, fitted, empty,
                            centre_of_mass=(centre_y, centre_x))
    cy, cx = centre_of_mass(fitted)
    fh, fw = fitted.shape
    oy = int(np.clip(round(centre_y - cy), 0, field_h - fh))
    ox = int(np.clip(round(centre_x - cx), 0, field_w - fw))
    centred = empty
    centred[oy:oy + fh, ox:ox + fw] = fitted
    return Preprocessed(ink, True, inverted, raw28, cropped, fitted, centred,
                        (top, left, bottom, right), (cy + oy, cx + ox), (oy, ox))


def load_image(path: str) -> Image.Image:
    """An image file through the loading boundary: the server's decoders (PNG, JPEG, WebP, GIF,
    BMP) and at most ``MAX_IMAGE_SIDE`` pixels a side, checked before decoding."""
    from digitlens.safeload import load_image_file
    return load_image_file(path)
