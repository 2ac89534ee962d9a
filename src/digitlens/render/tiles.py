"""Drawing in palette-index space with NumPy: canvases, mosaics, text, colour-bar legends.

No matplotlib here: a mosaic of 64 weight images is a reshape, a table lookup and a transpose,
which keeps a training video's many frames cheap (``benchmarks/bench_render.py``).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitlens import palette as C
from digitlens.layout import grid_shape as grid_shape  # the views import it from here


@functools.lru_cache(maxsize=8)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (shipped with matplotlib, or the system's), else Pillow's own font."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    candidates = [Path("/usr/share/fonts/truetype/dejavu") / name]
    try:
        import matplotlib
        candidates.insert(0, Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)
    except ImportError:
        pass
    for path in candidates:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


@functools.lru_cache(maxsize=4096)
def text_mask(text: str, size: int, bold: bool = False) -> np.ndarray:
    """Anti-aliased coverage (0..255) of ``text``, cropped to the line's box."""
    f = font(size, bold)
    left, _, right, bottom = (int(v) for v in f.getbbox(text or " "))
    ascent, descent = f.getmetrics() if hasattr(f, "getmetrics") else (bottom, 0)
    img = Image.new("L", (max(1, right - min(0, left)), int(ascent + descent)), 0)
    ImageDraw.Draw(img).text((-min(0, left), 0), text, fill=255, font=f)
    return np.asarray(img)


@functools.lru_cache(maxsize=4096)
def text_patch(text: str, size: int, bold: bool, colour: str) -> tuple[np.ndarray, np.ndarray]:
    """(index patch, ink mask) of a text: dark colours anti-aliased through the grey ramp
    (they sit on white), other named colours drawn solid where the glyph covers."""
    m = text_mask(text, size, bold)
    if colour in ("text", "muted"):
        ink = float(C.NAMED[colour][0])
        level = 255 - m.astype(np.float64) / 255 * (255 - ink)
        return C.grey(level, 0, 255), m > 8
    return np.full(m.shape, C.INDEX[colour], np.uint8), m > 110


def text_width(text: str, size: int, bold: bool = False) -> int:
    return int(text_mask(text, size, bold).shape[1])


def fit_size(texts: list[str], width: int, sizes: tuple[int, ...] = (16, 13, 11, 9),
             bold: bool = True) -> int:
    """The largest font size at which every text fits in ``width`` pixels."""
    for size in sizes:
        if all(text_width(t, size, bold) <= width for t in texts):
            return size
    return sizes[-1]


def upscale(img: np.ndarray, k: int) -> np.ndarray:
    """Nearest-neighbour upscaling of the last two axes by an integer factor."""
    if k == 1:
        return img
    return np.repeat(np.repeat(img, k, axis=-2), k, axis=-1)


def mosaic(tiles: np.ndarray, cols: int, gap: int = 2, fill: int = C.WHITE) -> np.ndarray:
    """(n, h, w) index tiles -> one index image, ``cols`` per row, ``gap`` pixels apart."""
    n, h, w = tiles.shape
    rows = max(1, math.ceil(n / cols))
    padded = np.full((rows * cols, h + gap, w + gap), fill, np.uint8)
    padded[:n, :h, :w] = tiles
    # (rows, cols, h+gap, w+gap) -> (rows, h+gap, cols, w+gap) -> 2-D
    out = padded.reshape(rows, cols, h + gap, w + gap).transpose(0, 2, 1, 3)
    return out.reshape(rows * (h + gap), cols * (w + gap))[: rows * (h + gap) - gap,
                                                           : cols * (w + gap) - gap]


def with_bias_bars(tiles: np.ndarray, bias_idx: np.ndarray, bar: int = 4, gap: int = 1,
                   fill: int = C.WHITE) -> np.ndarray:
    """Append a vertical bias bar (one colour per tile) to the right of each tile (S3's look)."""
    n, h, w = tiles.shape
    out = np.full((n, h, w + gap + bar), fill, np.uint8)
    out[:, :, :w] = tiles
    out[:, :, w + gap:] = np.asarray(bias_idx, np.uint8)[:, None, None]
    return out


def framed(tiles: np.ndarray, colour: np.ndarray | int, width: int = 1) -> np.ndarray:
    """Surround each tile with a frame of its own colour index."""
    n, h, w = tiles.shape
    col = np.broadcast_to(np.asarray(colour, np.uint8), (n,))
    out = np.empty((n, h + 2 * width, w + 2 * width), np.uint8)
    out[...] = col[:, None, None]
    out[:, width:width + h, width:width + w] = tiles
    return out


