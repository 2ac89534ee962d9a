"""The whole network as an Excel workbook that computes the prediction with formulas (S4).

Sheets: **Draw** (the digit as 28×28 editable values 0..1 under a grey colour scale, the
prediction and the probabilities), **Network** (every neuron: SUMPRODUCT of the previous layer
with its weights, plus its bias, through its activation written out as a formula), **Neuron**
(one neuron's inputs × weights laid out cell by cell), **Parameters** (every weight and bias
under defined names) and **Weight maps** (hidden neurons as coloured 28×28 blocks).

Defined names used by outside checks: ``input_pixels`` (Draw's 28×28 block, row-major, 0..1)
and ``predicted_digit`` (the predicted class's number, from 0). Every formula carries its cached
value (computed here in float64 with the same formulas), so viewers that do not recalculate
still show the right numbers. A model of another image size gets grids of its own h×w, up to
``MAX_SIDE`` a side, and up to ``MAX_CLASSES`` classes, named beside their numbers; beyond that a
sheet is too wide to read, and the export says so in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from xlsxwriter.utility import xl_rowcol_to_cell

from digitlens.export.xlsx_book import Book, abs_ref
from digitlens.export.xlsx_sheets import neuron_sheet, parameters_sheet, weight_maps_sheet
from digitlens.fileio import atomic_write_bytes
from digitlens.nn.functions import ACT_FORMULA
from digitlens.nn.mlp import MLP
from digitlens.numbering import layer_name

GRID_ROW, GRID_COL = 4, 1  # Draw!B5 is the top-left pixel
NET_ROW = 5  # first neuron row on Network (row 6)


def draw_sheet(book: Book, caption: str) -> None:
    ws = book.wb.add_worksheet("Draw")
    fw, n_out = book.fw, book.model.sizes[-1]
    (h, w), names = book.shape, book.model.class_names
    named = any(not n.isdigit() for n in names)
    ws.write(0, 0, "Draw a digit" if not named else "Draw a picture", book.title)
    ws.write(1, 0, f"Type or paste values from 0 (paper) to 1 (ink) into the {h}×{w} grid; the "
             "network recalculates. Centre the digit and make it about "
             f"{max(1, round(20 * h / 28))} pixels tall, as MNIST digits are.", book.note)
    ws.write_string(2, 0, caption, book.note)
    ws.set_column_pixels(0, 0, 18)
    ws.set_column_pixels(GRID_COL, GRID_COL + w - 1, 22)
    for r in range(h):
        ws.set_row_pixels(GRID_ROW + r, 22)
        for c in range(w):
            ws.write_number(GRID_ROW + r, GRID_COL + c, float(book.image[r, c]), book.pixel)
    last_r, last_c = GRID_ROW + h - 1, GRID_COL + w - 1
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
        if named:  # the class's name beside its number
            ws.write_string(r, col + 2, names[d], book.note)
    if named:  # the predicted class by name, recalculated with the rest (predicted_class)
        book.name("class_names", "Draw", GRID_ROW + 7, col + 2, GRID_ROW + 6 + n_out, col + 2)
        ws.write_formula(GRID_ROW + 5, col, "=INDEX(class_names,predicted_digit+1)",
                         book.centre, names[fw.prediction])
        book.name("predicted_class", "Draw", GRID_ROW + 5, col)
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
                              f"Weight maps: the weights drawn as {h}×{w} images")):
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
    ih, iw = book.shape
    ws.write(2, 0, f"Layer 0 reads input_vector: the {ih * iw} pixels of Draw, row by row (far "
             "right).", book.note)
    prev, col = "input_vector", 0
    for li, act in enumerate(model.activations):
        layer, n = li, model.sizes[li + 1]
        last = layer == model.n_layers - 1
        heads = layer_heads(act, last)
        ws.merge_range(NET_ROW - 2, col, NET_ROW - 2, col + len(heads) - 1,
                       f"{layer_name(layer, model.n_layers)}: {model.sizes[li]}→{n}, {act}",
                       book.head)
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
            ws.write_number(r, col, j, book.label)
            ws.write_formula(r, col + 1, f"=INDEX(biases_{layer},{j + 1})", book.num,
                             float(model.biases[li][j]))
            ws.write_formula(r, col + 2, f"=SUMPRODUCT({prev},weights_{layer}_{j})+{bias}",
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
    for k in range(ih * iw):
        r, c = divmod(k, iw)
        ws.write_row(NET_ROW + k, col, [k + 1, r + 1, c + 1], book.label)
        ws.write_formula(NET_ROW + k, col + 3, f"=INDEX(input_pixels,{r + 1},{c + 1})",
                         book.num, float(fw.acts[0][k]))
    book.name("input_vector", "Network", NET_ROW, col + 3, NET_ROW + ih * iw - 1, col + 3)
    ws.freeze_panes(NET_ROW, 0)
    ws.repeat_rows(NET_ROW - 2, NET_ROW - 1)
    ws.fit_to_pages(1, 0)


def export_xlsx(model: MLP, path: str | Path, image: np.ndarray, caption: str = "",
                neuron: tuple[int, int] | None = None, max_maps: int = 32) -> Path:
    """Write the workbook for ``model`` showing ``image`` (its input shape, 0..1), atomically."""
    path = Path(path)
    atomic_write_bytes(path, workbook_bytes(model, image, caption, neuron, max_maps))
    return path


def workbook_bytes(model: MLP, image: np.ndarray, caption: str = "",
                   neuron: tuple[int, int] | None = None, max_maps: int = 32) -> bytes:
    book = Book(model, image)
    draw_sheet(book, caption)
    network_sheet(book)
    neuron_sheet(book, neuron)
    parameters_sheet(book)
    weight_maps_sheet(book, max_maps)
    return book.close()
