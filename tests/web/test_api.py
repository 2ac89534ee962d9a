"""The explorer's API against a real server, every number checked against an oracle computed
another way (the engine directly, zeroed weights for knockouts, brute force for top-k).

Tolerances: the API writes probabilities, activations, scores and weights to 4 decimals (half a
last digit, 5e-5) and pixels to 3 (5e-4); on top of that, the server's float32 pass and this
test's may sum in other orders (``forward_bounds``). Accuracies are counts."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from digitlens.analysis.metrics import confusion_matrix, evaluate_model
from digitlens.data.preprocess import preprocess, to_gray
from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from support import assert_within, dense_bound, forward_bounds, sum_order_bound

from .helpers import canvas_of, data_url, post

HALF4 = 5e-5  # half the last digit of the 4 decimals the API writes


@pytest.fixture(scope="module")
def small(runs_dir: Path) -> MLP:
    return load_model(runs_dir / "small")


@pytest.fixture(scope="module")
def single(runs_dir: Path) -> MLP:
    return load_model(runs_dir / "single")


def test_predict_pixels_matches_the_engine(client: httpx.Client, small: MLP,
                                           sample: Dataset) -> None:
    digit = sample.test_images[7]
    pixels = (digit.astype(np.float64) / 255).ravel().tolist()
    d = post(client, "/api/predict", {"run": "small", "pixels": pixels})
    pre = preprocess(to_gray(digit.astype(np.float32) / 255))
    t = small.trace(pre.centred)
    assert d["prediction"] == int(t.prediction[0])
    bounds = forward_bounds(small, pre.centred)[1]
    assert_within(d["probabilities"], t.probabilities[0], HALF4 + bounds[-1][0], "p")
    assert [len(a) for a in d["activations"]] == [32, 16, 10]
    for got, want, bound in zip(d["activations"], t.activations[1:], bounds, strict=True):
        assert_within(got, want[0], HALF4 + bound[0], "activations")
    # 3 decimals (±5e-4); the same float32 preprocessing code, element by element
    np.testing.assert_allclose(d["preprocessing"]["centred"], pre.centred, atol=1e-3)
    np.testing.assert_allclose(d["input"], pre.centred.ravel(), atol=1e-3)
    assert d["preprocessing"]["bbox"] == list(pre.bbox)
    assert d["has_ink"] is True and d["preprocessing"]["mode"] == "centred"


def test_predict_image_and_raw_mode(client: httpx.Client, small: MLP, sample: Dataset) -> None:
    """A small digit drawn in a corner: centred feeds the MNIST-style image, raw the squashed
    canvas, and both match the engine fed the same arrays."""
    canvas = canvas_of(sample.test_images[3], scale=0.35, at=(10, 170))
    gray = to_gray(canvas)
    pre = preprocess(gray)
    for mode, x in (("centred", pre.centred), ("raw", pre.raw28)):
        d = post(client, "/api/predict", {"run": "small", "image": data_url(canvas), "mode": mode})
        np.testing.assert_allclose(d["input"], x.ravel(), atol=1e-3)  # 3 decimals
        assert_within(d["probabilities"], small.trace(x).probabilities[0],
                      HALF4 + forward_bounds(small, x)[1][-1][0], "p")
        assert d["preprocessing"]["mode"] == mode
        assert (d["preprocessing"]["width"], d["preprocessing"]["height"]) == (280, 280)
    com = np.array(d["preprocessing"]["centre_of_mass"])
    assert np.all(np.abs(com - 14) <= 0.5)  # centred like MNIST
    rows, cols = np.indices((28, 28))
    raw = np.array(d["input"]).reshape(28, 28)
    assert (raw * cols).sum() / raw.sum() > 18 and (raw * rows).sum() / raw.sum() < 10


def test_predict_test_index_is_fed_as_is(client: httpx.Client, small: MLP,
                                         sample: Dataset) -> None:
    d = post(client, "/api/predict", {"run": "small", "test_index": 11, "include": []})
    np.testing.assert_allclose(d["input"], sample.test_images[11].ravel() / 255,
                               atol=1e-3)  # 3 decimals
    assert d["prediction"] == int(small.predict(sample.test_images[11:12])[0])
    assert "activations" not in d and "evidence" not in d


def test_blank_drawing_has_no_prediction(client: httpx.Client) -> None:
    d = post(client, "/api/predict", {"run": "small", "pixels": [0] * 784})
    assert d["has_ink"] is False and d["prediction"] is None


def test_single_layer_evidence_is_exact(client: httpx.Client, single: MLP,
                                        sample: Dataset) -> None:
    """S1: for a 784-10 net, input × weights summed plus the bias is the class score."""
    d = post(client, "/api/predict", {"run": "single", "test_index": 5})
    ev = d["evidence"]
    assert ev["method"] == "weights"
    x = sample.test_images[5].ravel() / 255
    contrib = np.array(ev["contributions"])
    # one product each, 4 decimals: ±5e-5 plus a rounding of the product
    np.testing.assert_allclose(contrib, (x[:, None] * single.weights[0]).T, atol=1e-4)
    # each rounded contribution is off by ≤ 5e-5 (the blank pixels' are exact zeros), the
    # rounded score by 5e-5, and the scores' 785-term float32 sums by their order bound
    z_bound = dense_bound(single.as_input(sample.test_images[5]), single.weights[0],
                          single.biases[0])[0]
    slack = HALF4 * (np.count_nonzero(x) + 1) + z_bound
    assert_within(contrib.sum(axis=1) + single.biases[0], ev["scores"], slack, "Σ contributions")
    assert_within(ev["scores"], single.trace(x).zs[0][0], HALF4 + z_bound, "scores")


def test_flow_is_the_strongest_terms(client: httpx.Client, small: MLP, sample: Dataset) -> None:
    d = post(client, "/api/predict", {"run": "small", "test_index": 2})
    t = small.trace(sample.test_images[2])
    bounds = forward_bounds(small, sample.test_images[2])[1]
    for layer, conns in enumerate(d["flow"]):
        a = t.activations[layer][0].astype(np.float64)
        terms = a[:, None] * small.weights[layer]
        # 4 decimals, and the server's activations within the forward bound of these (the
        # pixels are exact); sorting moves no value by more than the largest such error
        a_err = np.zeros_like(a) if layer == 0 else bounds[layer - 1][0]
        err = HALF4 + a_err[:, None] * np.abs(small.weights[layer].astype(np.float64))
        brute = np.sort(np.abs(terms).ravel())[::-1][: len(conns)]
        assert_within(sorted((abs(v) for _, _, v in conns), reverse=True), brute, err.max(),
                      "strongest terms")
        for i, j, v in conns:
            assert abs(v - terms[i, j]) <= err[i, j]


def test_neuron_arithmetic_and_knockout(client: httpx.Client, small: MLP,
                                        sample: Dataset) -> None:
    layer, index = 1, 3
    d = post(client, "/api/neuron", {"run": "small", "layer": layer, "neuron": index,
                                     "test_index": 4})
    t = small.trace(sample.test_images[4])
    a = d["arithmetic"]
    # unrounded; the server's arithmetic (float64 over its float32 pass) against this float32
    # pass: within the forward bound of this neuron
    zb, ab = forward_bounds(small, sample.test_images[4])
    assert abs(a["z"] - float(t.zs[layer][0][index])) <= zb[layer][0, index]
    assert abs(a["value"] - float(t.activations[layer + 1][0][index])) <= ab[layer][0, index]
    assert a["sum"] + a["bias"] == pytest.approx(a["z"], abs=1e-9)  # float64 both sides
    assert a["positive_sum"] + a["negative_sum"] == pytest.approx(a["sum"], abs=1e-9)
    assert a["n_inputs"] == 32
    np.testing.assert_allclose(d["incoming"], small.weights[layer][:, index],
                               atol=1e-4)  # 4 decimals of the weights themselves
    # 4 decimals, and W0·W1 in float32 (32-term sums): 2γ_32·(|W0|·|W1|) ≈ 4e-6·0.3, tiny
    w0, w1 = (np.abs(w.astype(np.float64)) for w in small.weights[:2])
    assert_within(d["composed"], (small.weights[0] @ small.weights[1])[:, index],
                  HALF4 + sum_order_bound(32, w0 @ w1)[:, index], "composed")
    # the test digits that excite it most, by brute force (the server's pass over the test
    # set, maybe in other chunks: within the largest forward bound of this neuron)
    acts = small.trace(sample.test_images).activations[layer + 1][:, index]
    most = forward_bounds(small, sample.test_images)[1][layer][:, index].max()
    assert_within([t["value"] for t in d["top_test"]], sorted(acts)[::-1][:8], most, "top 8")
    # knockout accuracy: the same as zeroing the neuron's outgoing weights
    zeroed = small.copy()
    zeroed.weights[layer + 1][index, :] = 0
    want = float(np.mean(zeroed.predict(sample.test_images) == sample.test_labels))
    assert d["knockout"]["accuracy_without"] == pytest.approx(want)  # counts
    assert d["knockout"]["accuracy_with"] == pytest.approx(
        evaluate_model(small, sample.test_images, sample.test_labels).accuracy)


def test_output_neuron_uses_softmax(client: httpx.Client, small: MLP, sample: Dataset) -> None:
    d = post(client, "/api/neuron", {"run": "small", "layer": 2, "neuron": 7, "test_index": 0})
    assert d["kind"] == "output" and "knockout" not in d
    want = small.trace(sample.test_images[0]).probabilities[0][7]
    bound = forward_bounds(small, sample.test_images[0])[1][-1][0, 7]
    assert abs(d["arithmetic"]["value"] - float(want)) <= bound  # unrounded, two passes


def test_ablate_matches_zeroed_weights(client: httpx.Client, small: MLP, sample: Dataset) -> None:
    knock = {"0": [1, 5, 9, 20], "1": [0, 2]}
    d = post(client, "/api/ablate", {"run": "small", "knockout": knock})
    zeroed = small.copy()
    zeroed.weights[1][[1, 5, 9, 20], :] = 0
    zeroed.weights[2][[0, 2], :] = 0
    want = float(np.mean(zeroed.predict(sample.test_images) == sample.test_labels))
    assert d["accuracy_without"] == pytest.approx(want)  # counts
    assert d["knocked_out"] == 6
    p = post(client, "/api/predict", {"run": "small", "test_index": 9, "knockout": knock,
                                      "include": ["activations"]})
    assert_within(p["probabilities"], zeroed.trace(sample.test_images[9]).probabilities[0],
                  HALF4 + forward_bounds(zeroed, sample.test_images[9])[1][-1][0], "p")
    assert p["activations"][0][5] == 0 and p["activations"][1][2] == 0
    # no "run" (or an empty one): the server's default run, as every other endpoint reads it
    default = client.get("/api/info").json()["default_run"]
    bodies: list[dict] = [{"knockout": {}}, {"run": "", "knockout": {}}]
    for body in bodies:
        assert post(client, "/api/ablate", body)["run"] == default


def test_test_slices_and_confusion(client: httpx.Client, small: MLP, sample: Dataset) -> None:
    pred = small.predict(sample.test_images)
    cm = confusion_matrix(sample.test_labels, pred)
    d = client.get("/api/confusion", params={"run": "small"}).json()
    assert d["confusion_matrix"] == cm.tolist()
    wrong = client.get("/api/test", params={"run": "small", "misclassified": "true",
                                            "limit": 200}).json()
    assert wrong["total"] == int((pred != sample.test_labels).sum())
    assert all(x["label"] != x["prediction"] for x in wrong["digits"])
    conf = [x["confidence"] for x in wrong["digits"]]
    assert conf == sorted(conf, reverse=True)
    i, j = np.unravel_index(np.argmax(cm - np.diag(np.diag(cm))), cm.shape)
    cell = client.get("/api/test", params={"run": "small", "label": int(i),
                                           "predicted": int(j)}).json()
    assert cell["total"] == cm[i, j]
    sevens = client.get("/api/test", params={"run": "small", "label": 7, "limit": 5}).json()
    assert sevens["total"] == int((sample.test_labels == 7).sum())
    first = sevens["digits"][0]
    assert first["image"] == sample.test_images[first["index"]].ravel().tolist()


def test_runs_and_model_download(client: httpx.Client, runs_dir: Path) -> None:
    d = client.get("/api/runs").json()
    names = {r["name"]: r for r in d["runs"]}
    assert {"small", "single"} <= set(names)
    assert names["small"]["sizes"] == [784, 32, 16, 10]
    assert names["small"]["epochs"] == 5 and len(names["small"]["history"]) == 5
    r = client.get("/api/runs/small/model.npz")
    assert r.status_code == 200
    assert r.content == (runs_dir / "small" / "model.npz").read_bytes()


def test_page_and_assets_are_served(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'data-testid="draw"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    js = client.get("/js/main.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
