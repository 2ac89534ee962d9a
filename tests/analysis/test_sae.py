"""The TopK sparse autoencoder: its gradient against finite differences (float64), the TopK
rule, features.npz through the loading boundary, and ``digitlens features`` end to end."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digitlens.analysis.sae import SAE, gradients, init_sae, purity, support, topk_relu, train_sae
from digitlens.analysis.sae_file import load_features, network_digest, save_features
from digitlens.errors import DigitlensError, ModelError
from digitlens.nn.mlp import MLP

PARAMS = ("W_enc", "b_enc", "W_dec", "b_dec")


def small_sae(rng: np.random.Generator, n: int = 6, f: int = 10, k: int = 3) -> SAE:
    w_dec = rng.normal(size=(f, n))
    w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
    return SAE(rng.normal(size=(n, f)), rng.normal(size=f) * 0.3, w_dec,
               rng.normal(size=n) * 0.1, k)


def loss_by_hand(sae: SAE, a: np.ndarray, dead: np.ndarray | None = None,
                 aux_k: int = 0, aux: float = 0.0, err0: np.ndarray | None = None) -> float:
    """The loss written out independently: TopK of the ReLU pre-activations, squared error;
    with ``dead`` the AuxK term rebuilding the fixed residual ``err0`` from the ``aux_k``
    largest dead pre-activations, no ReLU."""
    pre = (a - sae.b_dec) @ sae.W_enc + sae.b_enc
    f = np.maximum(pre, 0)
    for row in f:
        row[np.argsort(-row)[sae.k:]] = 0
    err = f @ sae.W_dec + sae.b_dec - a
    loss = float(np.mean(np.sum(err ** 2, axis=1)))
    if dead is not None and err0 is not None:
        cols = np.flatnonzero(dead)
        g = pre[:, cols].copy()
        for row in g:
            row[np.argsort(-row)[aux_k:]] = 0
        loss += aux * float(np.mean(np.sum((g @ sae.W_dec[cols] + err0) ** 2, axis=1)))
    return loss


def finite_differences(sae: SAE, loss: object, eps: float = 1e-6) -> dict[str, np.ndarray]:
    out = {}
    for p in PARAMS:
        arr = getattr(sae, p)
        grad = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + eps
            up = loss()  # type: ignore[operator]
            arr[i] = old - eps
            down = loss()  # type: ignore[operator]
            arr[i] = old
            grad[i] = (up - down) / (2 * eps)
        out[p] = grad
    return out


def test_gradient_matches_finite_differences(rng: np.random.Generator) -> None:
    sae = small_sae(rng)
    a = np.abs(rng.normal(size=(5, 6)))
    loss, grads = gradients(sae, a)
    assert loss == pytest.approx(loss_by_hand(sae, a), rel=1e-12)
    want = finite_differences(sae, lambda: loss_by_hand(sae, a))
    for p in PARAMS:
        assert grads[p].dtype == np.float64
        np.testing.assert_allclose(grads[p], want[p], rtol=1e-5, atol=1e-7, err_msg=p)


def test_auxk_gradient_matches_finite_differences(rng: np.random.Generator) -> None:
    sae = small_sae(rng)
    a = np.abs(rng.normal(size=(5, 6)))
    dead = np.zeros(10, bool)
    dead[[1, 4, 6, 7, 9]] = True
    _, _, f = gradients(sae, a, True)
    err0 = f @ sae.W_dec + sae.b_dec - a          # what the live features miss, held fixed
    loss, grads = gradients(sae, a, dead=dead, aux_k=2, aux=0.5)
    assert loss == pytest.approx(loss_by_hand(sae, a, dead, 2, 0.5, err0), rel=1e-12)
    want = finite_differences(sae, lambda: loss_by_hand(sae, a, dead, 2, 0.5, err0))
    for p in PARAMS:
        np.testing.assert_allclose(grads[p], want[p], rtol=1e-5, atol=1e-7, err_msg=p)
    _, plain = gradients(sae, a)
    assert not np.allclose(grads["W_enc"][:, dead], plain["W_enc"][:, dead])


def test_auxk_reaches_dead_features_below_zero(rng: np.random.Generator) -> None:
    """Dead features whose pre-activations are all negative (the ReLU would leave them no
    gradient) still get the AuxK gradient, and it matches finite differences."""
    sae = small_sae(rng)
    a = np.abs(rng.normal(size=(5, 6)))
    dead = np.zeros(10, bool)
    dead[[0, 3, 5, 8]] = True
    sae.b_enc[dead] -= 50.0
    assert np.all((a - sae.b_dec) @ sae.W_enc[:, dead] + sae.b_enc[dead] < 0)
    _, _, f = gradients(sae, a, True)
    err0 = f @ sae.W_dec + sae.b_dec - a
    loss, grads = gradients(sae, a, dead=dead, aux_k=3, aux=0.25)
    assert loss == pytest.approx(loss_by_hand(sae, a, dead, 3, 0.25, err0), rel=1e-12)
    want = finite_differences(sae, lambda: loss_by_hand(sae, a, dead, 3, 0.25, err0))
    for p in PARAMS:
        np.testing.assert_allclose(grads[p], want[p], rtol=1e-5, atol=1e-7, err_msg=p)
    assert np.count_nonzero(grads["b_enc"][dead]) >= 3     # each row's 3 largest move


def test_topk_keeps_exactly_k_largest(rng: np.random.Generator) -> None:
    pre = rng.normal(size=(50, 40)) + 5            # every value positive: exactly k stay
    for k in (1, 7, 40):
        out = topk_relu(pre, k)
        assert np.all((out > 0).sum(axis=1) == k)
        kth = np.sort(pre, axis=1)[:, -k]
        assert np.all(out[out > 0] == pre[out > 0])
        assert np.all((out > 0) == (pre >= kth[:, None]))
    mixed = topk_relu(rng.normal(size=(50, 40)), 30)  # fewer positives than k: ReLU rules
    assert np.all((mixed > 0).sum(axis=1) <= 30) and np.all(mixed >= 0)


def test_training_lowers_the_error_and_keeps_k(rng: np.random.Generator) -> None:
    acts = np.abs(rng.normal(size=(600, 12))).astype(np.float32)
    seen: list[float] = []
    sae = train_sae(acts, 32, 4, 3, seed=0, on_epoch=lambda _e, loss: seen.append(loss))
    assert len(seen) == 3 and seen[-1] < seen[0]
    assert np.all((sae.encode(acts) > 0).sum(axis=1) <= 4)
    np.testing.assert_allclose(np.linalg.norm(sae.W_dec, axis=1), 1, atol=1e-5)
    for features, k, epochs in ((1, 1, 1), (32, 0, 1), (32, 40, 1), (32, 4, 0), (1 << 20, 4, 1)):
        with pytest.raises(DigitlensError):
            train_sae(acts, features, k, epochs)


def test_rare_features_have_their_bias_raised(rng: np.random.Generator) -> None:
    """With the learning rate at 0 only the lift moves anything: the bias of a feature that
    never fires rises, that of a feature firing on a good share of the digits stays."""
    centres = np.abs(rng.normal(size=(3, 12))) * 3
    acts = centres[rng.integers(0, 3, 3000)].astype(np.float32)  # three points, many times
    start = init_sae(acts, 64, 1, seed=0)   # k = 1: one feature wins each point, none else
    share = np.mean(start.encode(acts) > 0, axis=0)
    assert np.any(share == 0) and np.any(share > 0.05)
    sae = train_sae(acts, 64, 1, 3, seed=0, lr=0.0, batch=16, lift=1e-6, min_support=0)
    moved = sae.b_enc - start.b_enc
    assert np.all(moved[share == 0] > 0) and np.all(moved[share > 0.05] == 0)
    np.testing.assert_array_equal(sae.W_enc, start.W_enc)


def test_purity_counts_the_commonest_class() -> None:
    values = np.array([[3.0, 0], [2, 0], [1, 0], [0.5, 0]])
    labels = np.array([1, 1, 2, 1])
    p = purity(values, labels, top=3)
    assert p[0] == pytest.approx(2 / 3) and np.isnan(p[1])


def saved(tmp_path: Path, model: MLP, arrays: dict[str, np.ndarray], layer: int = 1) -> Path:
    rng = np.random.default_rng(0)
    n = model.sizes[layer + 1]
    w_enc, b_enc, w_dec, b_dec = (rng.normal(size=s).astype(np.float32)
                                  for s in ((n, 8), (8,), (8, n), (n,)))
    sae = SAE(w_enc, b_enc, w_dec, b_dec, 2)
    path = tmp_path / "features.npz"
    save_features(sae, path, {"layer": layer, "run": "x", "network": network_digest(model)})
    if arrays:
        with np.load(path) as z:
            members = {key: z[key] for key in z.files}
        members.update(arrays)
        buf = io.BytesIO()
        np.savez(buf, **members)  # type: ignore[arg-type]
        path.write_bytes(buf.getvalue())
    return path


def test_features_file_round_trip(tmp_path: Path, trained_model: MLP) -> None:
    path = saved(tmp_path, trained_model, {})
    sae, meta = load_features(path, trained_model, 1)
    with np.load(path) as z:
        for p in PARAMS:
            np.testing.assert_array_equal(getattr(sae, p), z[p])
    assert sae.k == 2 and meta["layer"] == 1 and meta["features"] == 8


def test_hostile_features_files_are_refused(tmp_path: Path, trained_model: MLP) -> None:
    n = trained_model.sizes[2]
    other = MLP.__new__(MLP)
    other.__dict__.update(trained_model.__dict__)
    other.weights = [w.copy() for w in trained_model.weights]
    other.weights[0][0, 0] += 1
    meta_no_k = np.array(json.dumps({"format": "digitlens-features", "layer": 1,
                                     "features": 8}))
    cases: list[tuple[str, dict[str, np.ndarray], MLP, int, str]] = [
        ("shapes", {"W_dec": np.zeros((n, 8), np.float32)}, trained_model, 1, "shapes"),
        ("nan", {"b_enc": np.full(8, np.nan, np.float32)}, trained_model, 1, "finite"),
        ("dtype", {"b_dec": np.zeros(n, np.float64)}, trained_model, 1, "float32"),
        ("pickle", {"W_enc": np.array([object()] * 8, dtype=object)}, trained_model, 1, ""),
        ("meta", {"meta": meta_no_k}, trained_model, 1, "k must be"),
        ("layer", {}, trained_model, 0, "layer"),
        ("run", {}, other, 1, "another network"),
    ]
    for label, arrays, model, layer, needle in cases:
        folder = tmp_path / label
        folder.mkdir()
        path = saved(folder, trained_model, arrays)
        with pytest.raises(ModelError) as err:
            load_features(path, model, layer)
        text = str(err.value)
        assert "\n" not in text and str(path) in text and needle in text, (label, text)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ModelError):
        load_features(junk)
    zipped = tmp_path / "zip.npz"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("W_enc.npy", b"\x93NUMPY garbage")
    with pytest.raises(ModelError):
        load_features(zipped)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digitlens", *args, "--dataset",
                           "mnist-sample"], capture_output=True, text=True, timeout=300,
                          check=False, env={**os.environ, "DIGITLENS_THREADS": "1"})


@pytest.mark.e2e
def test_cli_features(trained_run: Path, trained_model: MLP, tmp_path: Path) -> None:
    out = tmp_path / "atlas"
    done = cli("features", str(trained_run), "--layer", "1", "--features", "64", "--k", "4",
               "--epochs", "2", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    d = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(d) >= {"l0", "dead_fraction", "explained_variance", "accuracy",
                      "accuracy_spliced"}
    assert 0 < d["l0"] <= 4 and 0 <= d["dead_fraction"] <= 1 and d["explained_variance"] <= 1
    assert 0 <= d["accuracy_spliced"] <= 1 and 0 < d["accuracy"] <= 1
    sae, meta = load_features(out / "features.npz", trained_model, 1)
    assert sae.W_enc.shape == (16, 64) and sae.W_dec.shape == (64, 16) and sae.k == 4
    assert meta["layer"] == 1 and meta["run"] == str(trained_run)
    assert (out / "features.png").stat().st_size > 0
    again = cli("features", str(trained_run), "--layer", "1", "--out", str(out))
    assert again.returncode == 1 and "exists" in again.stderr


@pytest.mark.e2e
def test_cli_features_bad_input(trained_run: Path, tmp_path: Path) -> None:
    for extra, code, needle in ((("--layer", "2"), 2, "'layer' parameter"),
                                (("--layer", "1", "--k", "0"), 2, "'k' parameter"),
                                (("--layer", "1", "--k", "-3"), 2, "'k' parameter"),
                                (("--layer", "1", "--features", "1000000"), 2,
                                 "'features' parameter"),
                                (("--layer", "1", "--features", "8", "--k", "9"), 2,
                                 "'k' parameter"),
                                (("--layer", "1", "--epochs", "0"), 2, "'epochs' parameter"),
                                (("--layer", "x"), 2, "invalid int")):
        out = tmp_path / "never"
        bad = cli("features", str(trained_run), *extra, "--out", str(out))
        assert bad.returncode == code, (extra, bad.stderr)
        assert needle in bad.stderr and bad.stderr.count("\n") == 1, (extra, bad.stderr)
        assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.e2e
def test_cli_features_into_the_run_folder(trained_run: Path, trained_model: MLP,
                                          tmp_path: Path) -> None:
    """Without --out the atlas goes where the explorer looks: RUN/features/layer-L."""
    import shutil

    from digitlens.analysis.sae_file import FILE, run_atlas
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    done = cli("features", str(run), "--layer", "0", "--features", "16", "--k", "2",
               "--epochs", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["out"] == str(run_atlas(run, 0))
    sae, meta = load_features(run_atlas(run, 0) / FILE, trained_model, 0)
    assert sae.n_features == 16 and meta["layer"] == 0
    again = cli("features", str(run), "--layer", "0", "--epochs", "1")
    assert again.returncode == 1 and "exists" in again.stderr and again.stderr.count("\n") == 1
    alone = cli("features", str(run / "model.npz"), "--layer", "0", "--epochs", "1")
    assert alone.returncode == 1 and "give --out" in alone.stderr


def test_support_gives_rare_features_their_closest_digits_and_no_more() -> None:
    """A feature that fires on fewer than ``count`` digits gets the least raise of its bias
    that makes it fire on ``count``: those it responds to most (a hair less and it fires on
    fewer); the others keep theirs. Several such features take digits from each other: the
    passes after the first make up most of it."""
    rng = np.random.default_rng(5)
    raw = small_sae(rng, n=6, f=12, k=2)
    w_enc, b_enc, w_dec, b_dec = (np.asarray(getattr(raw, p), np.float32) for p in PARAMS)
    base = SAE(w_enc, b_enc, w_dec, b_dec, raw.k)
    acts = rng.normal(size=(300, 6)).astype(np.float32)
    count = 10
    fires = np.count_nonzero(base.encode(acts), axis=0)
    j = int(np.argmax(fires))
    sae = SAE(base.W_enc, base.b_enc.copy(), base.W_dec, base.b_dec, base.k)
    sae.b_enc[j] -= 8  # silent now; the others fire as often as before or more
    before = np.count_nonzero(sae.encode(acts), axis=0)
    assert before[j] < count and np.all(np.delete(before, j) >= count)
    bias = sae.b_enc.copy()
    support(sae, acts, count, passes=1, chunk=64)  # chunks: the raise is found across them
    assert np.count_nonzero(sae.encode(acts)[:, j]) == count
    np.testing.assert_array_equal(np.delete(sae.b_enc, j), np.delete(bias, j))
    trial = SAE(sae.W_enc, sae.b_enc.copy(), sae.W_dec, sae.b_dec, sae.k)
    trial.b_enc[j] -= 1e-4
    assert np.count_nonzero(trial.encode(acts)[:, j]) < count  # the least raise
    pre = (acts - sae.b_dec) @ sae.W_enc + sae.b_enc
    others = np.sort(np.where(np.arange(12) == j, -np.inf, pre), axis=1)[:, -2]
    lead = pre[:, j] - np.maximum(others, 0)  # it fires where this is > 0
    assert set(np.argsort(-lead)[:count]) == set(np.flatnonzero(sae.encode(acts)[:, j]))
    # five silent features of twelve, two kept a digit, competing for the same digits: one
    # pass leaves some short (a lifted one takes digits from another), the next bring each
    # within a digit of count (in so crowded a toy they keep trading the last one)
    short = []
    for passes in (1, 3):
        many = SAE(base.W_enc, base.b_enc.copy(), base.W_dec, base.b_dec, base.k)
        many.b_enc[:5] -= 8
        support(many, acts, count, passes=passes, chunk=64)
        fires = np.count_nonzero(many.encode(acts), axis=0)
        short.append(int(np.maximum(count - fires, 0).sum()))
    assert np.all(fires >= count - 1) and short[1] < short[0]
