"""The workbook's sheets that hold and explain the numbers: Parameters, Neuron, Weight maps.

``xlsx.py`` holds the sheets that compute (Draw, Network) and writes the workbook; these store
every parameter under its defined name, lay one neuron out cell by cell (S4's walkthrough) and
draw weight maps. Both build on ``xlsx_book.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xlsxwriter.utility import xl_rowcol_to_cell

from digitlens.export.xlsx_book import Book, class_label
from digitlens.nn.compose import all_composed
from digitlens.nn.functions import ACT_FORMULA
from digitlens.numbering import check_address, layer_name, neuron_name, spell

TOP = 4  # first grid row of the Neuron sheet
MAP_PX, PER_ROW = 7, 8


def parameters_sheet(book: Book) -> None:
    """Each layer a block: a row of biases over an n_in × n_out weight matrix (NumPy layout)."""
    ws = book.wb.add_worksheet("Parameters")
    model, iw = book.model, book.shape[1]
    ws.write(0, 0, "Parameters: every weight and bias", book.title)
    ws.write(1, 0, "Column j of a block is neuron j: its bias (named biases_L, one row per "
             "layer), then its weights (named weights_L_j), one row per input.", book.note)
    ws.set_column(0, 0, 16)
    ws.set_column(1, max(model.sizes[1:]), 9)
    row = 3
    for layer, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        n_in, n_out = w.shape
        ws.merge_range(row, 0, row, min(n_out, 4), f"{layer_name(layer, model.n_layers)}: "
                       f"{n_in}→{n_out}, {model.activations[layer]}", book.head)
        ws.write(row + 1, 0, "digit" if layer == model.n_layers - 1 else "neuron", book.head)
        ws.write_row(row + 1, 1, list(range(n_out)), book.head)
        ws.write(row + 2, 0, "bias", book.head)
        ws.write_row(row + 2, 1, b.astype(np.float64).tolist(), book.num_b)
        book.name(f"biases_{layer}", "Parameters", row + 2, 1, row + 2, n_out)
        top = row + 3
        for i in range(n_in):
            ws.write_string(top + i, 0, f"pixel {i // iw + 1},{i % iw + 1}" if layer == 0
                            else f"from {spell(layer - 1, i)}", book.label)
            ws.write_row(top + i, 1, w[i].astype(np.float64).tolist(), book.num)
        for j in range(n_out):
            book.name(f"weights_{layer}_{j}", "Parameters", top, j + 1, top + n_in - 1, j + 1)
        book.name(f"weights_{layer}", "Parameters", top, 1, top + n_in - 1, n_out)
        row = top + n_in + 2
    ws.freeze_panes(0, 1)
    ws.fit_to_pages(1, 0)


def pick_neuron(book: Book, neuron: tuple[int, int] | None) -> tuple[int, int]:
    """(layer, neuron) as docs/numbering.md counts them; default: the most active neuron of
    layer 0."""
    if neuron is None:
        return 0, int(np.argmax(book.fw.acts[1]))
    check_address(book.model.sizes, *neuron)
    return neuron


def neuron_sheet(book: Book, neuron: tuple[int, int] | None) -> None:
    ws = book.wb.add_worksheet("Neuron")
    model, fw = book.model, book.fw
    layer, j = pick_neuron(book, neuron)
    act = model.activations[layer]
    w = model.weights[layer][:, j].astype(np.float64)
    x = fw.acts[layer]
    who = f"{neuron_name(layer, j).capitalize()}, {layer_name(layer, model.n_layers)}" + (
        f", {class_label(model, j)}" if layer == model.n_layers - 1 else "")
    ws.write_string(0, 0, f"{who} ({act}), cell by cell", book.title)
    ws.write(1, 0, "Each input times its weight; their sum plus the bias is z, the neuron's "
             "input; the activation of z is its output. Change the digit on Draw and watch.",
             book.note)
    # the input image as three grids, a hidden layer as a table
    row, col = (grids if layer == 0 else table)(book, ws, layer, j, w, x)
    total = float(np.sum(x * w))
    z = float(fw.zs[layer][j])
    lines: list[tuple[str, str, float]] = [
        ("Σ input × weight", "=SUM(products)", total),
        ("+ bias", f"=INDEX(biases_{layer},{j + 1})", float(model.biases[layer][j])),
        ("= z", f"={xl_rowcol_to_cell(row, col)}+{xl_rowcol_to_cell(row + 1, col)}", z)]
    zc = xl_rowcol_to_cell(row + 2, col)
    if act == "softmax":
        lines.append((f"a = softmax(z) (needs all {model.sizes[-1]} z, see Network)",
                      f"=INDEX(outputs,{j + 1})", float(fw.acts[layer + 1][j])))
    else:
        lines.append((f"a = {act}(z) = {ACT_FORMULA[act].format(z='z')}",
                      "=" + ACT_FORMULA[act].format(z=zc), float(fw.acts[layer + 1][j])))
    lines.append(("Network sheet's z for this neuron", f"=INDEX(z_{layer},{j + 1})", z))
    for k, (text, formula, value) in enumerate(lines):
        ws.write_string(row + k, col - 1, text, book.label)
        ws.write_formula(row + k, col, formula, book.num_b, value)


def grids(book: Book, ws: Any, layer: int, j: int, w: np.ndarray,
          x: np.ndarray) -> tuple[int, int]:
    """Three grids of the input's shape (28×28 for MNIST): input, weights, input × weights."""
    gh, gw = book.shape
    starts = (1, gw + 2, 2 * gw + 3)
    titles = ("input x (from Draw)", f"weights: weights_{layer}_{j}", "x × weight")
    ws.set_column_pixels(0, 0, 12)
    ws.set_column_pixels(1, 3 * gw + 2, 22)
    for c in (gw + 1, 2 * gw + 2):
        ws.set_column_pixels(c, c, 10)
    for s, t in zip(starts, titles, strict=True):
        ws.merge_range(TOP - 1, s, TOP - 1, s + gw - 1, t, book.head)
    f = book.fmt
    weight_fmt = f({"num_format": "#.00;-#.00;;", "font_size": 6, "align": "center",
                    "valign": "vcenter"})
    prod = x * w
    for r in range(gh):
        ws.set_row_pixels(TOP + r, 22)
        for c in range(gw):
            k = r * gw + c
            xin = xl_rowcol_to_cell(TOP + r, starts[0] + c)
            win = xl_rowcol_to_cell(TOP + r, starts[1] + c)
            ws.write_formula(TOP + r, starts[0] + c, f"=INDEX(input_pixels,{r + 1},{c + 1})",
                             book.pixel, float(x[k]))
            ws.write_formula(TOP + r, starts[1] + c, f"=INDEX(weights_{layer}_{j},{k + 1})",
                             weight_fmt, float(w[k]))
            ws.write_formula(TOP + r, starts[2] + c, f"={xin}*{win}", weight_fmt, float(prod[k]))
    end, right = TOP + gh - 1, gw - 1
    book.grey_scale(ws, TOP, starts[0], end, starts[0] + right)
    book.diverging(ws, TOP, starts[1], end, starts[1] + right, float(np.abs(w).max()))
    book.diverging(ws, TOP, starts[2], end, starts[2] + right, float(np.abs(prod).max()))
    book.name("products", "Neuron", TOP, starts[2], end, starts[2] + right)
    ws.set_landscape()
    ws.fit_to_pages(1, 1)
    ws.set_column(3 * gw + 4, 3 * gw + 4, 34)
    ws.set_column(3 * gw + 5, 3 * gw + 5, 12)
    return TOP, 3 * gw + 5


