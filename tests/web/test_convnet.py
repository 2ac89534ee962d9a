"""The page's convolutional engine (static/js/convnet.js) against the Python engine, and the
server's side of a convolutional run: listed, its network served packed, every view that reads
fully connected networks only refusing it in one line.

convnet.js runs in Node (tests/web/convnet_runner.mjs) on the network exactly as the server
packs it, over real test digits of the embedded sample; its float64 pass is compared with
``digitlens.nn.cnn.forward`` in float64, its page pass (float32) by prediction."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.export.onnx_cnn import cnn_to_onnx
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN, Conv
from digitlens.web.app import create_app
from digitlens.web.convnets import network
from digitlens.web.encode import to_packed
from digitlens.web.runs import Registry
from support import require
from web.conftest import ThreadServer

pytestmark = pytest.mark.e2e
JS = Path(__file__).parents[2] / "src/digitlens/web/static/js"
RUNNER = Path(__file__).with_name("convnet_runner.mjs")
N = 60  # test digits


def run_page_engine(tmp: Path, model: CNN, x: np.ndarray, job: dict[str, Any]) -> dict[str, Any]:
    (tmp / "net.bin").write_bytes(to_packed(network(model, list(model.class_names))))
    (tmp / "job.json").write_text(json.dumps({
        **job, "inputs": base64.b64encode(x.astype(np.float32).tobytes()).decode()}))
    subprocess.run([require("node"), str(RUNNER), str(JS), str(tmp / "net.bin"),
                    str(tmp / "job.json"), str(tmp / "out.json")], check=True, timeout=600)
    return dict(json.loads((tmp / "out.json").read_text()))


def f64(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), np.float64)


def page_order(a: np.ndarray) -> np.ndarray:
    """One image's layer output as the page keeps it: maps (h, w, c) as (c, h, w), flat."""
    return (a.transpose(2, 0, 1) if a.ndim == 3 else a).ravel()


def knocked(model: CNN, layer: int, channel: int) -> CNN:
    """The same network with a ReLU convolution's channel knocked out, as Python computes it:
    kernel and bias zero, so relu(0) = 0 everywhere in that map."""
    spec = model.layers[layer]
    assert isinstance(spec, Conv) and spec.activation == "relu"
    out = CNN(model.input_shape, model.layers, model.cost, model.params.copy(), model.meta)
    p = sum(not isinstance(lay, K.Pool) for lay in model.layers[:layer])
    out.weights[p][channel] = 0
    out.biases[p][channel] = 0
    return out


@pytest.fixture(scope="module")
def lenet(lenet_model: CNN) -> CNN:
    return lenet_model


