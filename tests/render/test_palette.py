"""Colour for everyone: the colour-blind scheme's pairs of signs (weights +/−, bias +/−, right /
wrong) stay apart under simulated deuteranopia, protanopia and tritanopia, measured with
colorspacious (CAM02-UCS colour difference, full-severity simulation); the classic scheme's
green / orange does not, which is why the choice exists. Switching scheme reaches the palette
every view draws with, the report's legend and the views' captions, and is undone after a
report."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens import palette as C
from digitlens.render.report_html import colour_key

cs = pytest.importorskip("colorspacious")
DEFICIENCIES = ("deuteranomaly", "protanomaly", "tritanomaly")
APART = 20.0  # ΔE in CAM02-UCS; about 2 is a just-noticeable difference
PAIRS = {"weights": ("pos", "neg"), "pale weights": ("pos_light", "neg_light"),
         "bias": ("bias_pos", "bias_neg"), "right or wrong": ("true", "wrong")}


def seen(rgb: tuple[int, int, int], deficiency: str) -> np.ndarray:
    """The colour as someone with the deficiency (at full severity) sees it, in sRGB 0..1."""
    space = {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": 100}
    return np.clip(cs.cspace_convert(np.asarray(rgb) / 255, space, "sRGB1"), 0, 1)


def difference(a: tuple[int, int, int], b: tuple[int, int, int], deficiency: str) -> float:
    return float(cs.deltaE(seen(a, deficiency), seen(b, deficiency), input_space="sRGB1"))


@pytest.mark.parametrize("deficiency", DEFICIENCIES)
@pytest.mark.parametrize("pair", list(PAIRS))
def test_colourblind_signs_stay_apart(pair: str, deficiency: str) -> None:
    a, b = (C.SCHEMES["colourblind"][k] for k in PAIRS[pair])
    assert difference(a, b, deficiency) >= APART


def test_classic_right_and_wrong_merge_for_protanopes() -> None:
    """The reason for the choice: classic green and orange nearly meet without red cones."""
    sch = C.SCHEMES["classic"]
    assert difference(sch["true"], sch["wrong"], "protanomaly") < 12
    assert difference(sch["true"], sch["wrong"], "tritanomaly") > APART  # the check can tell


def test_switching_reaches_the_palette_captions_and_legend() -> None:
    top = C.diverging(np.array([1.0]), 1.0)
    assert C.SCHEME == "classic" and tuple(C.PALETTE[top[0]]) == C.SCHEMES["classic"]["pos"]
    flat = C.PALETTE_FLAT
    try:
        C.use_palette("colourblind")
        assert tuple(C.PALETTE[top[0]]) == C.SCHEMES["colourblind"]["pos"]
        assert flat is C.PALETTE_FLAT  # the same list, rewritten: holders see the change
        assert flat[3 * int(top[0])] == C.SCHEMES["colourblind"]["pos"][0]
        assert C.hex_of("true") == "#0072b2"
        key = colour_key()
        assert "orange positive" in key and "purple negative" in key and "blue the true" in key
        assert "red positive" not in key and "green" not in key
    finally:
        C.use_palette("classic")
    assert "red positive" in colour_key() and C.hex_of("true") == "#1a9850"
    with pytest.raises(ValueError, match="unknown palette"):
        C.use_palette("sepia")