def table(book: Book, ws: Any, layer: int, j: int, w: np.ndarray,
          x: np.ndarray) -> tuple[int, int]:
    """One row per input neuron: its activation, the weight, the product."""
    ws.write_row(TOP - 1, 0, ["input neuron", f"a ({layer_name(layer - 1)})", "weight",
                              "a × weight"], book.head)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 3, 14)
    ws.set_column(5, 5, 46)
    ws.set_column(6, 6, 12)
    for i in range(len(w)):
        r = TOP + i
        ws.write_string(r, 0, spell(layer - 1, i), book.label)
        ws.write_formula(r, 1, f"=INDEX(activations_{layer - 1},{i + 1})", book.num,
                         float(x[i]))
        ws.write_formula(r, 2, f"=INDEX(weights_{layer}_{j},{i + 1})", book.num, float(w[i]))
        ws.write_formula(r, 3, f"={xl_rowcol_to_cell(r, 1)}*{xl_rowcol_to_cell(r, 2)}",
                         book.num, float(x[i] * w[i]))
    end = TOP + len(w) - 1
    book.diverging(ws, TOP, 3, end, 3, float(np.abs(x * w).max()))
    book.name("products", "Neuron", TOP, 3, end, 3)
    ws.freeze_panes(TOP, 0)
    ws.repeat_rows(TOP - 1)
    ws.fit_to_pages(1, 0)
    return TOP, 6


def weight_maps_sheet(book: Book, max_maps: int) -> None:
    """Each neuron's weights (deeper layers: composed W0·W1…) as a coloured block of the
    input's shape (28×28 for MNIST)."""
    ws = book.wb.add_worksheet("Weight maps")
    model = book.model
    gh, gw = book.shape
    ws.write(0, 0, "Weight maps: red = positive weight, blue = negative, white = 0", book.title)
    ws.write(1, 0, f"Layer 0: each neuron's {gh * gw} weights as a {gh}×{gw} image (a copy of "
             "Parameters "
             "for viewing). Deeper layers: weights composed through the layers (W0·W1…, "
             f"ignoring biases and activations). At most {max_maps} neurons per layer.",
             book.note)
    ws.set_column_pixels(0, PER_ROW * (gw + 1), MAP_PX)
    label = book.fmt({"font_size": 8, "bold": True, "font_color": "#404040"})
    row = 3
    for li, composed in enumerate(all_composed(model)):
        n = min(composed.shape[1], max_maps)
        last = li == model.n_layers - 1
        ws.write(row, 1, layer_name(li, model.n_layers) + (": one map per digit" if last else "")
                 + (f", first {n} of {composed.shape[1]} neurons" if n < composed.shape[1]
                    else ""), book.bold)
        row += 1
        for k in range(n):
            br, bc = row + (k // PER_ROW) * (gh + 2), 1 + (k % PER_ROW) * (gw + 1)
            ws.write_string(br, bc, class_label(model, k) if last else neuron_name(li, k), label)
            block = composed[:, k].reshape(gh, gw)
            for r in range(gh):
                ws.write_row(br + 1 + r, bc, block[r].tolist(), book.tiny)
            book.diverging(ws, br + 1, bc, br + gh, bc + gw - 1, float(np.abs(block).max()))
        rows = (n + PER_ROW - 1) // PER_ROW * (gh + 2)
        for r in range(row, row + rows):
            ws.set_row_pixels(r, MAP_PX if (r - row) % (gh + 2) else 14)
        row += rows + 1
    ws.hide_gridlines(2)
    ws.fit_to_pages(1, 0)

