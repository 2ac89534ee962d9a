"""The gap split over the last hidden layer's features, on a real trained net and an atlas
trained on it: the terms add up to the gap; each feature's term is what the network's own
forward pass loses when that feature is taken out of the rebuilt layer; what the atlas misses
is the full network's gap minus the rebuilt one's; and ``digitlens circuit`` reports it from
the run folder's atlas or ``--atlas``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitlens.analysis.atlas import atlas_of
from digitlens.analysis.feature_gap import FeatureGap, gap_in_features, last_layer_atlas
from digitlens.analysis.sae import SAE
from digitlens.analysis.sae_file import FILE, network_digest, run_atlas, save_features
from digitlens.data.sources import Dataset
from digitlens.errors import ModelError
from digitlens.nn.backprop import forward
from digitlens.nn.mlp import MLP


def atlas(model: MLP, sample: Dataset, layer: int) -> SAE:
    return atlas_of(model, layer, sample.train_images, sample.test_images, sample.test_labels,
                    n_features=32, k=4, epochs=2).sae


@pytest.fixture(scope="module")
def last(trained_model: MLP, sample: Dataset) -> SAE:
    """An atlas of layer 1, the small net's last hidden layer (16 neurons -> 32 features)."""
    return atlas(trained_model, sample, 1)


def scores(model: MLP, hidden: np.ndarray) -> np.ndarray:
    """The network's own output scores (before the softmax) from a last hidden layer, in
    float64."""
    return forward(model, hidden[None], start=model.n_layers - 1, dtype=np.float64).zs[-1][0]


def test_terms_add_up_to_the_gap_and_are_the_networks(trained_model: MLP, sample: Dataset,
                                                      last: SAE) -> None:
    model = trained_model
    for i in range(12):
        x = model.as_input(sample.test_images[i])[0]
        order = np.argsort(-model.trace(x[None]).zs[-1][0])
        for t, c in ((int(order[0]), int(order[1])), (int(order[2]), int(order[0]))):
            g = gap_in_features(model, last, x, t, c)
            a = model.trace(x[None]).activations[-2][0].astype(np.float64)
            f = last.encode(a.astype(np.float32)[None])[0].astype(np.float64)
            rebuilt = f @ last.W_dec.astype(np.float64) + last.b_dec
            z_full, z_rebuilt = scores(model, a), scores(model, rebuilt)
            scale = abs(z_full).max() + 1
            assert abs(g.gap - (z_full[t] - z_full[c])) <= 1e-12 * scale * 50
            total = g.features_sum + g.decoder_bias + g.missed + g.bias_difference
            assert abs(total - g.gap) <= 1e-12 * scale * 50
            # what the atlas misses: the full network's gap minus the rebuilt layer's
            assert abs(g.missed - ((z_full[t] - z_full[c]) - (z_rebuilt[t] - z_rebuilt[c]))) \
                <= 1e-12 * scale * 50
            assert [j for j, _, _ in g.terms] == sorted(np.flatnonzero(f), key=lambda j: (
                -next(e for jj, _, e in g.terms if jj == j), j))
            assert len(g.terms) <= last.k
            for j, value, effect in g.terms:  # the feature taken out of the rebuilt layer
                assert value == pytest.approx(f[j], abs=1e-7)
                without = rebuilt - f[j] * last.W_dec[j].astype(np.float64)
                z = scores(model, without)
                drop = (z_rebuilt[t] - z_rebuilt[c]) - (z[t] - z[c])
                assert abs(effect - drop) <= 1e-12 * scale * 50
            # the atlas's bias: what the rebuilt layer's gap keeps with no feature firing
            z0 = scores(model, last.b_dec.astype(np.float64))
            assert abs(g.decoder_bias + g.bias_difference - (z0[t] - z0[c])) \
                <= 1e-12 * scale * 50


