"""The page's copies of the project's definitions, run in Node and held equal to the Python
ones: grid shapes (digitlens.layout), the active threshold (analysis.activity), layer and neuron
names (digitlens.numbering) and the colour maps (palette: activations grey, weights
blue-white-red, as in the PNGs and the report)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens import palette as C
from digitlens.analysis.activity import active_above
from digitlens.layout import grid_shape
from digitlens.numbering import layer_name, neuron_name, spell, weights_name
from digitlens.web.palette import TARGET, palette_js
from support import require

pytestmark = pytest.mark.e2e
JS = Path(__file__).parents[2] / "src/digitlens/web/static/js"
NS = list(range(0, 1100)) + [2048, 4096, 65536]
ACTS = ["relu", "sigmoid", "tanh", "identity", "softmax"]
# exact halves between two palette steps included: both sides must round them the same way
T = sorted({*np.linspace(-1.2, 1.2, 1201).round(6).tolist(),
            *((np.arange(-63, 63) + 0.5) / 63).tolist(), *((np.arange(0, 63) + 0.5) / 63).tolist()})


@pytest.fixture(scope="module")
def page() -> dict[str, Any]:
    node = require("node")
    url = {name: json.dumps((JS / f"{name}.js").as_uri()) for name in ("engine", "numbering",
                                                                       "colors")}
    script = f"""
    const E = await import({url["engine"]}), N = await import({url["numbering"]});
    const C = await import({url["colors"]});
    const ns = {json.dumps(NS)}, ts = {json.dumps(T)}, acts = {json.dumps(ACTS)};
    console.log(JSON.stringify({{
      grid: ns.map((n) => E.gridShape(n)),
      active: acts.map((a) => [1, 4, 10].map((n) => E.activeAbove(a, n))),
      layers: [1, 2, 3, 5].map((nl) => Array.from({{ length: nl }}, (_, l) => N.layerName(l, nl))),
      hidden: N.layerName(4), neuron: N.neuronName(1, 7), spell: N.spell(2, 3),
      weights: N.weightsName(0),
      grey: ts.map((t) => C.activationColor(t)), div: ts.map((t) => C.divergingColor(t)),
      biasPos: C.biasCss(true), biasNeg: C.biasCss(false),
      colourblind: C.useScheme("colourblind") && {{ div: ts.map((t) => C.divergingColor(t)),
        biasPos: C.biasCss(true), biasNeg: C.biasCss(false), pos: C.hue("pos") }},
    }}));
    """
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_grid_shape_is_the_python_one(page: dict[str, Any]) -> None:
    assert [tuple(g) for g in page["grid"]] == [grid_shape(n) for n in NS]


def test_active_threshold_is_the_python_one(page: dict[str, Any]) -> None:
    want = [[active_above(a, n) for n in (1, 4, 10)] for a in ACTS]
    np.testing.assert_allclose(page["active"], want, rtol=0, atol=1e-15)  # float64 (JS) both


def test_layer_and_neuron_names_are_the_python_ones(page: dict[str, Any]) -> None:
    assert page["layers"] == [[layer_name(k, nl) for k in range(nl)] for nl in (1, 2, 3, 5)]
    assert page["hidden"] == layer_name(4)
    assert page["neuron"] == neuron_name(1, 7) and page["spell"] == spell(2, 3)
    assert page["weights"] == weights_name(0)


def test_colour_maps_are_the_reports(page: dict[str, Any]) -> None:
    """colors.js maps numbers to the same RGB as palette.py, whose palette.js it reads."""
    assert TARGET.read_text() == palette_js()
    t = np.asarray(T)
    grey = C.to_rgb(C.grey(t, 0, 1)).tolist()
    div = C.to_rgb(C.diverging(t, 1.0)).tolist()
    assert page["grey"] == grey  # activations: black (silent) to white, never a hue
    assert all(r == g == b for r, g, b in page["grey"])
    assert page["div"] == div
    pos = C.to_rgb(C.bias(np.array([1.0]), 1.0))[0]
    neg = C.to_rgb(C.bias(np.array([-1.0]), 1.0))[0]
    assert page["biasPos"] == "rgb({},{},{})".format(*pos)
    assert page["biasNeg"] == "rgb({},{},{})".format(*neg)
    try:  # the colour-blind scheme too, and the word the page uses for its colour
        C.use_palette("colourblind")
        cb = page["colourblind"]
        assert cb["div"] == C.to_rgb(C.diverging(t, 1.0)).tolist() and cb["div"] != div
        assert cb["biasPos"] == "rgb({},{},{})".format(*C.to_rgb(C.bias(np.array([1.0]), 1.0))[0])
        assert cb["biasNeg"] == "rgb({},{},{})".format(*C.to_rgb(C.bias(np.array([-1.0]), 1.0))[0])
        assert cb["pos"] == C.hue("pos") == "orange"
    finally:
        C.use_palette("classic")


def test_page_weight_colours_are_the_palettes() -> None:
    """The UI colours' positive and negative (the inspector's maths; colors.css) are the
    palette's red and blue ends."""
    css = (JS.parent / "css/colors.css").read_text()
    for var, rgb in (("--pos", C.RED), ("--neg", C.BLUE)):
        assert f"{var}: #{{:02x}}{{:02x}}{{:02x}};".format(*rgb) in css
