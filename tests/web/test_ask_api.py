"""/api/nudge, /api/attribute and /api/dream on a real server, checked against the engine."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from digitlens.data.preprocess import preprocess
from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from support import forward_bounds

from .helpers import canvas_of, data_url, post

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def small(runs_dir: Path) -> MLP:
    return load_model(runs_dir / "small")


def test_nudge_a_drawing_and_feed_it_back(client: httpx.Client, small: MLP,
                                          sample: Dataset) -> None:
    canvas = canvas_of(sample.test_images[6])
    res = post(client, "/api/nudge", {"run": "small", "image": data_url(canvas)})
    x = preprocess(canvas).centred.ravel()
    np.testing.assert_allclose(res["input"], x, atol=1e-4)  # 5 decimals, same preprocessing
    adv = np.array(res["adversarial"])
    assert int(small.trace(adv).prediction[0]) == res["to"] != res["from"]
    # l2 unrounded; adv to 5 decimals and x float32: ‖Δ‖ ≤ √784·(5e-6 + 6e-8) ≈ 1.4e-4
    assert res["l2"] == pytest.approx(np.linalg.norm(adv - x), abs=1e-3)
    # the page keeps the nudged digit and sends it back as it is: the live answer agrees
    back = post(client, "/api/predict", {"run": "small", "net_input": res["adversarial"],
                                         "include": []})
    assert back["prediction"] == res["to"]
    aimed = post(client, "/api/nudge", {"run": "small", "test_index": 3, "target": 2,
                                        "method": "deepfool"})
    assert aimed["to"] == 2


def test_attribute_is_complete(client: httpx.Client, small: MLP, sample: Dataset) -> None:
    res = post(client, "/api/attribute", {"run": "small", "test_index": 5, "steps": 64})
    assert res["method"] == "integrated-gradients" and len(res["attributions"]) == 784
    assert res["completeness_error"] <= 0.01
    assert res["target"] == int(small.trace(sample.test_images[5]).prediction[0])
    gi = post(client, "/api/attribute", {"run": "small", "test_index": 5, "target": 1,
                                         "method": "gradient-input", "baseline": "blur"})
    assert gi["target"] == 1 and gi["baseline"] == "blur"
    every = post(client, "/api/attribute", {"run": "small", "test_index": 5, "target": "all"})
    contrib = np.array(every["contributions"])
    assert contrib.shape == (10, 784) and every["prediction"] == res["target"]
    # the same path_gradients call on both sides (same shapes, same process), rounded to 6
    # decimals: at most one last digit apart
    np.testing.assert_allclose(contrib[res["target"]], res["attributions"], atol=1e-5)
    assert every["completeness_error"] == pytest.approx(res["completeness_error"], abs=1e-4)


def test_dream_beats_the_training_digits(client: httpx.Client, small: MLP) -> None:
    res = post(client, "/api/dream", {"run": "small", "layer": 2, "neuron": 4})
    assert res["kind"] == "output" and len(res["image"]) == 784
    assert res["activation"] > res["max_train_activation"]
    image = np.array(res["image"])
    z = small.trace(image).zs[-1][0, 4]
    # the image is rounded to 5 decimals (±5e-6 a pixel), and two float32 passes
    bound = forward_bounds(small, image, x_error=5e-6)[0][-1][0, 4]
    assert abs(res["activation"] - float(z)) <= bound
    again = post(client, "/api/dream", {"run": "small", "layer": 2, "neuron": 4})
    assert again["image"] == res["image"]
    hidden = post(client, "/api/dream", {"run": "small", "layer": 0, "neuron": 9, "seed": 3})
    assert hidden["kind"] == "hidden" and hidden["seed"] == 3


def test_bad_questions_are_clear_4xx(client: httpx.Client, small: MLP,
                                     sample: Dataset) -> None:
    pred = int(small.trace(sample.test_images[0]).prediction[0])
    cases = [
        ("/api/nudge", {"run": "small", "test_index": 0, "target": pred}, "other than"),
        ("/api/nudge", {"run": "small", "test_index": 0, "target": 10}, "'target'"),
        ("/api/nudge", {"run": "small", "pixels": [0] * 784}, "blank"),
        ("/api/nudge", {"run": "small", "test_index": 0, "method": "pgd"}, "'method'"),
        ("/api/nudge", {"run": "small", "test_index": 0, "eps": 1}, "unknown field"),
        ("/api/attribute", {"run": "small", "test_index": 0, "steps": 0}, "'steps'"),
        ("/api/attribute", {"run": "small", "test_index": 0, "baseline": "x"}, "'baseline'"),
        ("/api/dream", {"run": "small", "layer": 3, "neuron": 0}, "'layer'"),
        ("/api/dream", {"run": "small", "layer": 0, "neuron": 32}, "'neuron'"),
        ("/api/dream", {"run": "nope", "layer": 0, "neuron": 0}, "nope"),
        ("/api/predict", {"run": "small", "net_input": [2] * 784}, "'net_input'"),
        ("/api/predict", {"run": "small", "net_input": [0.5] * 100}, "'net_input'"),
    ]
    for path, body, msg in cases:
        r = client.post(path, json=body)
        assert 400 <= r.status_code < 500, (path, body, r.text)
        assert r.json()["ok"] is False and msg in r.json()["error"], (body, r.text)
    assert client.get("/api/nudge").status_code == 405
