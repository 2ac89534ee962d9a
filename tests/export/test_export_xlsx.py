"""The Excel workbook: names, formulas and cached values; recalculated by real LibreOffice."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from export_libreoffice import convert

from digitlens.data.sources import Dataset
from digitlens.errors import ParameterError
from digitlens.export.xlsx import export_xlsx
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train
from support import forward_bounds, require


def oracle(model: MLP, image: np.ndarray) -> tuple[np.ndarray, int]:
    """Float64 forward pass written independently of the exporter: (probabilities, digit)."""
    a = image.reshape(784).astype(np.float64)
    for w, b, act in zip(model.weights, model.biases, model.activations, strict=True):
        z = a @ w.astype(np.float64) + b.astype(np.float64)
        acts: dict[str, Callable[[Any], Any]] = {
            "relu": lambda z: np.where(z > 0, z, 0.0), "tanh": np.tanh, "identity": lambda z: z,
             "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
             "softmax": lambda z: np.exp(z - z.max())}
        a = acts[act](z)
    p = a / a.sum()
    return p, int(np.argmax(p))


@pytest.fixture(scope="module")
def models(trained_model: MLP, sample: Dataset, tmp_path_factory: pytest.TempPathFactory
           ) -> list[MLP]:
    """Different depths and activations, each trained briefly on the real sample."""
    out = [trained_model]
    for i, (layers, act, output, cost) in enumerate([
            ((784, 30, 10), "sigmoid", "sigmoid", "quadratic"),
            ((784, 24, 12, 10), "tanh", "softmax", "cross_entropy"),
            ((784, 10), "relu", "softmax", "cross_entropy")]):
        config = TrainConfig(layers=layers, activation=act, output=output, cost=cost,
                             init="xavier", epochs=2, batch_size=20, seed=i,
                             dataset="mnist-sample", optimizer="adam", lr=3e-3)
        out.append(train(config, sample, tmp_path_factory.mktemp("xlsx") / str(i)).mlp)
    return out


def load(path: Path, data_only: bool = False) -> openpyxl.Workbook:  # type: ignore[type-arg]
    """openpyxl drops (and warns about) the Excel 2010 data-bar extension; that is expected."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".* extension is not supported", UserWarning)
        return openpyxl.load_workbook(path, data_only=data_only)


def name_cells(wb: openpyxl.Workbook, name: str) -> list[list]:  # type: ignore[type-arg]
    ((sheet, ref),) = list(wb.defined_names[name].destinations)
    cells = wb[sheet][ref.replace("$", "")]
    return [list(row) for row in cells] if isinstance(cells, tuple) else [[cells]]


def values(wb: openpyxl.Workbook, name: str) -> np.ndarray:  # type: ignore[type-arg]
    return np.array([[c.value for c in row] for row in name_cells(wb, name)], dtype=float)


def test_names_formulas_and_cached_values(models: list[MLP], sample: Dataset,
                                          tmp_path: Path) -> None:
    image = sample.test_images[3] / 255.0
    for i, model in enumerate([*models, MLP.create((784, 12, 10), "identity", seed=9)]):
        path = export_xlsx(model, tmp_path / f"m{i}.xlsx", image, caption="test", max_maps=8)
        cached = load(path, data_only=True)
        probs, digit = oracle(model, image)
        assert values(cached, "input_pixels").shape == (28, 28)
        assert np.abs(values(cached, "input_pixels") - image).max() <= 1e-15  # 16 digits
        assert values(cached, "predicted_digit")[0, 0] == digit == model.predict(image)[0]
        # the workbook's cached values and the oracle: float64 both sides
        assert np.abs(values(cached, "probabilities").ravel() - probs).max() <= 1e-12
        # against the float32 engine: the forward bound (float64 being one more order)
        assert np.all(np.abs(values(cached, "probabilities").ravel()
                             - model.trace(image).probabilities[0])
                      <= forward_bounds(model, image)[1][-1][0])
        formulas = load(path)
        names = list(formulas.defined_names)
        assert not [n for n in names if re.fullmatch(r"[A-Za-z]{1,3}[0-9]+", n)]
        assert {"input_pixels", "predicted_digit", "biases_0", "weights_0_0"} <= set(names)
        z = name_cells(formulas, "z_0")[0][0]
        assert z.value.startswith("=SUMPRODUCT(input_vector,weights_0_0)+")
        assert formulas.sheetnames == ["Draw", "Network", "Neuron", "Parameters", "Weight maps"]
        act = z.parent.cell(z.row, z.column + 1)  # the activation sits right of z
        expected = {"relu": "=MAX(0,", "sigmoid": "=1/(1+EXP(-", "tanh": "=TANH(",
                    "softmax": "=EXP(", "identity": "="}[model.activations[0]]
        assert act.value.startswith(expected)
        weights = values(formulas, "weights_0_1").ravel()
        assert np.array_equal(weights.astype(np.float32), model.weights[0][:, 1])


