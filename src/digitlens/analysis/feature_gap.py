"""The gap between two answers, split over the features of the last hidden layer's atlas.

The gap between two output scores is linear in the last hidden layer's activations ``a``:
``gap = a · ΔW + Δb`` with ``ΔW = W[:, target] − W[:, contrast]``. A feature atlas rewrites
``a`` as ``â = f · W_dec + b_dec`` plus what it misses, ``a − â``. Putting that in, the gap is
exactly

    Σ_i f_i (W_dec[i] · ΔW)  +  b_dec · ΔW  +  (a − â) · ΔW  +  Δb

one term per firing feature (its value times its decoder row's push on the two scores), the
atlas's own bias, what the atlas misses, and the output biases. Nothing is linearised: it is
the circuit's last-layer decomposition with the neurons' basis traded for the features'. An
atlas of an earlier layer reaches the scores through nonlinearities, so only the last hidden
layer's splits the gap this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.sae import SAE
from digitlens.analysis.sae_file import check_fits, load_features, read_run_atlas
from digitlens.errors import ModelError
from digitlens.nn.mlp import MLP
from digitlens.numbering import layer_name


@dataclass
class FeatureGap:
    """``gap = features_sum + decoder_bias + missed + bias_difference``."""

    layer: int
    terms: list[tuple[int, float, float]]  # (feature, value, effect), largest effect first
    decoder_bias: float                    # b_dec · ΔW
    missed: float                          # (a − â) · ΔW: what the atlas does not rebuild
    bias_difference: float                 # b_target − b_contrast
    gap: float                             # a · ΔW + Δb

    @property
    def features_sum(self) -> float:
        return float(sum(e for _, _, e in self.terms))

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer,
                "terms": [{"feature": j, "value": round(v, 6), "effect": round(e, 6)}
                          for j, v, e in self.terms],
                "features_sum": self.features_sum, "decoder_bias": self.decoder_bias,
                "missed": self.missed, "bias_difference": self.bias_difference,
                "gap": self.gap}


def last_layer_atlas(model: MLP, path: str | Path | None = None,
                     run_dir: str | Path | None = None) -> tuple[SAE | None, str | None]:
    """The atlas to split the gap over, and a note when there is none to use: the file at
    ``path`` (one that cannot be read or does not fit is an error: the user named it), else
    the run folder's atlas of the last hidden layer when it has one (stale, it is said in the
    note and left out: the circuit does not need it), else neither."""
    last = model.n_layers - 2
    if path is None:
        if run_dir is None:
            return None, None
        sae, note = read_run_atlas(run_dir, model, last)
        return sae, None if note is None else (f"{note} (make it again with `digitlens "
                                               f"features RUN --layer {last}`)")
    found, meta = load_features(path)
    if meta.get("layer") != last:  # say why this layer's atlas, not only that it is not
        raise ModelError(f"{path}: an atlas of layer {meta.get('layer')!r}; the gap splits "
                         f"over features only at the last hidden layer ({layer_name(last)})")
    check_fits(found, meta, str(path), model, last)
    return found, None


def gap_in_features(model: MLP, sae: SAE, x: np.ndarray, target: int, contrast: int
                    ) -> FeatureGap:
    """Input ``x``'s gap between ``target`` and ``contrast``, term by term over the features
    of ``sae`` (an atlas of the last hidden layer) that fire for it."""
    a32 = model.trace(model.as_input(x)[:1]).activations[-2][0]
    if a32.shape != (sae.W_enc.shape[0],):
        raise ModelError(f"the atlas is of a {sae.W_enc.shape[0]}-neuron layer, not of the "
                         f"last hidden layer's {a32.shape[0]} neurons")
    f = sae.encode(a32[None])[0].astype(np.float64)
    a = a32.astype(np.float64)
    w = model.weights[-1].astype(np.float64)
    dw = w[:, target] - w[:, contrast]
    w_dec, b_dec = sae.W_dec.astype(np.float64), sae.b_dec.astype(np.float64)
    push = w_dec @ dw
    rebuilt = f @ w_dec + b_dec
    terms = sorted(((int(j), float(f[j]), float(f[j] * push[j])) for j in np.flatnonzero(f)),
                   key=lambda t: (-t[2], t[0]))
    bias = float(model.biases[-1][target]) - float(model.biases[-1][contrast])
    return FeatureGap(model.n_layers - 2, terms, float(b_dec @ dw), float((a - rebuilt) @ dw),
                      bias, float(a @ dw + bias))
