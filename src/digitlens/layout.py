"""How ``n`` values are laid out as a grid of rows × columns: the one rule behind the PNG
mosaics (render), the API's ``grid`` and ``incoming_shape`` (analysis, web) and the page's
diagram (``gridShape`` in web/static/js/engine.js, tested against this function)."""

from __future__ import annotations

import math


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, cols) for n values: a row up to 12, an exact near-square factorisation if one has
    aspect ≤ 2 (784 → 28×28, 256 → 16×16, 512 → 16×32), else a square-ish grid with empty
    cells at the end (97 → 10×10)."""
    if n <= 12:
        return 1, max(n, 1)
    for rows in range(math.isqrt(n), 0, -1):
        if n % rows == 0 and n // rows <= 2 * rows:
            return rows, n // rows
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols
