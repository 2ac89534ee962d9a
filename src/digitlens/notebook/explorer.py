"""``dl.Explorer(run)``: the explorer's drawing pad, prediction, network, evidence and neuron
inspector as a notebook widget (anywidget: JupyterLab, Notebook 7, VS Code, Colab).

The page draws with the explorer's own modules. Where the page has the in-page engine
(web/static/js/engine.js) it computes there; otherwise the page sends the drawing and the
kernel answers with the Python engine, as the served explorer's API does. Either way the
drawing the network saw (``pixels``), its ``prediction`` and the ``selected`` neuron are synced
back, so the next cell can use them.
"""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import traitlets as t

from digitlens.api import RunLike, as_run
from digitlens.notebook.modules import has_page_module, widget_css, widget_esm

PAGE_MODULES = ("colors", "diagram", "draw", "engine", "numbering")
FLOW = 40  # the diagram's lines per layer (static/explorer.js asks the in-page engine for as many)


def rounded(a: np.ndarray, digits: int = 4) -> list[float]:
    return np.round(np.asarray(a, np.float64).ravel(), digits).tolist()


class Explorer(anywidget.AnyWidget):
    """Draw a digit and watch the network think.

    >>> w = dl.Explorer(run); w                 # doctest: +SKIP
    >>> w.prediction, np.array(w.pixels).reshape(28, 28)      # doctest: +SKIP
    """

    _esm = t.Unicode().tag(sync=True)
    _css = t.Unicode().tag(sync=True)
    compute = t.Unicode("kernel").tag(sync=True)       # "page" (engine.js) or "kernel"
    network = t.Unicode("").tag(sync=True)  # digitlens-network v1 JSON (page mode), weights base64
    sizes = t.List(t.Int()).tag(sync=True)
    activations = t.List(t.Unicode()).tag(sync=True)   # per layer: "relu", ..., "softmax"
    class_names = t.List(t.Unicode()).tag(sync=True)
    input_shape = t.List(t.Int(), [28, 28]).tag(sync=True)  # the image the network reads
    # the pad's grey levels, kernel mode (binary buffers arrive as memoryview)
    drawing = t.Bytes(b"").tag(sync=True, from_json=lambda v, _w: bytes(v or b""))
    drawing_size = t.List(t.Int(), [0, 0]).tag(sync=True)
    pixels = t.List(t.Float()).tag(sync=True)           # the inputs the network saw (h·w)
    prediction = t.Int(None, allow_none=True).tag(sync=True)
    probabilities = t.List(t.Float()).tag(sync=True)
    selected = t.Dict(None, allow_none=True).tag(sync=True)   # {"layer": l, "index": i}
    state = t.Dict().tag(sync=True)                     # kernel mode: what the page draws

    def __init__(self, run: RunLike, compute: str | None = None, **kwargs: Any) -> None:
        self.run = as_run(run)
        model = self.mlp = self.run.dense("dl.Explorer")
        names = list(model.class_names)
        mode = compute or ("page" if has_page_module("engine") else "kernel")
        network = ""
        if mode == "page":  # the single-file explorer's document: exact float32, base64
            import json

            from digitlens.export.html_explorer import network_document
            network = json.dumps(network_document(model), separators=(",", ":"))
        super().__init__(_esm=widget_esm("explorer", PAGE_MODULES), _css=widget_css("explorer"),
                         compute=mode, network=network, sizes=list(model.sizes),
                         activations=list(model.activations),
                         class_names=names, input_shape=list(model.input_shape), **kwargs)
        self.observe(self._on_drawing, names=["drawing"])
        self.observe(self._on_selected, names=["selected"])

    @property
    def image(self) -> np.ndarray:
        """The current drawing as the network saw it: float32 in 0..1 at the model's input
        shape ((28, 28) for MNIST)."""
        shape = self.mlp.input_shape
        if not self.pixels:
            return np.zeros(shape, np.float32)
        return np.asarray(self.pixels, np.float32).reshape(shape)

    def _on_drawing(self, change: dict[str, Any]) -> None:
        from digitlens.data.preprocess import preprocess
        w, h = self.drawing_size
        data = change["new"]
        if w * h == 0 or len(data) != w * h:
            return
        gray = np.frombuffer(data, np.uint8).reshape(h, w).astype(np.float32) / 255
        pre = preprocess(gray, self.mlp.input_shape)
        x = pre.centred.astype(np.float32).ravel()
        self.update(x, pre.has_ink)

    def _on_selected(self, _change: dict[str, Any]) -> None:
        if self.compute == "kernel" and self.pixels:
            self.update(np.asarray(self.pixels, np.float32), bool(np.any(self.pixels)))

    def update(self, x: np.ndarray, has_ink: bool = True) -> None:
        """Kernel mode: run the Python engine on input ``x`` (the model's inputs) and send what
        the page draws: activations, probabilities, the diagram's strongest signals (``flow``),
        evidence, the selected neuron's arithmetic."""
        from digitlens.analysis.attribution import evidence
        from digitlens.analysis.flow import strongest_connections
        model = self.mlp
        tr = model.trace(x.reshape(1, -1))
        ev = evidence(model, x, "auto", trace=tr, ink_only=True)
        flow = strongest_connections(model, tr, FLOW) if has_ink else []
        state: dict[str, Any] = {
            "has_ink": has_ink, "pixels": rounded(x, 3),
            "activations": [rounded(a[0]) for a in tr.activations[1:]],
            "probabilities": rounded(tr.probabilities[0]),
            "flow": [[[int(i), int(j), round(float(v), 5)] for i, j, v in layer] for layer in flow],
            "evidence": {"method": ev.method, "scores": rounded(ev.scores),
                         "contributions": rounded(ev.contributions.T, 5)},
        }
        sel = self.selected
        if sel and isinstance(sel.get("layer"), int) and isinstance(sel.get("index"), int):
            state["inspector"] = self.inspect(x, sel["layer"], sel["index"])
        with self.hold_sync():
            self.pixels = rounded(x, 4)
            self.probabilities = state["probabilities"]
            self.prediction = int(tr.prediction[0]) if has_ink else None
            self.state = state

    def inspect(self, x: np.ndarray, layer: int, index: int) -> dict[str, Any]:
        """A neuron's composed incoming weights (input-shaped) and its arithmetic for ``x``."""
        from digitlens.analysis.inspector import arithmetic
        from digitlens.errors import DigitlensError
        from digitlens.nn.compose import composed_weights
        model = self.mlp
        try:
            ar = arithmetic(model, layer, index, x.reshape(1, -1))
        except DigitlensError as exc:
            return {"error": str(exc)}
        return {"layer": layer, "index": index, "arithmetic": ar.to_dict(top=6),
                "weights": rounded(composed_weights(model, layer)[:, index], 5)}
