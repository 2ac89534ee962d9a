"""The workbook of models of other sizes than MNIST's: grids of the model's own h×w, class
names beside the probabilities, recalculated by real LibreOffice; and the one-line refusal of
what does not fit a sheet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from export_libreoffice import convert
from test_export_xlsx import load, name_cells, values

from digitlens.errors import ModelError
from digitlens.export.xlsx import export_xlsx
from digitlens.export.xlsx_book import MAX_CLASSES, MAX_SIDE
from digitlens.nn.mlp import MLP
from shapes import SHAPES, draw_shape
from support import require


def oracle(model: MLP, image: np.ndarray) -> tuple[np.ndarray, int]:
    """Float64 forward pass of the maths, independent of the exporter."""
    a = image.ravel().astype(np.float64)
    for w, b, act in zip(model.weights, model.biases, model.activations, strict=True):
        z = a @ w.astype(np.float64) + b.astype(np.float64)
        acts: dict[str, Callable[[Any], Any]] = {
             "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
             "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
             "softmax": lambda z: np.exp(z - z.max())}
        a = acts[act](z)
    p = a / a.sum()
    return p, int(np.argmax(p))


def shapes_model() -> MLP:
    return MLP.create((144, 16, 3), "tanh", meta={"input_shape": [12, 12],
                                                  "class_names": list(SHAPES)}, seed=3)


def test_12x12_three_class_workbook(tmp_path: Path) -> None:
    model = shapes_model()
    image = draw_shape(0, np.random.default_rng(1)) / 255.0
    path = export_xlsx(model, tmp_path / "s.xlsx", image, "a circle", neuron=(0, 1))
    cached = load(path, data_only=True)
    probs, best = oracle(model, image)
    assert values(cached, "input_pixels").shape == (12, 12)
    assert np.abs(values(cached, "input_pixels") - image).max() <= 1e-15  # float64, 16 digits
    assert values(cached, "predicted_digit")[0, 0] == best == model.predict(image)[0]
    assert np.abs(values(cached, "probabilities").ravel() - probs).max() <= 1e-12  # float64
    assert values(cached, "products").shape == (12, 12)  # the neuron's three 12×12 grids
    draw = cached["Draw"]
    texts = {c.value for row in draw.iter_rows() for c in row if isinstance(c.value, str)}
    assert set(SHAPES) <= texts
    assert name_cells(cached, "predicted_class")[0][0].value == SHAPES[best]
    maps = cached["Weight maps"]
    labels = {c.value for row in maps.iter_rows() for c in row if isinstance(c.value, str)}
    assert set(SHAPES) <= labels
    # an output neuron's walkthrough is titled with its class name, not "digit 2"
    out = load(export_xlsx(model, tmp_path / "o.xlsx", image, neuron=(1, 2)), data_only=True)
    assert out["Neuron"]["A1"].value.startswith(f"Neuron 1:2, layer 1 (output), {SHAPES[2]} (")


def test_8x8_ten_digit_workbook_keeps_mnists_words(tmp_path: Path) -> None:
    model = MLP.create((64, 10), meta={"input_shape": [8, 8]}, seed=4)
    image = np.random.default_rng(2).random((8, 8))
    cached = load(export_xlsx(model, tmp_path / "d.xlsx", image), data_only=True)
    assert values(cached, "input_pixels").shape == (8, 8)
    assert cached["Draw"]["A1"].value == "Draw a digit"
    assert values(cached, "predicted_digit")[0, 0] == oracle(model, image)[1]


@pytest.mark.parametrize(("sizes", "shape", "message"), [
    ((65 * 65, 10), [65, 65], "this network reads 65×65 images and has 10 classes"),
    ((64, MAX_CLASSES + 1), [8, 8], f"this network reads 8×8 images and has {MAX_CLASSES + 1} "
                                    "classes"),
])
def test_what_does_not_fit_a_sheet_is_refused(sizes: tuple[int, int], shape: list[int],
                                              message: str, tmp_path: Path) -> None:
    model = MLP.create(sizes, meta={"input_shape": shape})
    with pytest.raises(ModelError, match=f"fits images up to {MAX_SIDE}×{MAX_SIDE} and up to "
                                         f"{MAX_CLASSES} classes: {message}"):
        export_xlsx(model, tmp_path / "x.xlsx", np.zeros(shape))
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.e2e
def test_libreoffice_recalculates_a_new_12x12_drawing(tmp_path: Path) -> None:
    soffice = require("soffice")
    model = shapes_model()
    rng = np.random.default_rng(5)
    shown = draw_shape(0, rng) / 255.0
    path = export_xlsx(model, tmp_path / "s.xlsx", shown, neuron=(1, 0))
    wb = load(path)
    cross = draw_shape(1, rng) / 255.0
    for r, cells in enumerate(name_cells(wb, "input_pixels")):
        for c, cell in enumerate(cells):
            cell.value = float(cross[r, c])
    wb.save(tmp_path / "edited.xlsx")
    (out,) = convert(soffice, [tmp_path / "edited.xlsx"], "xlsx", tmp_path / "recalc", tmp_path)
    got = load(out, data_only=True)
    probs, best = oracle(model, cross)
    # LibreOffice recalculates in float64: ~144·2⁻⁵³ relative, far inside 1e-9
    assert np.abs(values(got, "probabilities").ravel() - probs).max() <= 1e-9
    assert values(got, "predicted_digit")[0, 0] == best
    assert name_cells(got, "predicted_class")[0][0].value == SHAPES[best]
    assert np.abs(probs - oracle(model, shown)[0]).max() > 1e-3  # it really recalculated
