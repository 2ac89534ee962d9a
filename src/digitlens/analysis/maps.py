"""Hidden-space maps: every layer's activations for the test set, projected to 2-D, and a number
that says how well the layer separates the classes.

PCA is exact and linear (a mean and two directions), so the page can project a new drawing
itself. UMAP (the ``maps`` extra) is fitted once per run, layer and test set and cached beside
the run as plain arrays in ``maps/umap-layer-L.npz`` (never a pickled estimator); a new point is
placed by inverse-distance interpolation of the embeddings of its nearest test digits in the
layer's own space (``place_by_neighbours``).

Separation is a linear probe: a ridge-regression classifier fitted on the first half of the
test digits and scored on the other half. A probe, unlike k nearest neighbours (already about
96% on raw pixels), measures what the layers do: make the classes linearly separable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlens import numbering
from digitlens.errors import DataError, DigitlensError, ParameterError, bad_param
from digitlens.fileio import atomic_write_bytes
from digitlens.nn.backprop import accuracy
from digitlens.nn.mlp import MLP
from digitlens.nn.threads import blas_threads
from digitlens.safeload import MAX_NPY_HEADER, read_bounded, read_npz

METHODS = ("pca", "umap")
PROBE_RIDGE = 1e-2   # λ of the probe, relative to the mean feature variance
CHUNK = 2048


@dataclass
class PCA:
    """The two leading principal directions of a set of points."""

    mean: np.ndarray          # (d,)
    components: np.ndarray    # (2, d), unit rows, sign fixed: largest |entry| positive
    explained_variance: np.ndarray  # (2,) variance along each (ddof=1, as scikit-learn)
    explained_ratio: np.ndarray     # (2,) share of the total variance

    def project(self, x: np.ndarray) -> np.ndarray:
        """(n, d) -> (n, 2): what the page computes for a drawing, (x − mean) · componentsᵀ."""
        return (np.asarray(x, np.float64) - self.mean) @ self.components.T


def fit_pca(x: np.ndarray, k: int = 2) -> PCA:
    """Exact PCA through the eigenvectors of the covariance (d×d, cheaper than an SVD of the
    n×d data for n ≫ d). The covariance's products run in the activations' float32 (twice as
    fast as float64, within 1e-6 of it), the eigenvectors in float64."""
    x = np.asarray(x)
    x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)
    n, d = x.shape
    if n < 2:
        raise bad_param("points", "at least 2 points to project", n)
    mean = x.mean(axis=0, dtype=np.float64)
    xc = x - mean.astype(x.dtype)
    cov = (xc.T @ xc).astype(np.float64) / (n - 1)  # (d, n) @ (n, d) -> (d, d)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:k]
    comps = vecs[:, order].T.copy()  # (k, d)
    if comps.shape[0] < k:  # fewer dimensions than components: pad with zeros
        comps = np.vstack([comps, np.zeros((k - comps.shape[0], d))])
    signs = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
    comps *= np.where(signs == 0, 1.0, signs)[:, None]
    var = np.concatenate([np.maximum(vals[order], 0.0), np.zeros(k - len(order))])
    total = float(np.maximum(vals, 0).sum()) or 1.0
    return PCA(mean, comps, var, var / total)


def all_layers(model: MLP, images: np.ndarray) -> list[np.ndarray]:
    """[pixels, layer 0, layer 1, …] for many inputs, from ``MLP.trace`` in chunks."""
    x = model.as_input(images)
    parts: list[list[np.ndarray]] = [[] for _ in range(model.n_layers)]
    for i in range(0, len(x), CHUNK):
        acts = model.trace(x[i:i + CHUNK]).activations
        for k in range(model.n_layers):
            parts[k].append(acts[k])
    return [np.concatenate(p) for p in parts]


def check_map_layer(model: MLP, layer: int | None) -> list[int]:
    """Which hidden layers to map (0-based over hidden layers); None: every one."""
    hidden = model.n_layers - 1
    if hidden < 1:
        raise ParameterError(f"a {'-'.join(map(str, model.sizes))} network has no hidden layer "
                             "to map")
    if layer is None:
        return list(range(hidden))
    numbering.check_hidden_layer(model.sizes, layer)
    return [layer]


def probe_accuracy(h: np.ndarray, y: np.ndarray, ridge: float = PROBE_RIDGE) -> float:
    """Linear-probe accuracy: ridge regression onto one-hot labels (unpenalised intercept)
    fitted on the first half of the points, argmax scored on the second half."""
    h = np.asarray(h, np.float64)
    y = np.asarray(y, np.int64)
    half = len(y) // 2
    if half < 1:
        raise bad_param("points", "at least 2 labelled points", len(y))
    xa, ya, xb, yb = h[:half], y[:half], h[half:], y[half:]
    mu = xa.mean(axis=0)
    xc = xa - mu
    n_classes = int(y.max()) + 1
    t = np.eye(n_classes)[ya]
    gram = xc.T @ xc  # (d, d)
    lam = ridge * max(float(np.trace(gram)) / max(gram.shape[0], 1), 1e-12)
    prior = t.mean(axis=0)  # the intercept of centred data: each class's share
    w = np.linalg.solve(gram + lam * np.eye(gram.shape[0]), xc.T @ (t - prior))
    return accuracy((xb - mu) @ w + prior, yb)


@dataclass
class LayerMap:
    """One layer's map: its name, 2-D points, separation and (for PCA) the projection."""

    layer: int | None          # None: the input pixels
    name: str
    method: str
    points: np.ndarray         # (n, 2)
    separation: float
    pca: PCA | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"layer": self.layer, "name": self.name, "method": self.method,
                             "separation": round(self.separation, 4)}
        if self.pca is not None:
            d["explained_ratio"] = [round(float(v), 4) for v in self.pca.explained_ratio]
        return d


