"""The whole network as an Excel workbook that computes the prediction with formulas (S4).

Sheets: **Draw** (the digit as 28×28 editable values 0..1 under a grey colour scale, the
prediction and the probabilities), **Network** (every neuron: SUMPRODUCT of the previous layer
with its weights, plus its bias, through its activation written out as a formula), **Neuron**
(one neuron's inputs × weights laid out cell by cell), **Parameters** (every weight and bias
under defined names) and **Weight maps** (hidden neurons as coloured 28×28 blocks).

Defined names used by outside checks: ``input_pixels`` (Draw's 28×28 block, row-major, 0..1)
and ``predicted_digit``. Every formula carries its cached value (computed here in float64 with
the same formulas), so viewers that do not recalculate still show the right numbers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from xlsxwriter.utility import xl_rowcol_to_cell

from digitlens.errors import ModelError, bad_param
from digitlens.fileio import atomic_write_bytes
from digitlens.nn.backprop import forward
from digitlens.nn.functions import ACT_FORMULA
from digitlens.nn.mlp import MLP

GRID_ROW, GRID_COL = 4, 1  # Draw!B5 is the top-left pixel
NET_ROW = 5  # first neuron row on Network (row 6)


@dataclass
class Forward:
    """The workbook's maths in float64: what every formula cell should show."""

    zs: list[np.ndarray]
    acts: list[np.ndarray]  # acts[0] is the input (784,)
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
        import xlsxwriter

        if model.sizes[0] != 784:
            raise ModelError(f"the workbook draws 28×28 inputs: this network has "
                             f"{model.sizes[0]} inputs, not 784")
        self.buf = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buf, {"in_memory": True})
        # Arial: LibreOffice has a metric twin (Liberation Sans), so grids stay square there too
        self.wb.formats[0].set_font_name("Arial")
        self.wb.formats[0].set_font_size(10)
        self.model = model
        image = np.asarray(image, np.float64)
        if image.size != 784 or not np.all(np.isfinite(image)):
            raise bad_param("image", "28×28 finite values in 0..1", image.shape)
        self.image = np.clip(image.reshape(28, 28), 0, 1)
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
            "min_color": "#2166AC", "mid_type": "num", "mid_value": 0, "mid_color": "#FFFFFF",
            "max_type": "num", "max_value": limit, "max_color": "#B2182B"})

    def close(self) -> bytes:
        self.wb.close()
        return self.buf.getvalue()


