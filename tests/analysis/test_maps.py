"""Hidden-space maps: PCA and the linear probe against scikit-learn (test-only oracles), the
UMAP cache and the errors a user can cause."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import pytest

from digitlens.analysis import maps as M
from digitlens.errors import DigitlensError, ParameterError
from digitlens.nn.mlp import MLP
from support import U32, assert_within, sum_order_bound


def test_pca_matches_scikit_learn(trained_model: MLP, sample) -> None:
    sk = pytest.importorskip("sklearn.decomposition")
    acts = M.all_layers(trained_model, sample.test_images[:800])
    assert [a.shape[1] for a in acts] == [784, 32, 16]
    for h in acts:
        ours = M.fit_pca(h)
        ref = sk.PCA(n_components=2, svd_solver="full").fit(h.astype(np.float64))
        # ours sums the covariance in float32 (800-term sums), scikit-learn in float64: by
        # Cauchy-Schwarz each entry moves by ≤ γ_n·√(C_ii·C_jj) (plus the centring's rounding,
        # 2 more per term), so ‖ΔC‖₂ ≤ ‖ΔC‖_F ≤ γ_(n+2)·trace C, and so does each eigenvalue
        h64 = h.astype(np.float64)
        lam = np.linalg.eigvalsh(np.cov(h64.T))[::-1]
        n = len(h) + 2
        shift = n * U32 / (1 - n * U32) * lam.sum()
        assert_within(ours.explained_variance, ref.explained_variance_,
                      shift + 4 * U32 * lam[:2], "explained variance")
        assert_within(ours.explained_ratio, ref.explained_variance_ratio_,
                      (shift + 4 * U32 * lam[:2]) / lam.sum() * 2, "explained ratio")
        theirs = ref.transform(h64)
        mine = ours.project(h)
        # each component turns by sin θ ≤ ‖ΔC‖₂ / (gap to the nearest other eigenvalue)
        # (Davis-Kahan), which moves a projection by ≤ 2·sin θ·‖x − mean‖
        reach = np.linalg.norm(h64 - h64.mean(axis=0), axis=1)
        for k in range(2):  # equal up to the sign of each component
            gap = min(lam[k - 1] - lam[k] if k else np.inf, lam[k] - lam[k + 1])
            sign = np.sign(mine[:, k] @ theirs[:, k])
            assert_within(mine[:, k], sign * theirs[:, k],
                          2 * shift / gap * reach + 1e-9 * np.abs(theirs).max(), "projection")


def test_pca_sign_is_fixed_and_components_orthonormal(rng) -> None:
    x = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    p = M.fit_pca(x)
    # float64 throughout: the 300 points in another order move the covariance by
    # ~300·2⁻⁵³ ≈ 3e-14 relative, which 1e-10 covers whatever the eigengap here
    np.testing.assert_allclose(p.components @ p.components.T, np.eye(2), atol=1e-10)
    q = M.fit_pca(x[::-1])  # the same points in another order: the same map
    np.testing.assert_allclose(p.components, q.components, atol=1e-10)
    assert all(c[np.argmax(np.abs(c))] > 0 for c in p.components)


def test_probe_matches_scikit_learn_ridge(rng) -> None:
    lm = pytest.importorskip("sklearn.linear_model")
    centres = rng.normal(size=(4, 10)) * 2
    y = rng.integers(0, 4, 600)
    h = centres[y] + rng.normal(size=(600, 10)) * 2.5
    half = 300
    xa = h[:half]
    lam = M.PROBE_RIDGE * np.trace((xa - xa.mean(0)).T @ (xa - xa.mean(0))) / 10
    ref = lm.RidgeClassifier(alpha=lam, solver="cholesky").fit(xa, y[:half])
    want = float(np.mean(ref.predict(h[half:]) == y[half:]))
    # float64 both sides, and a count over 300 (exact unless a point lies on a tie)
    assert M.probe_accuracy(h, y) == pytest.approx(want, abs=1e-12)
    assert 0.3 < want < 1.0  # a problem where the probe is neither trivial nor hopeless


def test_separation_rises_through_the_layers(trained_model: MLP, sample) -> None:
    maps = M.hidden_maps(trained_model, sample.test_images, sample.test_labels)
    assert [m.layer for m in maps] == [None, 0, 1]
    assert maps[0].name.startswith("input pixels")
    assert maps[-1].separation > maps[0].separation
    assert all(m.points.shape == (len(sample.test_labels), 2) for m in maps)


def test_page_map_projection_is_the_maps(trained_model: MLP, sample) -> None:
    d = M.page_map(trained_model, sample.test_images, sample.test_labels, 1)
    h = M.all_layers(trained_model, sample.test_images)[2]
    # the page's float32 arithmetic (16-term sums, and the centring) against the points
    # computed in float64 and rounded to float32 (u·|p|)
    centred = np.abs(h.astype(np.float64) - d["mean"])
    bound = sum_order_bound(16 + 2, centred @ np.abs(d["components"].astype(np.float64)).T)
    assert_within((h - d["mean"]) @ d["components"].T, d["points"],
                  bound + 2 * U32 * np.abs(d["points"]), "map points")


def test_layer_out_of_range_and_no_hidden_layer(trained_model: MLP) -> None:
    with pytest.raises(ParameterError, match="'layer'.*0..1"):
        M.check_map_layer(trained_model, 2)
    with pytest.raises(ParameterError, match="no hidden layer"):
        M.check_map_layer(MLP.create((784, 10)), None)
    with pytest.raises(ParameterError, match="'method'"):
        M.hidden_maps(trained_model, np.zeros((4, 784)), np.arange(4), method="tsne")


def test_umap_without_the_extra_is_one_clear_error(monkeypatch, trained_model, sample,
                                                    tmp_path) -> None:
    real = builtins.__import__

    def no_umap(name: str, *args: Any, **kw: Any) -> Any:
        if name == "umap":
            raise ImportError("no umap")
        return real(name, *args, **kw)
    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.raises(DigitlensError, match=r"umap-learn.*digitlens\[maps\]"):
        M.hidden_maps(trained_model, sample.test_images[:50], sample.test_labels[:50],
                      [0], "umap", tmp_path)


def test_umap_is_fitted_once_and_cached_as_arrays(monkeypatch, trained_model, sample,
                                                  tmp_path) -> None:
    calls = []

    class FakeUMAP:  # records the fits; the embedding is the first two activations
        def __init__(self, **kw: Any) -> None:
            calls.append(kw)

        def fit_transform(self, h: np.ndarray) -> np.ndarray:
            return h[:, :2]
    import types
    monkeypatch.setitem(__import__("sys").modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    x, y = sample.test_images[:200], sample.test_labels[:200]
    a = M.hidden_maps(trained_model, x, y, [1], "umap", tmp_path, baseline=False)
    b = M.hidden_maps(trained_model, x, y, [1], "umap", tmp_path, baseline=False)
    assert len(calls) == 1
    np.testing.assert_array_equal(a[0].points, b[0].points)
    with np.load(tmp_path / "umap-layer-1.npz", allow_pickle=False) as z:
        assert z["embedding"].shape == (200, 2)
    M.hidden_maps(trained_model, x[:100], y[:100], [1], "umap", tmp_path, baseline=False)
    assert len(calls) == 2  # other activations: refitted


def test_a_hostile_umap_cache_is_refitted_not_read(monkeypatch, trained_model, sample,
                                                   tmp_path) -> None:
    calls = []

    class FakeUMAP:
        def __init__(self, **kw: Any) -> None:
            calls.append(kw)

        def fit_transform(self, h: np.ndarray) -> np.ndarray:
            return h[:, :2]
    import types
    monkeypatch.setitem(__import__("sys").modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    x, y = sample.test_images[:50], sample.test_labels[:50]
    cache = tmp_path / "umap-layer-1.npz"
    for hostile in (b"not a zip", b"PK" + b"\0" * 40):
        cache.write_bytes(hostile)
        M.hidden_maps(trained_model, x, y, [1], "umap", tmp_path, baseline=False)
    np.savez(cache, embedding=np.array([object()], dtype=object), fingerprint=np.array("x"))
    M.hidden_maps(trained_model, x, y, [1], "umap", tmp_path, baseline=False)
    assert len(calls) == 3  # each refitted (and rewritten), none unpickled


def test_place_by_neighbours_interpolates_the_embedding(rng) -> None:
    h = rng.normal(size=(50, 5))
    emb = rng.normal(size=(50, 2))
    # float64 throughout (the distance to itself is ~1e-15, not 0: weights stay finite)
    np.testing.assert_allclose(M.place_by_neighbours(h, emb, h[7]), emb[[7]], atol=1e-6)
    q = 0.6 * h[3] + 0.4 * h[4]  # no ties among the nearest (argsort breaks them any way)
    near = np.argsort(np.linalg.norm(h - q, axis=1))[:3]
    np.testing.assert_allclose(M.place_by_neighbours(h, emb, q, k=1), emb[near[:1]])
    w = 1 / np.linalg.norm(h[near] - q, axis=1)
    np.testing.assert_allclose(M.place_by_neighbours(h, emb, q, k=3),
                               [(w[:, None] * emb[near]).sum(0) / w.sum()])
