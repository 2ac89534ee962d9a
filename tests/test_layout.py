"""The one grid rule (digitlens.layout.grid_shape); the page's copy is checked against it in
tests/web/test_page_parity.py."""

from __future__ import annotations

import math

import pytest

from digitlens.layout import grid_shape


@pytest.mark.parametrize(("n", "shape"), [(784, (28, 28)), (512, (16, 32)), (256, (16, 16)),
                                          (64, (8, 8)), (30, (5, 6)), (10, (1, 10)), (7, (1, 7)),
                                          (12, (1, 12)), (13, (4, 4)), (97, (10, 10)),
                                          (1, (1, 1)), (0, (1, 1))])
def test_grid_shape(n: int, shape: tuple[int, int]) -> None:
    assert grid_shape(n) == shape


def test_every_grid_holds_its_values_without_an_empty_row() -> None:
    for n in range(1, 3000):
        rows, cols = grid_shape(n)
        assert rows * cols >= n and (rows - 1) * cols < n, n
        if n > 12 and rows * cols == n:  # exact: aspect at most 2, rows ≤ cols
            assert rows <= cols <= 2 * rows, n
        else:
            assert n <= 12 or cols == math.ceil(math.sqrt(n)), n
