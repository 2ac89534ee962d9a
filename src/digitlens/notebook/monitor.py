"""``dl.TrainingMonitor``: the accuracy curve and first-layer weight mosaic, redrawn after every
epoch of ``dl.train`` (the explorer's Train tab, in a notebook)."""

from __future__ import annotations

import base64
from typing import Any

import anywidget
import traitlets as t

from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP
from digitlens.notebook.modules import widget_css, widget_esm

PAGE_MODULES = ("chart", "colors")  # page modules it reads from PAGE: the Train tab's chart


class TrainingMonitor(anywidget.AnyWidget):
    """Pass it to ``dl.train(..., monitor=mon)`` (or ``monitor=True``) and watch.

    >>> mon = dl.TrainingMonitor(); mon                       # doctest: +SKIP
    >>> run = dl.train("s3-machine-academy", epochs=20, monitor=mon)   # doctest: +SKIP
    """

    _esm = t.Unicode().tag(sync=True)
    _css = t.Unicode().tag(sync=True)
    total = t.Int(0).tag(sync=True)
    epochs = t.List(t.Int()).tag(sync=True)
    accuracy = t.List(t.Float()).tag(sync=True)
    loss = t.List(t.Float()).tag(sync=True)
    mosaic = t.Unicode("").tag(sync=True)  # data: URL of the weight mosaic PNG

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(_esm=widget_esm("monitor", PAGE_MODULES), _css=widget_css("explorer"),
                         **kwargs)

    def start(self, total: int, history: list[dict[str, Any]]) -> None:
        """A new (or resumed) run of ``total`` epochs with these finished epochs."""
        with self.hold_sync():
            self.total = total
            self.epochs = [int(h["epoch"]) for h in history]
            self.accuracy = [float(h["test_accuracy"]) for h in history]
            self.loss = [float(h["loss"]) for h in history]

    def on_epoch(self, row: dict[str, Any], model: MLP | CNN) -> None:
        """Training's epoch callback: one more point and the new weights (a convolutional
        network's kernels)."""
        if isinstance(model, CNN):
            from digitlens.render.views.convolution import filters
            png = filters(model).encode("png")
        else:
            from digitlens.render.views.weights import first_layer
            png = first_layer(model).encode("png")
        with self.hold_sync():
            self.epochs = [*self.epochs, int(row["epoch"])]
            self.accuracy = [*self.accuracy, float(row["test_accuracy"])]
            self.loss = [*self.loss, float(row["loss"])]
            self.mosaic = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
