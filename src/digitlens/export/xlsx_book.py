"""What every sheet of the workbook shares: the float64 maths its formulas show (``forward64``),
the activations as Excel formulas and ``Book``, the workbook being written (formats and defined
names). ``xlsx.py`` (Draw, Network) and ``xlsx_sheets.py`` (Neuron, Parameters, Weight maps)
both build on it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from digitlens import palette as C
from digitlens.errors import ModelError, bad_param
from digitlens.nn.backprop import forward
from digitlens.nn.mlp import MLP

# the PNG views' diverging ends (palette.py), as Excel colours
BLUE, RED = ("#{:02X}{:02X}{:02X}".format(*rgb) for rgb in (C.BLUE, C.RED))
MAX_SIDE = 64       # an input image's rows and columns, each
MAX_CLASSES = 64    # rows of the probability table


@dataclass
class Forward:
    """The workbook's maths in float64: what every formula cell should show."""

    zs: list[np.ndarray]
    acts: list[np.ndarray]  # acts[0] is the input (pixels,)
    exps: np.ndarray  # softmax numerators EXP(z - max z), or the sigmoid outputs
    probabilities: np.ndarray
    prediction: int


def forward64(model: MLP, x: np.ndarray) -> Forward:
    """The forward pass in float64 for one input (``digitlens.nn.backprop.forward``)."""
    p = forward(model, np.asarray(x, np.float64).reshape(1, -1), dtype=np.float64)
    zs, acts = [z[0] for z in p.zs], [a[0] for a in p.activations]
    exps = np.exp(zs[-1] - zs[-1].max()) if model.output_activation == "softmax" else acts[-1]
    probs = exps / exps.sum()
    return Forward(zs, acts, exps, probs, int(np.argmax(probs)))


def class_label(model: MLP, k: int) -> str:
    """Output ``k`` as the sheets label it: ``digit k`` for digit classes, else its name."""
    names = model.class_names
    return f"digit {k}" if all(n.isdigit() for n in names) else names[k]


def abs_ref(sheet: str, row: int, col: int, row2: int | None = None,
            col2: int | None = None) -> str:
    """An absolute reference like ``'Weight maps'!$B$5:$AC$32``."""
    quoted = f"'{sheet}'" if " " in sheet else sheet
    first = xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)
    if row2 is None or col2 is None:
        return f"{quoted}!{first}"
    return f"{quoted}!{first}:{xl_rowcol_to_cell(row2, col2, row_abs=True, col_abs=True)}"


class Book:
    """One workbook being written: formats made once, names defined in one place."""

    def __init__(self, model: MLP, image: np.ndarray) -> None:
        h, w = model.input_shape
        if max(h, w) > MAX_SIDE or model.sizes[-1] > MAX_CLASSES:
            raise ModelError(f"the workbook fits images up to {MAX_SIDE}×{MAX_SIDE} and up to "
                             f"{MAX_CLASSES} classes: this network reads {h}×{w} images and "
                             f"has {model.sizes[-1]} classes")
        self.shape = (h, w)
        self.buf = io.BytesIO()
        # a string is a string: never a formula (a class named =HYPERLINK(…)) nor a link
        self.wb = xlsxwriter.Workbook(self.buf, {"in_memory": True, "strings_to_formulas": False,
                                                 "strings_to_urls": False})
        # Arial: LibreOffice has a metric twin (Liberation Sans), so grids stay square there too
        self.wb.formats[0].set_font_name("Arial")
        self.wb.formats[0].set_font_size(10)
        self.model = model
        image = np.asarray(image, np.float64)
        if image.size != h * w or not np.all(np.isfinite(image)):
            raise bad_param("image", f"{h}×{w} finite values in 0..1", image.shape)
        self.image = np.clip(image.reshape(h, w), 0, 1)
        self.fw = forward64(model, self.image)
        f = self.fmt
        self.title = f({"bold": True, "font_size": 16, "font_color": "#1F3864"})
        self.note = f({"italic": True, "font_color": "#595959"})
        self.head = f({"bold": True, "bg_color": "#D9E1F2", "border": 1, "align": "center"})
        self.label = f({"font_color": "#595959", "align": "right"})
        self.num = f({"num_format": "0.0000"})
        self.num_b = f({"num_format": "0.0000", "bold": True})
        self.pixel = f({"num_format": "0.0;-0.0;;@", "font_size": 7, "align": "center",
                        "valign": "vcenter", "border": 1, "border_color": "#E7E6E6",
                        "font_color": "#404040"})
        self.tiny = f({"num_format": ";;;", "font_size": 6})
        self.pct = f({"num_format": "0.00%"})
        self.big = f({"bold": True, "font_size": 48, "align": "center", "valign": "vcenter",
                      "border": 2, "border_color": "#1F3864", "font_color": "#1F3864"})
        self.white_font = f({"font_color": "#FFFFFF"})
        self.centre = f({"align": "center", "bold": True})
        self.winner = f({"bg_color": "#C6EFCE", "font_color": "#006100"})
        self.bold = f({"bold": True, "font_color": "#1F3864"})

    def fmt(self, props: dict[str, Any]) -> Any:
        return self.wb.add_format({"font_name": "Arial", "font_size": 10, **props})

    def name(self, name: str, sheet: str, row: int, col: int, row2: int | None = None,
             col2: int | None = None) -> None:
        self.wb.define_name(name, "=" + abs_ref(sheet, row, col, row2, col2))

    def grey_scale(self, ws: Any, r0: int, c0: int, r1: int, c1: int) -> None:
        """White (0) to black (1), with white digits on dark cells."""
        ws.conditional_format(r0, c0, r1, c1, {
            "type": "2_color_scale", "min_type": "num", "min_value": 0, "min_color": "#FFFFFF",
            "max_type": "num", "max_value": 1, "max_color": "#000000"})
        ws.conditional_format(r0, c0, r1, c1, {"type": "cell", "criteria": ">", "value": 0.4,
                                               "format": self.white_font})

    def diverging(self, ws: Any, r0: int, c0: int, r1: int, c1: int, limit: float) -> None:
        """Blue (negative) – white (0) – red (positive), symmetric so 0 is always white."""
        limit = float(limit) or 1.0
        ws.conditional_format(r0, c0, r1, c1, {
            "type": "3_color_scale", "min_type": "num", "min_value": -limit,
            "min_color": BLUE, "mid_type": "num", "mid_value": 0, "mid_color": "#FFFFFF",
            "max_type": "num", "max_value": limit, "max_color": RED})

    def close(self) -> bytes:
        self.wb.close()
        return self.buf.getvalue()
