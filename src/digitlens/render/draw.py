"""Building blocks shared by the views: weight tiles, digit tiles, labelled rows and grids."""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.render.tiles import Canvas, grid_shape, mosaic, text_width, upscale

MNIST_SHAPE = (28, 28)


def scale_for(shape: tuple[int, int], scale: int) -> int:
    """The upscale that draws an image of ``shape`` about as large as a 28×28 one drawn at
    ``scale`` and never larger, so layouts made for MNIST hold any size (28×28: ``scale``)."""
    return max(1, scale * 28 // max(shape))


def as_image28(x: np.ndarray, shape: tuple[int, int] = MNIST_SHAPE) -> np.ndarray:
    """An image as a float array of ``shape`` in 0..1 (uint8 input divided by 255); a 2-D
    array keeps its own shape."""
    a = np.asarray(x)
    a = a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else a.astype(np.float64)
    return a if a.ndim == 2 else a.reshape(shape)


def digit_tile(x: np.ndarray, scale: int = 4, shape: tuple[int, int] = MNIST_SHAPE) -> np.ndarray:
    """An image drawn white on black, as MNIST stores it, upscaled (``scale`` as for 28×28)."""
    a = as_image28(x, shape)
    return upscale(C.grey(a, 0.0, 1.0), scale_for(a.shape, scale))


def weight_tiles(w: np.ndarray, vmax: float, scale: int = 1,
                 shape: tuple[int, int] = MNIST_SHAPE) -> np.ndarray:
    """(pixels, n) weights -> (n, h·s, w·s) diverging tiles of the input ``shape`` (s: the
    upscale that matches a 28×28 tile at ``scale``)."""
    tiles = C.diverging(np.asarray(w).T.reshape(-1, *shape), vmax)
    return upscale(tiles, scale_for(shape, scale))


def vector_tiles(v: np.ndarray, grid: tuple[int, int], scale: int) -> np.ndarray:
    """(n_items, n_values) index values -> (n_items, rows·scale, cols·scale) tiles laid out on
    ``grid``; cells beyond n_values stay light grey so a non-square layer still reads right."""
    v = np.asarray(v, np.uint8)
    rows, cols = grid
    out = np.full((v.shape[0], rows * cols), C.INDEX["panel"], np.uint8)
    out[:, : v.shape[1]] = v
    return upscale(out.reshape(-1, rows, cols), scale)


def grid_scale(grid: tuple[int, int], target: int) -> int:
    """Integer upscale so a grid's longer side is about ``target`` pixels (at least 1)."""
    return max(1, target // max(grid))


def labelled_row(tiles: np.ndarray, labels: list[str], gap: int = 6, size: int = 12,
                 colours: list[str] | None = None, bold: bool = False) -> np.ndarray:
    """Tiles in a row with a label centred under each."""
    n, h, w = tiles.shape
    cw = max(w, *(text_width(s, size, bold) for s in labels)) if labels else w
    cv = Canvas(h + size + 8, n * cw + (n - 1) * gap)
    for i in range(n):
        x = i * (cw + gap)
        cv.paste(0, x + (cw - w) // 2, tiles[i])
        if labels:
            cv.text(h + 3, x + cw // 2, labels[i], size, bold,
                    colour=(colours[i] if colours else "text"), align="centre")
    return cv.idx


def layer_grid(values: np.ndarray, vmax: float, target: int = 128,
               grid: tuple[int, int] | None = None) -> np.ndarray:
    """One layer's activations as a brightness grid (256 → 16×16, 10 → a row), black..white
    over 0..vmax, unused cells light grey, each neuron a square of pixels."""
    v = np.asarray(values, np.float64).ravel()
    g = grid or grid_shape(v.size)
    scale = grid_scale(g, target)
    idx = C.grey(v, 0.0, vmax)[None, :]
    return vector_tiles(idx, g, scale)[0]


def cells_row(values: np.ndarray, vmax: float, cell: int, gap: int = 2) -> np.ndarray:
    """A row of square brightness cells with gaps and a light frame (for output layers)."""
    v = C.grey(np.asarray(values, np.float64).ravel(), 0.0, vmax)
    n = v.size
    out = np.full((cell + 2, n * (cell + gap) - gap + 2), C.INDEX["frame"], np.uint8)
    for i in range(n):
        x = 1 + i * (cell + gap)
        out[1:-1, x:x + cell] = v[i]
        if i < n - 1:
            out[1:-1, x + cell:x + cell + gap] = C.WHITE
    return out


def outlined(img: np.ndarray, colour: str = "frame") -> np.ndarray:
    """Add a 1-pixel frame so black cells at the edge stay visible on white."""
    return np.pad(img, 1, constant_values=C.INDEX[colour])


def tile_grid(tiles: np.ndarray, cols: int | None = None, gap: int = 2) -> np.ndarray:
    """A mosaic of tiles on the layer's natural grid."""
    return mosaic(tiles, cols or grid_shape(len(tiles))[1], gap)
