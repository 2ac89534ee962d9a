"""Colour scales, mosaics and text: the pixels land where and how they should."""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.render import tiles as T


def rgb(i: int) -> tuple[int, ...]:
    return tuple(int(v) for v in C.PALETTE[i])


def test_diverging_is_centred_on_white() -> None:
    idx = C.diverging(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), 1.0)
    assert rgb(idx[2]) == (255, 255, 255)
    assert rgb(idx[3]) == C.RED and rgb(idx[4]) == C.RED
    assert rgb(idx[1]) == C.BLUE and rgb(idx[0]) == C.BLUE
    half = C.diverging(np.array([0.5, -0.5]), 1.0)
    r, g, b = rgb(half[0])
    assert r > b and g < 255       # pale red
    r, g, b = rgb(half[1])
    assert b > r                   # pale blue


def test_bias_and_grey_scales() -> None:
    idx = C.bias(np.array([-1.0, 0.0, 1.0]), 1.0)
    assert rgb(idx[0]) == C.BIAS_GREEN and rgb(idx[1]) == (255, 255, 255)
    assert rgb(idx[2]) == C.BIAS_YELLOW
    g = C.grey(np.array([0.0, 1.0, 0.5]), 0.0, 1.0)
    assert rgb(g[0]) == (0, 0, 0) and rgb(g[1]) == (255, 255, 255)
    assert 100 < rgb(g[2])[0] < 155
    mm = C.grey_minmax(np.array([[[2.0, 4.0]], [[-1.0, -3.0]]]))
    assert rgb(mm[0, 0, 0]) == (0, 0, 0) and rgb(mm[0, 0, 1]) == (255, 255, 255)
    assert rgb(mm[1, 0, 0]) == (255, 255, 255) and rgb(mm[1, 0, 1]) == (0, 0, 0)


def test_mosaic_places_tiles() -> None:
    tiles = np.arange(6, dtype=np.uint8)[:, None, None] * np.ones((6, 3, 4), np.uint8)
    m = T.mosaic(tiles, cols=4, gap=2)
    assert m.shape == (2 * 3 + 2, 4 * 4 + 3 * 2)
    assert m[0, 0] == 0 and m[0, 6] == 1 and m[5, 0] == 4 and m[5, 6] == 5
    assert m[0, 4] == C.WHITE and m[5, 12] == C.WHITE  # gap and the empty cell
    assert T.upscale(np.array([[1, 2]], np.uint8), 3).shape == (3, 6)


def test_bias_bars_and_frames() -> None:
    tiles = np.zeros((2, 4, 4), np.uint8)
    out = T.with_bias_bars(tiles, np.array([7, 9]), bar=3, gap=1)
    assert out.shape == (2, 4, 8) and out[0, 2, 6] == 7 and out[1, 0, 5] == 9
    assert out[0, 0, 4] == C.WHITE
    f = T.framed(tiles, np.array([5, 6], np.uint8), 2)
    assert f.shape == (2, 8, 8) and f[1, 0, 0] == 6 and f[0, 3, 3] == 0


def test_text_and_colorbar_draw_ink() -> None:
    cv = T.Canvas(40, 200)
    w = cv.text(5, 5, "digit 7", 14)
    assert 30 < w < 120
    ink = C.PALETTE[cv.idx].sum(axis=2) < 300
    assert ink.any() and not ink[:, 5 + w + 2:].any()
    bar = T.colorbar("div", ("-1", "0", "+1"), "weight", 100)
    colours = {tuple(c) for c in C.PALETTE[bar].reshape(-1, 3)}
    assert C.RED in colours and C.BLUE in colours
