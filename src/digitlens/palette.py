"""One 256-colour palette for every view, so colours mean the same thing everywhere.

Images are drawn as uint8 *indices* into ``PALETTE`` and turned into RGB only at the end. That
keeps colour mapping a table lookup, lets a GIF be written without quantising, and guarantees
that red means "positive weight" in the still, the animation and the report alike.

Ranges of the palette:
  * ``DIV``  (127 steps): blue (−) · white (0) · red (+), for weights and evidence;
  * ``BIAS`` (33 steps): green (−) · white (0) · yellow (+), for biases;
  * ``GREY`` (64 steps): black · white, for digits, activations and min-max images;
  * named colours: the true class green, a wrong prediction orange, text and frames.
The colour-blind scheme swaps the hues (see ``SCHEMES``); the ranges stay where they are.
"""

from __future__ import annotations

import numpy as np

DIV_START, DIV_STEPS = 0, 127          # index 63 is exactly white (zero)
BIAS_START, BIAS_STEPS = 128, 33       # index 144 is white (zero bias)
GREY_START, GREY_STEPS = 161, 64       # 161 black .. 224 white

# Two schemes for the signs: the classic red (+) / blue (−), and one for colour-blind eyes
# (orange / purple weights, yellow / teal biases, blue / vermilion for right / wrong) whose pairs
# stay apart under simulated deuteranopia, protanopia and tritanopia (tests/render/test_palette.py
# checks it with colorspacious). ``use_palette`` switches every view to one of them.
SCHEMES: dict[str, dict[str, tuple[int, int, int]]] = {
    "classic": {"neg": (33, 102, 172), "neg_light": (146, 197, 222), "pos_light": (244, 165, 130),
                "pos": (178, 24, 43), "bias_neg": (27, 120, 55), "bias_pos": (230, 171, 2),
                "true": (26, 152, 80), "wrong": (240, 120, 0)},
    "colourblind": {"neg": (94, 60, 153), "neg_light": (178, 171, 210),
                    "pos_light": (253, 184, 99), "pos": (230, 97, 1), "bias_neg": (1, 133, 113),
                    "bias_pos": (230, 171, 2), "true": (0, 114, 178), "wrong": (213, 94, 0)},
}
WORDS: dict[str, dict[str, str]] = {
    "classic": {"neg": "blue", "pos": "red", "bias_neg": "green", "bias_pos": "yellow",
                "true": "green", "wrong": "orange"},
    "colourblind": {"neg": "purple", "pos": "orange", "bias_neg": "teal", "bias_pos": "yellow",
                    "true": "blue", "wrong": "red-orange"},
}
SCHEME = "classic"
BLUE = SCHEMES[SCHEME]["neg"]
RED = SCHEMES[SCHEME]["pos"]
BIAS_GREEN = SCHEMES[SCHEME]["bias_neg"]
BIAS_YELLOW = SCHEMES[SCHEME]["bias_pos"]

NAMED: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "text": (34, 34, 34),
    "muted": (120, 120, 120),
    "frame": (200, 200, 200),
    "panel": (244, 244, 244),
    "true": (26, 152, 80),        # the true class (green)
    "wrong": (240, 120, 0),       # a wrong prediction (orange)
    "accent": (49, 54, 149),      # curves, highlights
    "light_accent": (171, 181, 222),
    "dead": (120, 0, 120),        # a dead neuron's frame
    "dim": (150, 150, 150),       # a dim neuron's frame
    "dup": (0, 150, 170),         # a near-duplicate neuron's frame
}
# one colour per class for maps and per-class charts (ColorBrewer/Tableau-like, distinguishable)
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")
NAMED_START = 225
INDEX = {name: NAMED_START + i for i, name in enumerate(NAMED)}
WHITE = INDEX["white"]


def hex_of(name: str) -> str:
    """'#rrggbb' of a named colour (for matplotlib charts and the HTML report)."""
    return "#{:02x}{:02x}{:02x}".format(*NAMED[name])


def _ramp(steps: int, stops: list[tuple[int, int, int]]) -> np.ndarray:
    """Linear interpolation through ``stops`` in ``steps`` entries."""
    pos = np.linspace(0, len(stops) - 1, steps)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    frac = (pos - lo)[:, None]
    s = np.asarray(stops, np.float64)
    return np.round(s[lo] * (1 - frac) + s[lo + 1] * frac).astype(np.uint8)