class Canvas:
    """An index image you can paste tiles, rectangles and text onto."""

    def __init__(self, height: int, width: int, fill: int = C.WHITE) -> None:
        self.idx = np.full((int(height), int(width)), fill, np.uint8)

    @property
    def shape(self) -> tuple[int, int]:
        return self.idx.shape[0], self.idx.shape[1]

    def paste(self, y: int, x: int, tile: np.ndarray) -> None:
        """Paste an index array with its top-left at (y, x), clipped to the canvas."""
        h = min(tile.shape[0], self.idx.shape[0] - y)
        w = min(tile.shape[1], self.idx.shape[1] - x)
        if h > 0 and w > 0:
            self.idx[y:y + h, x:x + w] = tile[:h, :w]

    def rect(self, y: int, x: int, h: int, w: int, colour: int, outline: int = 0) -> None:
        """A filled rectangle, or only its outline ``outline`` pixels thick."""
        y0, x0 = max(y, 0), max(x, 0)
        if outline <= 0:
            self.idx[y0:y + h, x0:x + w] = colour
            return
        t = outline
        self.idx[y0:y + t, x0:x + w] = colour
        self.idx[max(y + h - t, 0):y + h, x0:x + w] = colour
        self.idx[y0:y + h, x0:x + t] = colour
        self.idx[y0:y + h, max(x + w - t, 0):x + w] = colour

    def text(self, y: int, x: int, text: str, size: int = 13, bold: bool = False,
             colour: str = "text", align: str = "left") -> int:
        """Draw text whose top is at ``y``; ``align`` left/centre/right about ``x``. Returns its
        width. Dark text is anti-aliased through the grey ramp (it sits on white)."""
        patch, ink = text_patch(text, size, bold, colour)
        h, w = patch.shape
        if align == "centre":
            x -= w // 2
        elif align == "right":
            x -= w
        y0, x0 = max(y, 0), max(x, 0)
        y1, x1 = min(y + h, self.idx.shape[0]), min(x + w, self.idx.shape[1])
        if y1 <= y0 or x1 <= x0:
            return w
        sub = ink[y0 - y:y1 - y, x0 - x:x1 - x]
        self.idx[y0:y1, x0:x1][sub] = patch[y0 - y:y1 - y, x0 - x:x1 - x][sub]
        return w

    def rgb(self) -> np.ndarray:
        return C.to_rgb(self.idx)


@functools.lru_cache(maxsize=512)
def colorbar(kind: str, labels: tuple[str, str, str], title: str, width: int = 180,
             height: int = 10) -> np.ndarray:
    """A horizontal legend for a colour scale: ``kind`` 'div', 'bias' or 'grey'; three labels
    (low, middle, high) under the bar and a title above it. Returns an index image."""
    ramp = np.linspace(0, 1, width)
    if kind == "div":
        row = C.diverging(ramp * 2 - 1, 1.0)
    elif kind == "bias":
        row = C.bias(ramp * 2 - 1, 1.0)
    else:
        row = C.grey(ramp, 0.0, 1.0)
    pad = max(30, (text_width(title, 12) - width) // 2 + 4)
    cv = Canvas(height + 36, width + 2 * pad)
    cv.text(0, pad + width // 2, title, 12, align="centre")
    cv.rect(14, pad - 1, height + 2, width + 2, C.INDEX["frame"])
    cv.paste(15, pad, np.repeat(row[None, :], height, axis=0))
    y = 17 + height
    cv.text(y, pad, labels[0], 12, align="centre")
    cv.text(y, pad + width // 2, labels[1], 12, align="centre")
    cv.text(y, pad + width, labels[2], 12, align="centre")
    cv.idx.flags.writeable = False
    return cv.idx


def swatch_legend(items: list[tuple[int, str]], max_width: int, size: int = 11,
                  swatch: int = 12, gap: int = 18) -> np.ndarray:
    """A key of (colour index, text) items, each a swatch and its text, flowing left to right
    and onto a new line when the next one would pass ``max_width``. Every text is measured, so
    nothing is clipped: an item wider than ``max_width`` gets a line of its own and widens the
    key to fit it."""
    widths = [swatch + 6 + text_width(text, size) for _, text in items]
    lines: list[list[int]] = [[]]
    x = 0
    for i, w in enumerate(widths):
        if lines[-1] and x + gap + w > max_width:
            lines.append([])
            x = 0
        x += (gap if lines[-1] else 0) + w
        lines[-1].append(i)
    line_h = max(swatch, text_mask("Ag", size).shape[0]) + 6
    width = max(sum(widths[i] for i in line) + gap * (len(line) - 1) for line in lines)
    cv = Canvas(line_h * len(lines) - 6, max(width, 1))
    for row, line in enumerate(lines):
        x, y = 0, row * line_h
        for i in line:
            colour, text = items[i]
            cv.rect(y + 2, x, swatch, swatch, colour)
            cv.text(y, x + swatch + 6, text, size)
            x += widths[i] + gap
    return cv.idx


def stack(parts: list[np.ndarray], axis: int = 0, gap: int = 10, align: str = "start",
          fill: int = C.WHITE) -> np.ndarray:
    """Stack index images vertically (axis 0) or horizontally (axis 1) with gaps."""
    parts = [p for p in parts if p.size]
    other = 1 - axis
    size = max(p.shape[other] for p in parts)
    total = sum(p.shape[axis] for p in parts) + gap * (len(parts) - 1)
    shape = (total, size) if axis == 0 else (size, total)
    out = np.full(shape, fill, np.uint8)
    pos = 0
    for p in parts:
        off = 0 if align == "start" else (size - p.shape[other]) // 2
        if axis == 0:
            out[pos:pos + p.shape[0], off:off + p.shape[1]] = p
        else:
            out[off:off + p.shape[0], pos:pos + p.shape[1]] = p
        pos += p.shape[axis] + gap
    return out


def pad(img: np.ndarray, margin: int, fill: int = C.WHITE) -> np.ndarray:
    return np.pad(img, margin, constant_values=fill)


def titled(img: np.ndarray, title: str, size: int = 14, bold: bool = True,
           subtitle: str = "") -> np.ndarray:
    """Put a title (and an optional muted subtitle) above an index image."""
    width = max(img.shape[1], text_width(title, size, bold) + 4,
                text_width(subtitle, 12) + 4 if subtitle else 0)
    head = size + 8 + (16 if subtitle else 0)
    cv = Canvas(head + img.shape[0], width)
    cv.text(0, 0, title, size, bold)
    if subtitle:
        cv.text(size + 5, 0, subtitle, 12, colour="muted")
    cv.paste(head, 0, img)
    return cv.idx