@pytest.mark.parametrize("knockout", [None, (2, 7)])
def test_forward_matches_python(lenet: CNN, sample: Dataset, tmp_path: Path,
                                knockout: tuple[int, int] | None) -> None:
    x = (sample.test_images[:N].reshape(N, -1) / 255.0).astype(np.float32)  # as the page reads
    oracle = knocked(lenet, *knockout) if knockout else lenet
    job = {"units": [], "knockout": {str(knockout[0]): [knockout[1]]} if knockout else {}}
    out = run_page_engine(tmp_path, lenet, x, job)
    ref = K.forward(oracle, oracle.as_input(x, np.float64), np.float64)  # float64 both sides
    worst = 0.0
    for n in range(N):
        for i, mine in enumerate(out["f64"][n]):
            want = page_order(ref.outputs[i + 1][n])
            # float64 both sides; only the order of each sum differs (≤ 400 terms):
            # |error| ≤ 400·2⁻⁵³·Σ|terms|, far below 1e-9 for these magnitudes
            np.testing.assert_allclose(f64(mine), want, rtol=1e-9, atol=1e-12)
            worst = max(worst, float(np.abs(f64(mine) - want).max()))
    # the page's own pass stores float32: it must give Python's answer wherever the top two
    # classes are further apart than float32 rounding through five layers could move them
    probs = ref.output
    top2 = np.sort(probs, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-3
    assert np.array_equal(np.array(out["preds32"])[clear], probs.argmax(axis=1)[clear])
    p32 = np.array([np.frombuffer(base64.b64decode(p), np.float64) for p in out["f32"]])
    print(f"\nconvnet.js vs Python float64: worst |Δ| {worst:.1e}; float32 page pass: "
          f"worst |Δp| {np.abs(p32 - probs).max():.1e}")


def test_strides_padding_average_pooling_and_other_nonlinearities(sample: Dataset,
                                                                 tmp_path: Path) -> None:
    """What LeNet-5 does not use: a strided, padded tanh convolution, average-pooling, a
    sigmoid convolution, then a sigmoid output (untrained: He-initialised, seed 3)."""
    model = CNN.create((1, 28, 28), (Conv(4, 3, stride=2, pad=1, activation="tanh"),
                                     K.Pool(2, "avg"), Conv(3, 2, activation="sigmoid"),
                                     K.Dense(10, "sigmoid")), seed=3)
    x = (sample.test_images[:20].reshape(20, -1) / 255.0).astype(np.float32)
    out = run_page_engine(tmp_path, model, x, {"units": [[0, 1, 13, 0], [1, 3, 2, 5]],
                                               "knockout": {}})
    ref = K.forward(model, model.as_input(x, np.float64), np.float64)  # float64 both sides
    for n in range(20):
        for i, mine in enumerate(out["f64"][n]):
            # only the order of each sum differs (≤ 108 terms)
            np.testing.assert_allclose(f64(mine), page_order(ref.outputs[i + 1][n]),
                                       rtol=1e-12, atol=1e-14)
    conv, pool = out["units"]
    assert conv["value"] == pytest.approx(ref.outputs[1][0, 13, 0, 1], abs=1e-14)
    assert conv["field"] == {"top": 25, "left": 0, "bottom": 27, "right": 1}  # 2·13−1 .. +2
    assert pool["result"] == pytest.approx(ref.outputs[1][0, 4:6, 10:12, 3].mean(), abs=1e-14)


def test_units_and_receptive_fields(lenet: CNN, sample: Dataset, tmp_path: Path) -> None:
    x = (sample.test_images[:1].reshape(1, -1) / 255.0).astype(np.float32)
    units = [[0, 3, 14, 9], [0, 0, 0, 0], [1, 2, 5, 6], [2, 11, 4, 3], [3, 15, 2, 1]]
    out = run_page_engine(tmp_path, lenet, x, {"units": units, "knockout": {}})
    ref = K.forward(lenet, lenet.as_input(x, np.float64), np.float64)
    for (layer, ch, r, c), u in zip(units, out["units"], strict=True):
        spec = lenet.layers[layer]
        a_in = ref.outputs[layer][0]                                    # (h, w, c) float64
        assert u["value"] == pytest.approx(ref.outputs[layer + 1][0, r, c, ch], abs=1e-12)
        if isinstance(spec, Conv):
            padded = np.pad(a_in, ((spec.pad, spec.pad), (spec.pad, spec.pad), (0, 0)))
            y0, x0 = r * spec.stride, c * spec.stride
            patch = padded[y0:y0 + spec.k, x0:x0 + spec.k]              # (k, k, c_in)
            p = sum(not isinstance(lay, K.Pool) for lay in lenet.layers[:layer])
            kern = lenet.weights[p][ch].astype(np.float64)              # (c_in, k, k)
            terms = np.array([[t[3], t[4]] for t in u["terms"]])
            # the page lists channel, kernel row, kernel column; the inputs are the float64 maps
            # below (sum order apart, as above), the weights the float32 kernels exactly
            np.testing.assert_allclose(terms[:, 0], patch.transpose(2, 0, 1).ravel(), atol=1e-12)
            assert np.array_equal(terms[:, 1], kern.ravel())
            assert u["bias"] == float(lenet.biases[p][ch])
            assert u["z"] == pytest.approx(float((patch.transpose(2, 0, 1) * kern).sum())
                                           + float(lenet.biases[p][ch]), abs=1e-12)
            assert u["result"] == pytest.approx(u["value"], abs=1e-12)
        else:
            assert isinstance(spec, K.Pool)
            tile = a_in[r * spec.k:(r + 1) * spec.k, c * spec.k:(c + 1) * spec.k, ch]
            np.testing.assert_allclose([t[3] for t in u["terms"]], tile.ravel(), atol=1e-12)
            assert u["result"] == u["value"]
    # receptive fields on the 28×28 input, by hand: conv1 (5, pad 2), pool 2, conv2 5, pool 2
    assert out["units"][0]["field"] == {"top": 12, "left": 7, "bottom": 16, "right": 11}
    assert out["units"][1]["field"] == {"top": 0, "left": 0, "bottom": 2, "right": 2}
    assert out["units"][3]["field"] == {"top": 6, "left": 4, "bottom": 19, "right": 17}
    assert out["units"][4]["field"] == {"top": 6, "left": 2, "bottom": 21, "right": 17}


@pytest.fixture(scope="module")
def cnn_client(cnn_runs: Path) -> Any:
    with ThreadServer(create_app(Registry(cnn_runs), allow_training=False)) as url, \
            httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_the_server_lists_and_sends_a_convolutional_run(cnn_client: httpx.Client,
                                                        lenet: CNN) -> None:
    runs = {r["name"]: r for r in cnn_client.get("/api/runs").json()["runs"]}
    assert runs["lenet"]["usable"] and runs["lenet"]["kind"] == "cnn"
    assert runs["lenet"]["shapes"][1] == [6, 28, 28] and runs["lenet"]["input_shape"] == [28, 28]
    assert "kind" not in runs["small"]  # an MLP's summary as it was
    res = cnn_client.get("/api/runs/lenet/network")
    assert res.status_code == 200 and res.content[:4] == b"DLP1"
    assert cnn_client.get("/api/runs/lenet").json()["run"]["kind"] == "cnn"
    assert cnn_client.get("/api/runs/lenet/model.npz").status_code == 200
    onnx = cnn_client.get("/api/runs/lenet/export/onnx")  # digitlens export's file
    assert onnx.status_code == 200 and onnx.content == cnn_to_onnx(lenet).SerializeToString()
    small = cnn_client.get("/api/runs/small/network")
    assert small.status_code == 400 and "export/json" in small.json()["error"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/predict", {"run": "lenet", "test_index": 0}),
    ("POST", "/api/neuron", {"run": "lenet", "layer": 0, "neuron": 0}),
    ("GET", "/api/test?run=lenet", None),
    ("GET", "/api/confusion?run=lenet", None),
    ("GET", "/api/map?run=lenet&layer=0", None),
    ("GET", "/api/runs/lenet/export/json", None),
    ("GET", "/api/runs/lenet/means", None),
])
def test_views_for_dense_networks_refuse_it_in_one_line(cnn_client: httpx.Client, method: str,
                                                        path: str, body: Any) -> None:
    res = cnn_client.request(method, path, json=body)
    assert res.status_code == 400, res.text
    error = res.json()["error"]
    assert "'lenet' is a convolutional network" in error and "\n" not in error
    assert "fully connected networks" in error


