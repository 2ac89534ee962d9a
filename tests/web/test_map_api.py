"""``GET /api/map`` against a real server: the map is the NumPy PCA of the run's test
activations, and bad requests are one JSON error."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np

from digitlens.analysis.maps import all_layers, fit_pca
from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from support import U32, assert_within, forward_bounds


def test_map_is_the_pca_of_the_test_activations(client: httpx.Client, runs_dir: Path,
                                               sample: Dataset) -> None:
    model = load_model(runs_dir / "small")
    for layer in (0, 1):
        d = client.get("/api/map", params={"run": "small", "layer": layer}).json()
        assert d["ok"] and d["layer"] == layer and d["method"] == "pca"
        h = all_layers(model, sample.test_images)[layer + 1]
        p = fit_pca(h)
        # the server's activations may be summed in another order than these (the forward
        # bound dh), and each side sums its covariance in float32 (n-term sums: ≤ γ_n·trace C
        # each, see test_maps); the answer is rounded to 5 (mean), 6 (components) and 3
        # (points) decimals
        dh = forward_bounds(model, sample.test_images)[1][layer]
        hc = h.astype(np.float64) - p.mean
        n = len(h)
        lam = np.linalg.eigvalsh(hc.T @ hc / (n - 1))[::-1]
        gamma = (n + 2) * U32 / (1 - (n + 2) * U32)
        d_cov = (2 * np.linalg.norm(hc) * np.linalg.norm(dh) + np.linalg.norm(dh) ** 2) / (
            n - 1) + 2 * gamma * lam.sum()
        gaps = np.array([lam[0] - lam[1], min(lam[0] - lam[1], lam[1] - lam[2])])
        turn = 2 * d_cov / gaps  # how far each unit component may move (Davis-Kahan)
        d_mean = dh.mean(axis=0)
        assert_within(d["mean"], p.mean, 5e-6 + d_mean, "mean")
        assert_within(d["components"], p.components, 5e-7 + turn[:, None], "components")
        c_abs = np.abs(p.components)
        reach = np.linalg.norm(hc, axis=1)[:, None]
        assert_within(d["points"], p.project(h), 5e-4 + (dh + d_mean) @ c_abs.T
                      + reach * turn[None, :], "points")
        assert d["labels"] == sample.test_labels.tolist()
        assert 0 < d["separation"] <= 1 and len(d["colours"]) == 10
    default = client.get("/api/map", params={"run": "small"}).json()
    assert default["layer"] == 1


def test_map_errors(client: httpx.Client) -> None:
    r = client.get("/api/map", params={"run": "small", "layer": 2})
    assert r.status_code == 400 and "layer" in r.json()["error"]
    r = client.get("/api/map", params={"run": "single"})
    assert r.status_code == 400 and "no hidden layer" in r.json()["error"]
    r = client.get("/api/map", params={"run": "nope"})
    assert r.status_code == 404 and not r.json()["ok"]
    r = client.get("/api/map", params={"run": "small", "colour": "red"})
    assert r.status_code == 400


def test_near_digits_in_the_layer(client: httpx.Client, runs_dir: Path, sample: Dataset) -> None:
    model = load_model(runs_dir / "small")
    h = all_layers(model, sample.test_images)[1]  # layer 0, the first hidden layer (32)
    q = h[17] + 0.01
    d = client.post("/api/map/near", json={"run": "small", "layer": 0,
                                           "activations": q.tolist(), "k": 4}).json()
    brute = np.argsort(((h - q) ** 2).sum(1), kind="stable")[:4]
    assert d["ok"] and d["indices"][0] == 17 and d["indices"] == brute.tolist()
    assert d["labels"] == sample.test_labels[brute].tolist()
    # 4 decimals, and the server's activations within the forward bound of these
    moved = np.linalg.norm(forward_bounds(model, sample.test_images)[1][0][brute], axis=1)
    assert_within(d["distances"], np.linalg.norm(h[brute] - q, axis=1), 5e-5 + moved,
                  "distances")
    for bad in ({"activations": [0.0] * 5}, {"activations": [0.0] * 31 + ["x"]},
                {"activations": [0.0] * 32, "k": 0}, {"activations": "no"}):
        r = client.post("/api/map/near", json={"run": "small", "layer": 0, **bad})
        assert r.status_code == 400 and not r.json()["ok"], bad
    nan = '{"run": "small", "layer": 0, "activations": [' + ", ".join(["NaN"] * 32) + "]}"
    r = client.post("/api/map/near", content=nan, headers={"content-type": "application/json"})
    assert r.status_code == 400 and not r.json()["ok"]