def test_only_the_last_hidden_layer_and_only_this_network(trained_run: Path,
                                                          trained_model: MLP, sample: Dataset,
                                                          last: SAE, tmp_path: Path) -> None:
    x = trained_model.as_input(sample.test_images[0])[0]
    first = atlas(trained_model, sample, 0)
    with pytest.raises(ModelError, match="not of the last hidden layer's 16 neurons"):
        gap_in_features(trained_model, first, x, 1, 2)
    meta = {"run": "small", "network": network_digest(trained_model)}
    save_features(first, tmp_path / "first.npz", {**meta, "layer": 0})
    with pytest.raises(ModelError, match="only at the last hidden layer"):
        last_layer_atlas(trained_model, tmp_path / "first.npz")
    save_features(last, tmp_path / "other.npz", {**meta, "layer": 1, "network": "0" * 16})
    with pytest.raises(ModelError, match="another network"):
        last_layer_atlas(trained_model, tmp_path / "other.npz")
    with pytest.raises(ModelError, match="cannot read"):
        last_layer_atlas(trained_model, tmp_path / "missing.npz")
    assert last_layer_atlas(trained_model, None, trained_run) == (None, None)  # none there
    assert last_layer_atlas(trained_model) == (None, None)
    # the run folder's own atlas, stale: left out with a note (the circuit does not need it)
    folder = tmp_path / "run"
    run_atlas(folder, 1).mkdir(parents=True)
    shutil.copy(tmp_path / "other.npz", run_atlas(folder, 1) / FILE)
    sae, note = last_layer_atlas(trained_model, None, folder)
    assert sae is None and note is not None and "another network" in note \
        and "digitlens features RUN --layer 1" in note
    save_features(last, run_atlas(folder, 1) / FILE, {**meta, "layer": 1})
    sae, note = last_layer_atlas(trained_model, None, folder)
    assert note is None and sae is not None and np.array_equal(sae.W_dec, last.W_dec)


def same_split(got: dict, want: FeatureGap, tol: float = 1e-5) -> None:
    """Two processes' splits of one gap: float32 passes there may round otherwise, so the
    features are matched by number and the effects within ``tol`` (their order may differ
    only where two effects are that close)."""
    assert sorted(t["feature"] for t in got["terms"]) == sorted(j for j, _, _ in want.terms)
    effects = {j: e for j, _, e in want.terms}
    for t in got["terms"]:
        assert t["effect"] == pytest.approx(effects[t["feature"]], abs=tol)
    mine = [t["effect"] for t in got["terms"]]
    assert all(a >= b - tol for a, b in zip(mine, mine[1:], strict=False))
    for key in ("features_sum", "decoder_bias", "missed", "bias_difference", "gap"):
        assert got[key] == pytest.approx(getattr(want, key), abs=tol)


@pytest.mark.e2e
def test_cli_circuit_splits_the_gap_over_the_runs_atlas(trained_run: Path, trained_model: MLP,
                                                        sample: Dataset, last: SAE,
                                                        tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "digitlens", "circuit", *args,
                               "--test-index", "7", "--dataset", "mnist-sample"],
                              capture_output=True, text=True, timeout=300, check=False,
                              env={**os.environ, "DIGITLENS_THREADS": "1"})
    folder = tmp_path / "small"
    shutil.copytree(trained_run, folder)
    out = run(str(folder), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["features"] is None
    meta = {"run": "small", "network": network_digest(trained_model)}
    run_atlas(folder, 1).mkdir(parents=True)
    save_features(last, run_atlas(folder, 1) / FILE, {**meta, "layer": 1})
    out = run(str(folder), "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout.strip().splitlines()[-1])
    same_split(d["features"], gap_in_features(trained_model, last, sample.test_images[7],
                                              d["target"], d["contrast"]))
    text = run(str(folder))
    assert text.returncode == 0 and "features of layer 1 (hidden) that fire" in text.stdout
    save_features(last, tmp_path / "stale.npz", {**meta, "layer": 1, "network": "0" * 16})
    # the run folder's atlas gone stale: the circuit still, with a note
    shutil.copy(tmp_path / "stale.npz", run_atlas(folder, 1) / FILE)
    out = run(str(folder), "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert d["features"] is None and "another network" in d["features_note"]
    assert out.stderr.startswith("note: the run's feature atlas of layer 1 (hidden) was not used")
    # an atlas the user names must be read and fit
    for bad, needle in ((str(tmp_path / "stale.npz"), "another network"),
                        (str(tmp_path / "none.npz"), "cannot read")):
        out = run(str(folder), "--atlas", bad)
        assert out.returncode == 1 and needle in out.stderr and out.stderr.count("\n") == 1
