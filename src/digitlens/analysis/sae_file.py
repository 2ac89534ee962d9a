"""``features.npz``: a sparse autoencoder and what it was trained on, read back through the
loading boundary (``safeload.read_npz``: no pickle, sizes checked before anything inflates)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.sae import MAX_FEATURES, SAE
from digitlens.errors import ModelError
from digitlens.fileio import atomic_write_bytes
from digitlens.nn.mlp import MLP
from digitlens.numbering import layer_name
from digitlens.safeload import parse_json, read_bounded, read_npz

FORMAT = "digitlens-features"
MAX_BYTES = 1 << 30
FILE = "features.npz"


def run_atlas(run_dir: str | Path, layer: int) -> Path:
    """Where a run folder keeps the atlas of its hidden ``layer``: ``RUN/features/layer-L/``
    (``digitlens features`` writes there by default; the explorer looks there)."""
    return Path(run_dir) / "features" / f"layer-{layer}"


def read_run_atlas(run_dir: str | Path, model: MLP, layer: int
                   ) -> tuple[SAE | None, str | None]:
    """The run folder's atlas of hidden ``layer`` (None when it has none), or None and a
    sentence saying why it was not used when it does not fit ``model`` (stale or foreign):
    whoever reads a run's atlases unasked says so instead of failing or skipping in silence."""
    path = run_atlas(run_dir, layer) / FILE
    if not path.is_file():
        return None, None
    try:
        return load_features(path, model, layer)[0], None
    except ModelError as exc:
        return None, (f"the run's feature atlas of {layer_name(layer)} was not used: "
                      f"{str(exc).removeprefix(f'{path}: ')}")


def network_digest(model: MLP) -> str:
    """A short hash of the weights: features describe one network, so a file written for
    another (another run, the same run retrained) is told apart by it."""
    h = hashlib.sha256()
    for w, b in zip(model.weights, model.biases, strict=True):
        h.update(np.ascontiguousarray(w, np.float32).tobytes())
        h.update(np.ascontiguousarray(b, np.float32).tobytes())
    return h.hexdigest()[:16]


def save_features(sae: SAE, path: Path, meta: dict[str, Any]) -> Path:
    """Write the four arrays and a ``meta`` JSON member (layer, k, the run) atomically."""
    doc = {"format": FORMAT, **meta, "k": sae.k, "features": sae.n_features}
    buf = io.BytesIO()
    np.savez(buf, W_enc=sae.W_enc, b_enc=sae.b_enc, W_dec=sae.W_dec, b_dec=sae.b_dec,
             meta=np.array(json.dumps(doc)))
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_features(path: str | Path, model: MLP | None = None, layer: int | None = None
                  ) -> tuple[SAE, dict[str, Any]]:
    """A features file, checked: float32 arrays whose shapes agree with each other and with the
    metadata; finite values; 1 <= k <= F; and, given ``model`` and ``layer``, written for that
    network (its digest) and that hidden layer (its number and width)."""
    name = str(path)
    arrays = read_npz(read_bounded(path, MAX_BYTES, ModelError, "features file"), name,
                      MAX_BYTES, ModelError, "features file")
    missing = [k for k in ("W_enc", "b_enc", "W_dec", "b_dec", "meta") if k not in arrays]
    if missing:
        raise ModelError(f"{name}: not a features file (no {', '.join(missing)})")
    raw = arrays["meta"]
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ModelError(f"{name}: its meta member is not a JSON string")
    meta = parse_json(str(raw).encode(), f"{name}: meta", ModelError, max_depth=4)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{name}: not a {FORMAT} file")
    w_enc, b_enc, w_dec, b_dec = (arrays[k] for k in ("W_enc", "b_enc", "W_dec", "b_dec"))
    for key, a in (("W_enc", w_enc), ("b_enc", b_enc), ("W_dec", w_dec), ("b_dec", b_dec)):
        if a.dtype != np.float32 or not np.all(np.isfinite(a)):
            raise ModelError(f"{name}: {key} must be finite float32 values")
    n, f = w_enc.shape if w_enc.ndim == 2 else (-1, -1)
    if not (2 <= f <= MAX_FEATURES and b_enc.shape == (f,) and w_dec.shape == (f, n)
            and b_dec.shape == (n,)):
        raise ModelError(f"{name}: its arrays' shapes do not fit together "
                         f"(W_enc {list(w_enc.shape)}, W_dec {list(w_dec.shape)})")
    k = meta.get("k")
    if not (isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= f):
        raise ModelError(f"{name}: k must be an int in 1..{f}")
    if meta.get("features") != f:
        raise ModelError(f"{name}: its meta says {meta.get('features')!r} features, its "
                         f"arrays {f}")
    sae = SAE(w_enc, b_enc, w_dec, b_dec, k)
    if model is not None and layer is not None:
        check_fits(sae, meta, name, model, layer)
    return sae, meta


def check_fits(sae: SAE, meta: dict[str, Any], name: str, model: MLP, layer: int) -> None:
    """A file read by ``load_features`` was written for ``model``'s hidden ``layer``: its
    number, its width and the network's digest."""
    if meta.get("layer") != layer:
        raise ModelError(f"{name}: features of layer {meta.get('layer')!r}, not of layer "
                         f"{layer}")
    n = sae.W_enc.shape[0]
    width = model.sizes[layer + 1] if 0 <= layer < len(model.sizes) - 2 else -1
    if n != width:
        raise ModelError(f"{name}: features of a {n}-neuron layer, not of this "
                         f"{width}-neuron one")
    if meta.get("network") != network_digest(model):
        raise ModelError(f"{name}: features of another network (its weights differ: "
                         "another run, or this one retrained)")