def layer_name(layer: int | None, width: int) -> str:
    where = "input pixels" if layer is None else numbering.layer_name(layer)
    return f"{where} · {width}"


def hidden_maps(model: MLP, images: np.ndarray, labels: np.ndarray,
                layers: Sequence[int] | None = None, method: str = "pca",
                cache: Path | None = None, baseline: bool = True) -> list[LayerMap]:
    """Maps of the pixels (``baseline``) and of each hidden layer in ``layers`` (default all)."""
    if method not in METHODS:
        raise bad_param("method", f"one of {', '.join(METHODS)}", method)
    chosen = check_map_layer(model, None) if layers is None else list(layers)
    with blas_threads(None):  # spinning BLAS threads on a busy machine made PCA 30x slower
        return _maps(model, images, labels, chosen, method, cache, baseline)


def _maps(model: MLP, images: np.ndarray, labels: np.ndarray, chosen: list[int], method: str,
          cache: Path | None, baseline: bool) -> list[LayerMap]:
    acts = all_layers(model, images)
    y = np.asarray(labels, np.int64)
    out = []
    for layer in ([None] if baseline else []) + chosen:
        h = acts[0 if layer is None else layer + 1]
        sep = probe_accuracy(h, y)
        name = layer_name(layer, h.shape[1])
        if method == "pca":
            p = fit_pca(h)
            out.append(LayerMap(layer, name, method, p.project(h), sep, p))
        else:
            emb = umap_embedding(h, cache, "input" if layer is None else f"layer-{layer}")
            out.append(LayerMap(layer, name, method, emb, sep))
    return out


def fingerprint(h: np.ndarray) -> str:
    """What a cached embedding was fitted on: the activations' bytes, hashed."""
    return hashlib.sha256(np.ascontiguousarray(h, np.float32).tobytes()).hexdigest()


