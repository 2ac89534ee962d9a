"""What every view returns: a still ``Picture`` or an ``Animation``, both shown inline in Jupyter.

Each carries the numbers it draws (``data``) so a test, the report or a notebook can check or
reuse them, and a ``caption`` that says what to look at.
"""

from __future__ import annotations

import base64
import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from digitlens import palette as C
from digitlens.errors import bad_param
from digitlens.fileio import atomic_write_bytes
from digitlens.render.animate import FORMATS, to_pimage, write_animation

STILL_FORMATS = ("png", "webp", "gif", "jpg", "jpeg")


@dataclass
class Picture:
    """A still image: palette indices (H, W) or RGB (H, W, 3)."""

    pixels: np.ndarray
    name: str = "view"
    caption: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    def __repr__(self) -> str:  # what it shows, not its pixels (Jupyter shows the PNG)
        w, h = self.size
        return f"<picture {self.name} {w}×{h}: {self.caption[:120]}>"

    def rgb(self) -> np.ndarray:
        return C.to_rgb(self.pixels) if self.pixels.ndim == 2 else self.pixels

    def pil(self) -> Image.Image:
        return to_pimage(self.pixels) if self.pixels.ndim == 2 else Image.fromarray(self.pixels)

    def encode(self, fmt: str = "png") -> bytes:
        buf = io.BytesIO()
        im = self.pil()
        if fmt in ("jpg", "jpeg"):
            im.convert("RGB").save(buf, format="JPEG", quality=92)
        elif fmt == "webp":
            im.convert("RGB").save(buf, format="WEBP", lossless=True)
        else:
            im.save(buf, format=fmt.upper(), optimize=False)
        return buf.getvalue()

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        fmt = p.suffix.lower().lstrip(".")
        if fmt not in STILL_FORMATS:
            raise bad_param("out", "a .png, .webp, .gif or .jpg file for a still view", str(p))
        atomic_write_bytes(p, self.encode(fmt))
        return p

    def _repr_png_(self) -> bytes:
        return self.encode("png")


@dataclass
class Animation:
    """Frames made on demand by ``frame(i)`` (index images of one size), ``n_frames`` of them."""

    n_frames: int
    frame: Callable[[int], np.ndarray]
    fps: float = 8.0
    name: str = "animation"
    caption: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    poster_index: int = -1  # the frame to show as a still (default: the last)

    def frames(self) -> Iterator[np.ndarray]:
        for i in range(self.n_frames):
            yield self.frame(i)

    def poster(self) -> Picture:
        i = self.poster_index % self.n_frames
        return Picture(self.frame(i), self.name, self.caption, self.data)

    def save(self, path: str | Path) -> Path:
        """GIF, WebP or MP4 by extension; a still format saves the poster frame."""
        p = Path(path)
        fmt = p.suffix.lower().lstrip(".")
        if fmt in FORMATS:
            write_animation(self.frames(), p, self.fps)
            return p
        if fmt in STILL_FORMATS:
            return self.poster().save(p)
        raise bad_param("out", "a .gif, .webp, .mp4 or .png file", str(p))

    def gif_bytes(self) -> bytes:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "a.gif"
            write_animation(self.frames(), out, self.fps)
            return out.read_bytes()

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.gif_bytes()).decode("ascii")
        return f'<img src="data:image/gif;base64,{data}" alt="{self.name}">'