def _build() -> np.ndarray:
    pal = np.zeros((256, 3), np.uint8)
    white = (255, 255, 255)
    sch = SCHEMES[SCHEME]
    # blue -> pale blue -> white -> pale red -> red, as in ColorBrewer's RdBu (PuOr when safe)
    pal[DIV_START:DIV_START + DIV_STEPS] = _ramp(
        DIV_STEPS, [sch["neg"], sch["neg_light"], white, sch["pos_light"], sch["pos"]])
    pal[BIAS_START:BIAS_START + BIAS_STEPS] = _ramp(
        BIAS_STEPS, [sch["bias_neg"], white, sch["bias_pos"]])
    pal[GREY_START:GREY_START + GREY_STEPS] = _ramp(GREY_STEPS, [(0, 0, 0), white])
    for name, rgb in NAMED.items():
        pal[INDEX[name]] = rgb
    return pal


PALETTE = _build()
PALETTE_FLAT = PALETTE.ravel().tolist()  # PIL's putpalette format


def use_palette(name: str) -> None:
    """Switch every view to scheme ``name`` ('classic' or 'colourblind'). The palette is
    rewritten in place, so modules holding ``PALETTE`` or ``PALETTE_FLAT`` see the change."""
    global SCHEME, BLUE, RED, BIAS_GREEN, BIAS_YELLOW
    if name not in SCHEMES:
        raise ValueError(f"unknown palette {name!r}: choose {', '.join(SCHEMES)}")
    SCHEME = name
    sch = SCHEMES[name]
    BLUE, RED, BIAS_GREEN, BIAS_YELLOW = sch["neg"], sch["pos"], sch["bias_neg"], sch["bias_pos"]
    NAMED["true"], NAMED["wrong"] = sch["true"], sch["wrong"]
    PALETTE[:] = _build()
    PALETTE_FLAT[:] = PALETTE.ravel().tolist()


def hue(key: str) -> str:
    """The name of a colour in the scheme in use ('pos', 'neg', 'bias_pos', 'bias_neg', 'true',
    'wrong'), so captions say "orange +" when the colour-blind scheme draws orange."""
    return WORDS[SCHEME][key]


def palette_words() -> dict[str, str]:
    """The colours' names in the scheme in use, for legends that say what each colour means."""
    return WORDS[SCHEME]


def diverging(values: np.ndarray, vmax: float) -> np.ndarray:
    """Values -> DIV indices, zero at white, ±vmax at full red/blue (clipped beyond)."""
    half = (DIV_STEPS - 1) / 2
    scale = half / vmax if vmax > 0 else 0.0
    q = np.rint(np.asarray(values, np.float64) * scale + half)
    return (np.clip(q, 0, DIV_STEPS - 1) + DIV_START).astype(np.uint8)


def bias(values: np.ndarray, vmax: float) -> np.ndarray:
    """Bias values -> BIAS indices: green (−) · white · yellow (+)."""
    half = (BIAS_STEPS - 1) / 2
    scale = half / vmax if vmax > 0 else 0.0
    q = np.rint(np.asarray(values, np.float64) * scale + half)
    return (np.clip(q, 0, BIAS_STEPS - 1) + BIAS_START).astype(np.uint8)


def grey(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Values -> GREY indices: vmin black, vmax white (clipped)."""
    span = vmax - vmin
    v = (np.asarray(values, np.float64) - vmin) / (span if span > 0 else 1.0)
    q = np.rint(v * (GREY_STEPS - 1))
    return (np.clip(q, 0, GREY_STEPS - 1) + GREY_START).astype(np.uint8)


def grey_minmax(images: np.ndarray) -> np.ndarray:
    """Each image (leading axis) min-max normalised to black..white on its own (S2's images)."""
    a = np.asarray(images, np.float64)
    flat = a.reshape(len(a), -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.rint((flat - lo[:, None]) / span[:, None] * (GREY_STEPS - 1))
    return (q.astype(np.uint8) + GREY_START).reshape(a.shape)


def symmetric_limit(values: np.ndarray, percentile: float = 99.5) -> float:
    """A robust ±limit for a diverging scale: a high percentile of |values| (never 0)."""
    v = np.abs(np.asarray(values, np.float64)).ravel()
    if v.size == 0:
        return 1.0
    lim = float(np.percentile(v, percentile))
    return lim if lim > 0 else float(v.max()) or 1.0


def to_rgb(indices: np.ndarray) -> np.ndarray:
    """Index image -> RGB uint8 (..., 3) by table lookup."""
    return PALETTE[indices]
