"""The network diagram (web/static/js/diagram.js) read back from its pixels, for the pages that
show it: the explorer's own page, the classroom's student page and the notebook widget. Each
hidden neuron's square must be painted in the colour palette.py gives its activation (black
silent, white the layer's strongest), whatever page drew it."""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlens.palette import grey, to_rgb

# per hidden layer, [value, r, g, b] at the centre of each neuron's square, as drawn last
SQUARES_JS = """() => {
  const d = %s, c = d.canvas, img = c.getContext("2d").getImageData(0, 0, c.width, c.height);
  return d.data.activations.slice(0, -1).map((values, l) => Array.from(values, (v, i) => {
    const [x, y] = d.pos(l + 1, i);
    const k = 4 * (Math.floor(y * d.dpr) * img.width + Math.floor(x * d.dpr));
    return [v, img.data[k], img.data[k + 1], img.data[k + 2]];
  }));
}"""


def squares_coloured(page: Any, diagram: str) -> int:
    """Check every hidden square of the diagram at JS expression ``diagram`` against the
    palette; the number of squares checked (an assertion error names the first wrong one)."""
    layers = page.evaluate(SQUARES_JS % diagram)
    assert layers, "the diagram has no hidden layer drawn"
    checked = 0
    for layer, rows in enumerate(layers):
        a = np.asarray(rows, np.float64)
        values, drawn = a[:, 0], a[:, 1:].astype(np.uint8)
        peak = max(float(values.max()), 0.0)
        want = to_rgb(grey(values, 0.0, peak))
        wrong = np.flatnonzero(np.any(want != drawn, axis=1))
        assert wrong.size == 0, (f"layer {layer} neuron {wrong[0]}: activation {values[wrong[0]]}"
                                 f" drawn {drawn[wrong[0]]}, palette {want[wrong[0]]}")
        # a drawing lights some neurons and leaves others dark: the check sees both
        assert len({tuple(c) for c in drawn}) > 1, f"layer {layer} is one flat colour"
        checked += len(values)
    return checked


def diagram_facts(page: Any, diagram: str) -> dict[str, Any]:
    """Which layout drew it, its smallest label on screen (CSS px), whether its box scrolls."""
    return dict(page.evaluate(f"""() => {{ const d = {diagram}, box = d.canvas.parentElement;
        return {{ mode: d.canvas.dataset.diagram, textPx: d.smallestTextPx(),
                  scrolls: box.scrollWidth > box.clientWidth, width: d.layout.W }}; }}"""))