def test_knocking_out_channels_is_measured_on_every_test_digit(cnn_client: httpx.Client,
                                                               lenet: CNN, sample: Dataset) -> None:
    """POST /api/ablate of a convolutional run: the test accuracy with whole channels off is
    Python's with the channel's kernel and bias zeroed (a ReLU map of 0), and with a pooled
    channel's maps zeroed; a channel that is not there is one clear error."""
    from digitlens.analysis.metrics import evaluate_model
    res = cnn_client.post("/api/ablate", json={"run": "lenet", "knockout": {"0": [1, 4]}})
    assert res.status_code == 200, res.text
    d = res.json()
    x, y = sample.test_images, sample.test_labels
    zeroed = knocked(knocked(lenet, 0, 1), 0, 4)
    assert d["accuracy"] == evaluate_model(lenet, x, y).accuracy
    assert d["accuracy_without"] == evaluate_model(zeroed, x, y).accuracy
    assert d["knocked_out"] == 2 and d["knockout"] == {"0": [1, 4]} and d["n_test"] == len(y)
    pooled = cnn_client.post("/api/ablate", json={"run": "lenet", "knockout": {"3": [0, 5]}})
    # by hand: the second pooling's maps with channels 0 and 5 zeroed, through the dense layers
    out = K.forward(lenet, lenet.as_input(x)).outputs[4].copy()
    out[..., [0, 5]] = 0
    for layer, w, b in zip(lenet.layers[4:], lenet.weights[2:], lenet.biases[2:], strict=True):
        out = K.flatten(out) @ w + b
        out = np.maximum(out, 0) if layer.activation == "relu" else out  # type: ignore[union-attr]
    assert pooled.json()["accuracy_without"] == pytest.approx(np.mean(out.argmax(axis=1) == y))
    bad = cnn_client.post("/api/ablate", json={"run": "lenet", "knockout": {"0": [6]}})
    assert bad.status_code == 400 and "channels of layer 0 in 0..5" in bad.json()["error"]
    dense = cnn_client.post("/api/ablate", json={"run": "lenet", "knockout": {"4": [0]}})
    assert dense.status_code == 400 and "layers of feature maps" in dense.json()["error"]


def test_a_nudge_and_an_attribution_of_a_cnn_from_the_server(cnn_client: httpx.Client,
                                                             lenet: CNN, sample: Dataset) -> None:
    """POST /api/nudge and /api/attribute read a convolutional run's class scores: the nudged
    input, fed back to Python's network, says what the answer says; integrated gradients add
    up to the score's change (every class's too, the evidence panel's switch)."""
    res = cnn_client.post("/api/nudge", json={"run": "lenet", "test_index": 0, "target": 3})
    assert res.status_code == 200, res.text
    d = res.json()
    adv = np.array(d["adversarial"], np.float32)
    assert d["flipped"] and d["to"] == 3 == int(K.predict_proba(lenet, adv[None]).argmax())
    a = cnn_client.post("/api/attribute", json={"run": "lenet", "test_index": 0}).json()
    assert a["ok"] and a["completeness_error"] < 0.02 and len(a["attributions"]) == 784
    every = cnn_client.post("/api/attribute", json={"run": "lenet", "test_index": 0,
                                                    "target": "all"}).json()
    assert every["ok"] and max(every["completeness_errors"]) < 0.05
    x = sample.test_images[0].astype(np.float64).ravel() / 255
    scores = K.forward(lenet, lenet.as_input(x[None], np.float64), np.float64).scores
    assert scores is not None and every["scores"] == pytest.approx(scores[0], abs=1e-4)
    dream = cnn_client.post("/api/dream", json={"run": "lenet", "layer": 0, "neuron": 0})
    assert dream.status_code == 400 and "convolutional" in dream.json()["error"]

