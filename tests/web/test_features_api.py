"""/api/features and /api/features/card on a real server: the atlas of a run's hidden layer as
``digitlens.analysis`` computes it, in JSON and in the packed form, and the atlases refused."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from digitlens.analysis.atlas import atlas_of, decoder_pixels
from digitlens.analysis.sae import SAE
from digitlens.analysis.sae_file import FILE, network_digest, run_atlas, save_features
from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.web.encode import PACKED_TYPE, from_packed

from .helpers import make_atlas

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sae(served_runs: Path, sample: Dataset) -> SAE:
    return make_atlas(served_runs / "small", sample)  # type: ignore[no-any-return]


def test_the_encoder_and_what_the_test_set_says(client: httpx.Client, sae: SAE,
                                                served_runs: Path, sample: Dataset) -> None:
    model = load_model(served_runs / "small")
    runs = client.get("/api/runs").json()["runs"]
    assert {r["name"]: r["feature_layers"] for r in runs} == {"small": [1], "single": []}
    res = client.get("/api/features", params={"run": "small", "layer": 1, "format": "packed"})
    assert res.status_code == 200 and res.headers["content-type"].startswith(PACKED_TYPE)
    d = from_packed(res.content)
    assert d["ok"] and (d["layer"], d["n_hidden"], d["n_features"], d["k"]) == (1, 16, 32, 4)
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):  # float32, bit for bit
        np.testing.assert_array_equal(d[name], getattr(sae, name), err_msg=name)
    want = atlas_of(model, 1, sample.train_images, sample.test_images, sample.test_labels,
                    sae=sae)
    np.testing.assert_array_equal(d["frequency"], want.atlas.frequency.astype(np.float32))
    assert d["l0"] == pytest.approx(want.atlas.l0, abs=5e-4)  # rounded to 3 decimals
    assert d["accuracy_spliced"] == want.atlas.accuracy_spliced
    top = np.asarray(d["top"])
    assert top.shape == (32, 5)
    for j in range(32):  # the strongest test digits of each feature, strongest first
        shown = top[j][top[j] >= 0]
        values = want.codes[shown, j]
        assert np.all(values > 0) and np.all(np.diff(values) <= 0)
        assert len(shown) == min(5, int(np.sum(want.codes[:, j] > 0)))
        if len(shown):
            assert values[-1] >= np.sort(want.codes[:, j])[-len(shown)]
    plain = client.get("/api/features", params={"run": "small", "layer": "1"}).json()
    assert plain["ok"] and np.asarray(plain["W_enc"]).shape == (16, 32)
    np.testing.assert_allclose(plain["W_enc"], sae.W_enc, atol=5e-7)  # 6 decimals

    j = int(np.argmax(want.atlas.frequency))
    c = client.get("/api/features/card", params={"run": "small", "layer": 1,
                                                 "feature": j}).json()
    assert c["ok"] and c["feature"] == j and c["frequency"] == float(want.atlas.frequency[j])
    pixels = decoder_pixels(model, 1, sae, [j])[:, 0]
    np.testing.assert_allclose(c["image"], pixels, atol=5e-7)  # 6 decimals
    assert [t["index"] for t in c["top_test"]] == [i for i in top[j] if i >= 0]
    first = c["top_test"][0]
    assert first["label"] == int(sample.test_labels[first["index"]])
    assert first["image"] == sample.test_images[first["index"]].ravel().tolist()
    assert c["mostly"]["of"] == len(c["top_test"]) and c["mostly"]["count"] >= 1


def test_missing_foreign_and_bad_atlases_are_one_line(client: httpx.Client, sae: SAE,
                                                      served_runs: Path) -> None:
    def refused(path: str, params: dict[str, Any], status: int, needle: str) -> None:
        res = client.get(path, params=params)
        assert res.status_code == status, (params, res.text)
        error = res.json()["error"]
        assert needle in error and "\n" not in error and str(served_runs) not in error, error

    small = served_runs / "small"
    refused("/api/features", {"run": "small", "layer": 0}, 404, "digitlens features")
    refused("/api/features", {"run": "single", "layer": 0}, 400, "no hidden layer")
    refused("/api/features", {"run": "small"}, 400, "layer=0..1")
    refused("/api/features", {"run": "small", "layer": 2}, 400, "'layer' parameter")
    refused("/api/features", {"run": "small", "layer": 1, "format": "xml"}, 400, "format")
    refused("/api/features", {"run": "small", "layer": 1, "x": 1}, 400, "unknown field")
    refused("/api/features/card", {"run": "small", "layer": 1, "feature": 32}, 400,
            "'feature' parameter")
    refused("/api/features", {"run": "../small", "layer": 1}, 400, "'run' parameter")
    # layer 1's file put where layer 0's belongs: another layer's atlas
    run_atlas(small, 0).mkdir(parents=True)
    shutil.copy(run_atlas(small, 1) / FILE, run_atlas(small, 0) / FILE)
    refused("/api/features", {"run": "small", "layer": 0}, 400, "not of layer 0")
    # an atlas of another network (the same sizes, other weights) in layer 1's place
    stranger = MLP.create(load_model(small).sizes, seed=9)
    save_features(sae, run_atlas(small, 1) / FILE, {"layer": 1, "run": "other",
                                                    "network": network_digest(stranger)})
    refused("/api/features", {"run": "small", "layer": 1}, 400, "another network")
    refused("/api/features/card", {"run": "small", "layer": 1, "feature": 0}, 400,
            "another network")