def draw_sheet(book: Book, caption: str) -> None:
    ws = book.wb.add_worksheet("Draw")
    fw, n_out = book.fw, book.model.sizes[-1]
    ws.write(0, 0, "Draw a digit", book.title)
    ws.write(1, 0, "Type or paste values from 0 (paper) to 1 (ink) into the 28×28 grid; the "
             "network recalculates. Centre the digit and make it about 20 pixels tall, as MNIST "
             "digits are.", book.note)
    ws.write(2, 0, caption, book.note)
    ws.set_column_pixels(0, 0, 18)
    ws.set_column_pixels(GRID_COL, GRID_COL + 27, 22)
    for r in range(28):
        ws.set_row_pixels(GRID_ROW + r, 22)
        for c in range(28):
            ws.write_number(GRID_ROW + r, GRID_COL + c, float(book.image[r, c]), book.pixel)
    last_r, last_c = GRID_ROW + 27, GRID_COL + 27
    book.grey_scale(ws, GRID_ROW, GRID_COL, last_r, last_c)
    book.name("input_pixels", "Draw", GRID_ROW, GRID_COL, last_r, last_c)
    ws.data_validation(GRID_ROW, GRID_COL, last_r, last_c, {
        "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1,
        "error_title": "Pixel value", "error_message": "A pixel is a number from 0 to 1."})
    col = last_c + 2
    ws.set_column(col, col, 16)
    ws.set_column(col + 1, col + 1, 12)
    ws.set_column(col + 2, col + 2, 30)
    ws.write(GRID_ROW, col, "Predicted digit", book.head)
    ws.merge_range(GRID_ROW + 1, col, GRID_ROW + 4, col, "", book.big)
    ws.write_formula(GRID_ROW + 1, col, "=MATCH(MAX(probabilities),probabilities,0)-1",
                     book.big, fw.prediction)
    book.name("predicted_digit", "Draw", GRID_ROW + 1, col)
    ws.write(GRID_ROW + 6, col, "digit", book.head)
    ws.write(GRID_ROW + 6, col + 1, "probability", book.head)
    for d in range(n_out):
        r = GRID_ROW + 7 + d
        ws.write_number(r, col, d, book.centre)
        ws.write_formula(r, col + 1, f"=INDEX(probabilities,{d + 1})", book.pct,
                         float(fw.probabilities[d]))
    first = xl_rowcol_to_cell(GRID_ROW + 7, col, col_abs=True)
    ws.conditional_format(GRID_ROW + 7, col, GRID_ROW + 6 + n_out, col, {
        "type": "formula", "criteria": f"={first}=predicted_digit", "format": book.winner})
    ws.conditional_format(GRID_ROW + 7, col + 1, GRID_ROW + 6 + n_out, col + 1, {
        "type": "data_bar", "bar_color": "#5B9BD5", "bar_solid": True, "min_type": "num",
        "min_value": 0, "max_type": "num", "max_value": 1})
    r = GRID_ROW + 8 + n_out
    ws.write(r, col, "ink (sum of pixels)", book.label)
    ws.write_formula(r, col + 1, "=SUM(input_pixels)", book.num, float(book.image.sum()))
    ws.write(r + 1, col, "pixels outside 0..1", book.label)
    ws.write_formula(r + 1, col + 1, '=COUNTIF(input_pixels,"<0")+COUNTIF(input_pixels,">1")',
                     None, 0)
    for k, line in enumerate(("Network: every neuron, computed with formulas",
                              "Neuron: one neuron's inputs × weights, cell by cell",
                              "Parameters: every weight and bias, under defined names",
                              "Weight maps: the weights drawn as 28×28 images")):
        ws.write(r + 3 + k, col, line, book.note)
    ws.set_landscape()
    ws.fit_to_pages(1, 1)
    ws.activate()


def layer_heads(act: str, last: bool) -> list[str]:
    if not last:
        return ["neuron", "bias", "z", "a"]
    if act == "softmax":
        return ["digit", "bias", "z", "EXP(z−max)", "probability"]
    return ["digit", "bias", "z", "output a", "probability"]


