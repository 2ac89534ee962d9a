"""/api/circuit and /api/patch on a real server, checked against digitlens.analysis.patching."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from digitlens.analysis.patching import circuit, hidden_means, patch
from digitlens.data.preprocess import preprocess
from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from support import assert_within, forward_bounds

from .helpers import canvas_of, data_url, post

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def small(runs_dir: Path) -> MLP:
    return load_model(runs_dir / "small")


def test_circuit_of_a_drawing(client: httpx.Client, small: MLP, sample: Dataset) -> None:
    canvas = canvas_of(sample.test_images[6])
    res = post(client, "/api/circuit", {"run": "small", "image": data_url(canvas),
                                        "max_nodes": 8})
    x = preprocess(canvas).centred.ravel()
    want = circuit(small, x, hidden_means(small, sample.test_images), max_nodes=8)
    assert (res["target"], res["contrast"]) == (want.target, want.contrast)
    assert res["gap"] == pytest.approx(want.gap, abs=1e-4)
    assert [(n["layer"], n["neuron"]) for n in res["nodes"]] == [(ly, j) for ly, j, _ in
                                                                 want.nodes]
    assert res["restored"] == pytest.approx(want.restored, abs=1e-4)
    assert res["removed"] == pytest.approx(want.removed, abs=1e-4)
    assert all(e["layer"] >= 1 for e in res["edges"])
    aimed = post(client, "/api/circuit", {"run": "small", "test_index": 3, "target": 2,
                                          "contrast": 5})
    assert (aimed["target"], aimed["contrast"]) == (2, 5) and len(aimed["nodes"]) == 30


def test_patch_a_test_digit_into_a_drawing(client: httpx.Client, small: MLP,
                                           sample: Dataset) -> None:
    canvas = canvas_of(sample.test_images[0])
    x = preprocess(canvas).centred.ravel()
    source = sample.test_images[1].astype(np.float32).ravel() / 255
    for layer in (0, 1):
        res = post(client, "/api/patch", {"run": "small", "image": data_url(canvas),
                                          "source_index": 1, "layer": layer})
        want = patch(small, source, x, layer)
        assert res["prediction_after"] == want.prediction_after == want.source_prediction
        np.testing.assert_allclose(res["probabilities_after"], want.probabilities_after,
                                   atol=1e-5)
        assert res["source_label"] == int(sample.test_labels[1])
        assert len(res["source_image"]) == 784
    some = post(client, "/api/patch", {"run": "small", "test_index": 0, "source_index": 1,
                                       "layer": 1, "neurons": [0, 3, 5]})
    want = patch(small, source, sample.test_images[0].astype(np.float32).ravel() / 255, 1,
                 [0, 3, 5])
    assert some["patched"] == [0, 3, 5]
    np.testing.assert_allclose(some["probabilities_after"], want.probabilities_after,
                               atol=1e-5)


BLANK = {"pixels": [0.0] * 784}
INK = {"net_input": [0.0] * 300 + [1.0] * 100 + [0.0] * 384}


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/api/circuit", BLANK, "blank"),
    ("/api/circuit", {**INK, "target": 10}, "'target' parameter"),
    ("/api/circuit", {**INK, "target": "3"}, "'target' parameter must be an int"),
    ("/api/circuit", {**INK, "target": 3, "contrast": 3}, "'contrast' parameter"),
    ("/api/circuit", {**INK, "max_nodes": 0}, "'max_nodes' parameter"),
    ("/api/circuit", {**INK, "max_nodes": 61}, "'max_nodes' parameter"),
    ("/api/circuit", {**INK, "max_nodes": 5.0}, "'max_nodes' parameter must be an int"),
    ("/api/circuit", {**INK, "depth": 2}, "unknown field"),
    ("/api/circuit", {"test_index": 0, **INK}, "exactly one input"),
    ("/api/patch", {**INK, "layer": 0}, "'source_index' parameter"),
    ("/api/patch", {**INK, "source_index": 1}, "'layer' parameter"),
    ("/api/patch", {**INK, "source_index": 1, "layer": 2}, "'layer' parameter"),
    ("/api/patch", {**INK, "source_index": 1, "layer": -1}, "'layer' parameter"),
    ("/api/patch", {**INK, "source_index": 10**9, "layer": 0}, "'source_index' parameter"),
    ("/api/patch", {**INK, "source_index": True, "layer": 0}, "'source_index' parameter"),
    ("/api/patch", {**INK, "source_index": 1, "layer": 0, "neurons": [99]},
     "'neurons' parameter"),
    ("/api/patch", {**INK, "source_index": 1, "layer": 0, "neurons": []},
     "'neurons' parameter"),
    ("/api/patch", {**INK, "source_index": 1, "layer": 0, "neurons": [1, 1]},
     "'neurons' parameter"),
    ("/api/patch", {**INK, "source_index": 1, "layer": 0, "neurons": "1,2"},
     "'neurons' parameter"),
    ("/api/patch", {**INK, "source_index": 1, "layer": 0, "neurons": list(range(10**5))},
     "'neurons' parameter"),
    ("/api/patch", {**BLANK, "source_index": 1, "layer": 0}, "blank"),
    ("/api/patch", {**INK, "run": "nope", "source_index": 1, "layer": 0}, "nope"),
])
def test_bad_requests_are_clear_4xx(client: httpx.Client, path: str, body: dict,
                                    message: str) -> None:
    r = client.post(path, json={"run": "small", **body})
    assert 400 <= r.status_code < 500, (body, r.text)
    assert r.json()["ok"] is False and message in r.json()["error"], (body, r.text)


def test_only_post(client: httpx.Client) -> None:
    assert client.get("/api/circuit").status_code == 405
    assert client.get("/api/patch").status_code == 405


def test_means_for_the_page(client: httpx.Client, small: MLP, sample: Dataset) -> None:
    """``GET /api/runs/NAME/means``: the means the server's circuits ablate with, as numbers
    that read back to the same float64 bits (the page's circuit then matches /api/circuit)."""
    r = client.get("/api/runs/small/means")
    assert r.status_code == 200 and r.json()["ok"] is True
    got = r.json()["means"]
    want = hidden_means(small, sample.test_images)
    assert [len(m) for m in got] == [32, 16]
    # float32 activations on both sides, summed in BLAS's order (thread counts may differ):
    # each row within forward_bounds, so their mean within the mean of the bounds
    bounds = forward_bounds(small, sample.test_images)[1]
    for layer, (mine, ref) in enumerate(zip(got, want, strict=True)):
        assert_within(mine, ref, bounds[layer].mean(axis=0), f"means of layer {layer}")
    again = client.get("/api/runs/small/means").json()["means"]
    assert again == got  # computed once, then the same numbers
    single = client.get("/api/runs/single/means")
    assert single.status_code == 400 and "no hidden layer" in single.json()["error"]
    assert client.get("/api/runs/small/means?layer=0").status_code == 400
    assert client.get("/api/runs/nope/means").status_code == 404