def read_cache(path: Path, n: int) -> dict[str, np.ndarray] | None:
    """A cached embedding of ``n`` points through the loading boundary (bounded, never
    unpickled), or None if it is unreadable, too large or of another shape: then refitted."""
    limits = {"embedding": n * 16 + MAX_NPY_HEADER, "fingerprint": 1024 + MAX_NPY_HEADER,
              "meta": 4096 + MAX_NPY_HEADER}
    try:
        raw = read_bounded(path, sum(limits.values()) + (1 << 16), DataError, "map cache")
        return read_npz(raw, str(path), limits, DataError, "map cache")
    except DigitlensError:
        return None


def umap_embedding(h: np.ndarray, cache: Path | None, key: str, seed: int = 0) -> np.ndarray:
    """UMAP of ``h`` to 2-D, read from ``cache/umap-KEY.npz`` when it was fitted on the same
    activations, else fitted (``umap-learn``) and written there as plain arrays."""
    digest = fingerprint(h)
    path = cache / f"umap-{key}.npz" if cache is not None else None
    if path is not None and path.exists():
        cached = read_cache(path, len(h))
        if cached is not None and str(cached["fingerprint"]) == digest \
                and cached["embedding"].shape == (len(h), 2):
            return np.asarray(cached["embedding"], np.float64)
    try:
        import umap  # type: ignore[import-not-found]
    except ImportError:
        raise DigitlensError("the umap method needs umap-learn: pip install "
                             "'digitlens[maps]' (or use --method pca)") from None
    reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1)
    emb = np.asarray(reducer.fit_transform(np.asarray(h, np.float32)), np.float64)
    if path is not None:
        import io
        buf = io.BytesIO()
        np.savez(buf, embedding=emb, fingerprint=np.array(digest),
                 meta=np.array(json.dumps({"method": "umap", "key": key, "seed": seed})))
        with contextlib.suppress(OSError):  # a read-only run folder: drawn, not cached
            atomic_write_bytes(path, buf.getvalue())
    return emb


def nearest(h: np.ndarray, query: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Indices (m, k) of the ``k`` rows of ``h`` (n, d) nearest to each query (m, d), nearest
    first, and their Euclidean distances."""
    q = np.atleast_2d(np.asarray(query, np.float64))
    hh = np.asarray(h, np.float64)
    d2 = (q**2).sum(1)[:, None] - 2 * q @ hh.T + (hh**2).sum(1)[None, :]  # (m, d) @ (d, n)
    k = min(k, len(hh))
    near = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return near, np.sqrt(np.maximum(np.take_along_axis(d2, near, 1), 0))


def place_by_neighbours(h: np.ndarray, emb: np.ndarray, query: np.ndarray,
                        k: int = 5) -> np.ndarray:
    """Map points for new activations ``query`` (m, d) on an embedding ``emb`` (n, 2) of ``h``:
    the inverse-distance weighted mean of the embeddings of the ``k`` nearest of ``h``."""
    near, dist = nearest(h, query, k)
    wts = 1.0 / (dist + 1e-9)
    return (wts[:, :, None] * emb[near]).sum(1) / wts.sum(1, keepdims=True)


def page_map(model: MLP, images: np.ndarray, labels: np.ndarray, layer: int,
             acts: np.ndarray | None = None) -> dict[str, Any]:
    """What the explorer needs to draw a layer's PCA map and move a drawing on it: the mean and
    the two components (the page projects the layer's activations itself), the test digits'
    points and labels, and the separation."""
    check_map_layer(model, layer)
    with blas_threads(None):
        h = acts if acts is not None else all_layers(model, images)[layer + 1]
        p = fit_pca(h)
        sep = probe_accuracy(h, labels)
    pts = p.project(h)
    return {"layer": layer, "method": "pca", "name": layer_name(layer, h.shape[1]),
            "mean": p.mean.astype(np.float32), "components": p.components.astype(np.float32),
            "explained_ratio": [round(float(v), 4) for v in p.explained_ratio],
            "points": pts.astype(np.float32), "labels": np.asarray(labels, np.int64).tolist(),
            "separation": round(sep, 4)}
