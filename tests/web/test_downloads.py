"""JSON, ONNX and Excel downloads from a real read-only server, each file opened by a real
consumer: digitlens's own JSON import, onnxruntime, openpyxl."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.export.json_format import import_json_bytes
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.web.app import create_app
from digitlens.web.runs import Registry
from support import assert_within, forward_bounds

from .conftest import ThreadServer
from .helpers import load_xlsx, named

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def app(served_runs: Path) -> Any:
    """Read-only, as on a classroom server: downloads write nothing, so they stay allowed."""
    return create_app(Registry(served_runs), allow_training=False,
                      allowed_hosts=["127.0.0.1", "localhost"])


@pytest.fixture(scope="module")
def http(app: Any) -> Iterator[httpx.Client]:
    with ThreadServer(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def download(http: httpx.Client, path: str, media_type: str, filename: str) -> bytes:
    r = http.get(path)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].split(";")[0] == media_type
    assert r.headers["content-disposition"] == f'attachment; filename="{filename}"'
    assert r.headers["x-content-type-options"] == "nosniff"
    return r.content


@pytest.mark.parametrize("run", ["small", "single"])
def test_json_imports_back_bit_exact(http: httpx.Client, served_runs: Path, run: str) -> None:
    model = load_model(served_runs / run)
    got = import_json_bytes(download(http, f"/api/runs/{run}/export/json",
                                     "application/json", f"{run}.json"))
    assert got.sizes == model.sizes and got.activations == model.activations
    assert got.cost == model.cost
    assert got.params.dtype == np.float32
    assert np.array_equal(got.params.view(np.uint32), model.params.view(np.uint32))


@pytest.mark.parametrize("run", ["small", "single"])
def test_onnx_runs_in_onnxruntime(http: httpx.Client, served_runs: Path, sample: Dataset,
                                  run: str) -> None:
    import onnxruntime as ort

    model = load_model(served_runs / run)
    data = download(http, f"/api/runs/{run}/export/onnx", "application/octet-stream",
                    f"{run}.onnx")
    runtime = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = (sample.test_images[:64].reshape(64, 784) / 255).astype(np.float32)
    output, probs = runtime.run(["output", "probabilities"], {"pixels": x})
    want = model.trace(x)
    # ONNX Runtime's float32 MatMul and NumPy's BLAS sum in their own orders (both chosen by
    # the CPU): within the forward bound of each other
    bound = forward_bounds(model, x)[1][-1]
    assert_within(output, want.output, bound, "ONNX output")
    assert_within(probs, want.probabilities, bound, "ONNX probabilities")
    top2 = np.sort(want.probabilities, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 2 * bound.max(axis=1)  # not within the bound of a tie
    assert np.array_equal(probs.argmax(axis=1)[decided], want.prediction[decided])


def test_xlsx_shows_the_asked_digit_and_its_prediction(http: httpx.Client, served_runs: Path,
                                                       sample: Dataset) -> None:
    model: MLP = load_model(served_runs / "small")
    wb = load_xlsx(download(http, "/api/runs/small/export/xlsx?digit=4", XLSX,
                            "small-digit-4.xlsx"))
    assert {"input_pixels", "predicted_digit"} <= set(wb.defined_names)
    index = int(np.flatnonzero(sample.test_labels == 4)[0])
    image = sample.test_images[index] / 255.0
    np.testing.assert_allclose(named(wb, "input_pixels"), image, atol=1e-12)  # float64 both
    assert named(wb, "predicted_digit")[0, 0] == model.predict(image)[0]
    # without a digit: the first test image, as `digitlens export` does
    first = load_xlsx(download(http, "/api/runs/single/export/xlsx", XLSX, "single.xlsx"))
    np.testing.assert_allclose(named(first, "input_pixels"), sample.test_images[0] / 255.0,
                               atol=1e-12)  # float64 both sides


def test_files_are_cached_per_run_format_and_digit(http: httpx.Client, app: Any) -> None:
    downloads = app.state.api.downloads
    downloads.flights.forget()  # whatever earlier tests fetched
    builds = downloads.builds
    first = http.get("/api/runs/small/export/onnx").content
    assert downloads.builds == builds + 1
    assert http.get("/api/runs/small/export/onnx").content == first
    assert downloads.builds == builds + 1  # served from the cache
    assert http.get("/api/runs/single/export/onnx").content != first
    assert downloads.builds == builds + 2  # another run is another file


def test_server_answers_while_a_workbook_is_built(http: httpx.Client, app: Any) -> None:
    """The workbook is built in a worker thread: a request arriving meanwhile is answered
    before the workbook is done (built on the event loop, it would have to wait)."""
    downloads = app.state.api.downloads
    done: dict[str, float] = {}

    def fetch_workbook() -> None:
        assert http.get("/api/runs/small/export/xlsx?digit=7").status_code == 200
        done["xlsx"] = time.monotonic()

    worker = threading.Thread(target=fetch_workbook)
    worker.start()
    deadline = time.monotonic() + 10
    while not downloads.building and "xlsx" not in done:
        assert time.monotonic() < deadline, "the workbook build never started"
        time.sleep(0.002)
    r = http.get("/api/info")
    done["info"] = time.monotonic()
    worker.join(timeout=30)
    assert r.status_code == 200 and r.json()["training"] is False
    assert done["info"] < done["xlsx"]


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/api/runs/small/export/pdf", 400, "'format' parameter must be one of json, onnx, xlsx"),
    ("/api/runs/small/export/npz", 400, "Got 'npz' instead"),
    ("/api/runs/nosuch/export/json", 404, "unknown run 'nosuch'"),
    ("/api/runs/a..b/export/onnx", 400, "'run' parameter must be a name"),
    ("/api/runs/%2E%2E/export/json", 400, "'run' parameter must be a name"),
    ("/api/runs/..%2Fsmall/export/json", 404, "no such page"),
    ("/api/runs/small/export/xlsx?digit=10", 400, "'digit' parameter must be an int in 0..9"),
    ("/api/runs/small/export/xlsx?digit=-1", 400, "Got -1 instead"),
    ("/api/runs/small/export/xlsx?digit=three", 400, "Got 'three' instead"),
    ("/api/runs/small/export/json?digit=3", 400, "only applies to the xlsx export"),
    ("/api/runs/small/export/xlsx?neuron=1", 400, "unknown field 'neuron'"),
])
def test_bad_requests_are_json_errors(http: httpx.Client, path: str, status: int,
                                      message: str) -> None:
    r = http.get(path)
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["ok"] is False and message in body["error"], body


def test_only_get(http: httpx.Client) -> None:
    r = http.post("/api/runs/small/export/json")
    assert r.status_code == 405 and r.json()["ok"] is False