def test_bad_neuron_choice_is_refused(trained_model: MLP, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"'neuron' parameter must be an int in 0\.\.31"):
        export_xlsx(trained_model, tmp_path / "x.xlsx", np.zeros((28, 28)), neuron=(0, 32))
    with pytest.raises(ParameterError, match=r"'layer' parameter must be an int in 0\.\.2 "):
        export_xlsx(trained_model, tmp_path / "x.xlsx", np.zeros((28, 28)), neuron=(3, 0))


@pytest.mark.e2e
def test_libreoffice_recalculates_a_new_digit(models: list[MLP], sample: Dataset,
                                              tmp_path: Path) -> None:
    """Write a different digit into input_pixels; LibreOffice's answer must equal NumPy's."""
    soffice = require("soffice")
    shown = sample.test_images[0] / 255.0  # the workbook is written showing a 7
    picks = [int(np.flatnonzero(sample.test_labels == d)[0]) for d in (0, 2, 3, 4, 6, 9)]
    jobs = []
    for i, model in enumerate(models):
        path = export_xlsx(model, tmp_path / f"m{i}.xlsx", shown, neuron=(model.n_layers - 1, 0),
                           max_maps=8)
        wb = load(path)
        for k in (2 * i, 2 * i + 1):
            digit = sample.test_images[picks[k % len(picks)]] / 255.0
            for row, cells in enumerate(name_cells(wb, "input_pixels")):
                for col, cell in enumerate(cells):
                    cell.value = float(digit[row, col])
            edited = tmp_path / f"m{i}-d{k}.xlsx"
            wb.save(edited)
            jobs.append((model, digit, edited))
    outs = convert(soffice, [e for _, _, e in jobs], "xlsx", tmp_path / "recalc", tmp_path)
    changed = 0
    for (model, digit, _), out in zip(jobs, outs, strict=True):
        wb = load(out, data_only=True)
        probs, predicted = oracle(model, digit)
        got = values(wb, "probabilities").ravel()
        # LibreOffice recalculates in float64 (784-term sums: ~784·2⁻⁵³ ≈ 1e-13 relative)
        assert np.abs(got - probs).max() <= 1e-9, out.name
        assert values(wb, "predicted_digit")[0, 0] == predicted, out.name
        assert np.abs(values(wb, "input_pixels") - digit).max() <= 1e-14  # float64 both
        before, _ = oracle(model, shown)
        changed += int(np.abs(probs - before).max() > 1e-3)  # far above any rounding
    assert changed == len(jobs)  # every answer differs from the cached one: it recalculated


@pytest.mark.slow
def test_every_preset_architecture_exports(sample: Dataset, tmp_path: Path) -> None:
    """Each preset's network (untrained, same shape and activations) gives a workbook whose
    cached prediction is the model's."""
    from digitlens.nn.presets import PRESETS

    image = sample.test_images[7] / 255.0
    seen = set()
    for preset in PRESETS.values():
        c = preset.config
        key = (c.layers, c.activation, c.output)
        if key in seen:
            continue
        seen.add(key)
        model = MLP.create(c.layers, c.activation, c.output, c.cost, c.init, seed=3)
        path = export_xlsx(model, tmp_path / f"{preset.name}.xlsx", image, max_maps=2)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".* extension is not supported", UserWarning)
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        ((sheet, ref),) = list(wb.defined_names["predicted_digit"].destinations)
        assert sheet == "Draw"
        assert wb[sheet][ref.replace("$", "")].value == model.predict(image)[0]
        wb.close()
    assert len(seen) >= 5
