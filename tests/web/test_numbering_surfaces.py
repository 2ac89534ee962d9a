"""One neuron, one address: ``1:7`` of the 784-32-16-10 net reaches the same weights from the
CLI (``export --neuron 1:7``, a real subprocess), the workbook it writes (the Neuron sheet and
the defined name ``weights_1_7``) and the web API (``/api/neuron`` layer 1, neuron 7, a real
server), and every surface names it the same way (docs/numbering.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import numpy as np
import openpyxl
import pytest

from digitlens.nn.io import load_model
from digitlens.numbering import layer_name, neuron_name

from .helpers import post

pytestmark = pytest.mark.e2e
LAYER, NEURON = 1, 7


def workbook(path: Path) -> openpyxl.Workbook:  # type: ignore[type-arg]
    with warnings.catch_warnings():  # openpyxl drops the data-bar extension, as expected
        warnings.filterwarnings("ignore", ".* extension is not supported", UserWarning)
        return openpyxl.load_workbook(path, data_only=True)


def test_one_neuron_on_every_surface(client: httpx.Client, runs_dir: Path,
                                     tmp_path: Path) -> None:
    model = load_model(runs_dir / "small")
    want = model.weights[LAYER][:, NEURON].astype(np.float64)
    assert not np.array_equal(want, model.weights[LAYER][:, NEURON + 1])  # the address matters

    out = tmp_path / "net.xlsx"
    done = subprocess.run([sys.executable, "-m", "digitlens", "export", str(runs_dir / "small"),
                           "--format", "xlsx", "--out", str(out), "--dataset", "mnist-sample",
                           "--neuron", f"{LAYER}:{NEURON}", "--json"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["neuron"] == "1:7"

    wb = workbook(out)
    sheet = wb["Neuron"]
    title = str(sheet["A1"].value)
    assert title.startswith(f"{neuron_name(LAYER, NEURON).capitalize()}, "
                            f"{layer_name(LAYER, model.n_layers)}")
    rows = [r for r in sheet.iter_rows(min_row=5, max_col=3, values_only=True) if r[0]]
    assert [r[0] for r in rows] == [f"{LAYER - 1}:{i}" for i in range(32)]  # its inputs: 0:i
    np.testing.assert_array_equal(np.array([r[2] for r in rows], np.float32),
                                  model.weights[LAYER][:, NEURON])
    ((name_sheet, ref),) = list(wb.defined_names[f"weights_{LAYER}_{NEURON}"].destinations)
    named = [c[0].value for c in wb[name_sheet][ref.replace("$", "")]]
    np.testing.assert_array_equal(np.array(named, np.float32), model.weights[LAYER][:, NEURON])

    d = post(client, "/api/neuron", {"run": "small", "layer": LAYER, "neuron": NEURON})
    assert (d["layer"], d["neuron"], d["kind"]) == (LAYER, NEURON, "hidden")
    np.testing.assert_allclose(d["incoming"], want, rtol=0, atol=1e-4)  # 4 decimals (±5e-5)
    bad = post(client, "/api/neuron", {"run": "small", "layer": 3, "neuron": 0}, 400)
    assert "'layer'" in bad["error"]
