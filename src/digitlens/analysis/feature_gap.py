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
from digitlens.analysis.sae_file import FILE, load_features, run_atlas
from digitlens.errors import DigitlensError
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


def check_last_hidden(model: MLP, layer: int) -> None:
    """Only the last hidden layer reaches the scores linearly."""
    last = model.n_layers - 2
    if layer != last:
        raise DigitlensError(f"the gap splits over features only at the last hidden layer "
                             f"({layer_name(last)}): this atlas is of {layer_name(layer)}")


def last_layer_atlas(model: MLP, path: str | Path | None = None,
                     run_dir: str | Path | None = None) -> SAE | None:
    """The atlas to split the gap over: the file at ``path``, else the run folder's atlas of
    the last hidden layer when it has one, else None. Either is checked against the network:
    a stale or foreign file is an error, never left out in silence."""
    last = model.n_layers - 2
    if path is None:
        if run_dir is None or not (run_atlas(run_dir, last) / FILE).is_file():
            return None
        path = run_atlas(run_dir, last) / FILE
    layer = load_features(path)[1].get("layer")  # an atlas of another layer: say why not
    check_last_hidden(model, layer if isinstance(layer, int) else -1)
    return load_features(path, model, last)[0]


def class_pushes(model: MLP, sae: SAE) -> tuple[np.ndarray, np.ndarray]:
    """(F, classes) each feature's push on each output score per unit of its value
    (``W_dec · W_out``), and (classes,) the atlas bias's (``b_dec · W_out``), float64: what the
    page needs, beside the features it computes, to split the gap itself."""
    w = model.weights[-1].astype(np.float64)
    return sae.W_dec.astype(np.float64) @ w, sae.b_dec.astype(np.float64) @ w


def gap_in_features(model: MLP, sae: SAE, layer: int, x: np.ndarray, target: int,
                    contrast: int) -> FeatureGap:
    """Input ``x``'s gap between ``target`` and ``contrast``, term by term over the features
    of ``sae`` (an atlas of the last hidden ``layer``) that fire for it."""
    check_last_hidden(model, layer)
    a32 = model.trace(model.as_input(x)[:1]).activations[-2][0]
    f = sae.encode(a32[None])[0].astype(np.float64)
    a = a32.astype(np.float64)
    w = model.weights[-1].astype(np.float64)
    dw = w[:, target] - w[:, contrast]
    push = sae.W_dec.astype(np.float64) @ dw
    rebuilt = f @ sae.W_dec.astype(np.float64) + sae.b_dec.astype(np.float64)
    fired = np.flatnonzero(f)
    terms = sorted(((int(j), float(f[j]), float(f[j] * push[j])) for j in fired),
                   key=lambda t: (-t[2], t[0]))
    bias = float(model.biases[-1][target]) - float(model.biases[-1][contrast])
    return FeatureGap(layer, terms, float(sae.b_dec.astype(np.float64) @ dw),
                      float((a - rebuilt) @ dw), bias, float(a @ dw + bias))