def network_sheet(book: Book) -> None:
    """Layer blocks side by side; the flattened input sits to their right (``input_vector``)."""
    ws = book.wb.add_worksheet("Network")
    model, fw = book.model, book.fw
    ws.write(0, 0, "Network: every neuron of every layer", book.title)
    ws.write(1, 0, "z = SUMPRODUCT(previous layer, the neuron's weights) + bias;  a = activation"
             "(z);  softmax: EXP(z − max z) / their sum.", book.note)
    ws.write(2, 0, "Layer 1 reads input_vector: the 784 pixels of Draw, row by row (far right).",
             book.note)
    prev, col = "input_vector", 0
    for li, act in enumerate(model.activations):
        layer, n = li + 1, model.sizes[li + 1]
        last = layer == model.n_layers
        heads = layer_heads(act, last)
        ws.merge_range(NET_ROW - 2, col, NET_ROW - 2, col + len(heads) - 1,
                       f"layer {layer}: {model.sizes[li]}→{n}, {act}", book.head)
        ws.write_row(NET_ROW - 1, col, heads, book.head)
        ws.set_column(col, col, 7)
        ws.set_column(col + 1, col + len(heads) - 1, 11)
        ws.set_column(col + len(heads), col + len(heads), 3)

        def rng(c: int, n: int = n) -> str:
            return abs_ref("Network", NET_ROW, c, NET_ROW + n - 1, c).split("!")[1]

        for j in range(n):
            r = NET_ROW + j
            bias, z = xl_rowcol_to_cell(r, col + 1), xl_rowcol_to_cell(r, col + 2)
            a_cell = xl_rowcol_to_cell(r, col + 3)
            ws.write_number(r, col, j if last else j + 1, book.label)
            ws.write_formula(r, col + 1, f"=INDEX(biases_{layer},{j + 1})", book.num,
                             float(model.biases[li][j]))
            ws.write_formula(r, col + 2, f"=SUMPRODUCT({prev},weights_{layer}_{j + 1})+{bias}",
                             book.num, float(fw.zs[li][j]))
            if act == "softmax":
                ws.write_formula(r, col + 3, f"=EXP({z}-MAX({rng(col + 2)}))", book.num,
                                 float(fw.exps[j]))
            else:
                ws.write_formula(r, col + 3, "=" + ACT_FORMULA[act].format(z=z), book.num,
                                 float(fw.acts[li + 1][j]))
            if last:
                ws.write_formula(r, col + 4, f"={a_cell}/SUM({rng(col + 3)})", book.pct,
                                 float(fw.probabilities[j]))
        book.name(f"z_{layer}", "Network", NET_ROW, col + 2, NET_ROW + n - 1, col + 2)
        name = "outputs" if last else f"activations_{layer}"
        out_col = col + 4 if last and act == "softmax" else col + 3
        book.name(name, "Network", NET_ROW, out_col, NET_ROW + n - 1, out_col)
        if last:
            book.name("probabilities", "Network", NET_ROW, col + 4, NET_ROW + n - 1, col + 4)
            ws.merge_range(NET_ROW + n + 1, col, NET_ROW + n + 1, col + 2, "predicted digit",
                           book.head)
            ws.write_formula(NET_ROW + n + 1, col + 3, "=predicted_digit", book.head,
                             fw.prediction)
        else:
            book.diverging(ws, NET_ROW, col + 3, NET_ROW + n - 1, col + 3,
                           float(np.abs(fw.acts[li + 1]).max()))
        prev, col = name, col + len(heads) + 1
    ws.print_area(0, 0, NET_ROW + max(model.sizes[1:]) + 2, col - 2)
    col += 1
    ws.write_row(NET_ROW - 1, col, ["pixel", "row", "col", "x"], book.head)
    ws.set_column(col, col + 2, 5)
    ws.set_column(col + 3, col + 3, 8)
    for k in range(784):
        r, c = divmod(k, 28)
        ws.write_row(NET_ROW + k, col, [k + 1, r + 1, c + 1], book.label)
        ws.write_formula(NET_ROW + k, col + 3, f"=INDEX(input_pixels,{r + 1},{c + 1})",
                         book.num, float(fw.acts[0][k]))
    book.name("input_vector", "Network", NET_ROW, col + 3, NET_ROW + 783, col + 3)
    ws.freeze_panes(NET_ROW, 0)
    ws.repeat_rows(NET_ROW - 2, NET_ROW - 1)
    ws.fit_to_pages(1, 0)


def export_xlsx(model: MLP, path: str | Path, image: np.ndarray, caption: str = "",
                neuron: tuple[int, int] | None = None, max_maps: int = 32) -> Path:
    """Write the workbook for ``model`` showing ``image`` (28×28, 0..1), atomically."""
    path = Path(path)
    atomic_write_bytes(path, workbook_bytes(model, image, caption, neuron, max_maps))
    return path


def workbook_bytes(model: MLP, image: np.ndarray, caption: str = "",
                   neuron: tuple[int, int] | None = None, max_maps: int = 32) -> bytes:
    from digitlens.export.xlsx_views import neuron_sheet, parameters_sheet, weight_maps_sheet

    book = Book(model, image)
    draw_sheet(book, caption)
    network_sheet(book)
    neuron_sheet(book, neuron)
    parameters_sheet(book)
    weight_maps_sheet(book, max_maps)
    return book.close()
