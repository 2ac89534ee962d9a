"""A feature atlas of a hidden layer: a TopK sparse autoencoder trained on its activations.

A layer of 256 ReLU neurons mixes many ideas in each neuron. A sparse autoencoder rewrites each
digit's 256 activations as a few of F "features" (F larger than the layer: 2,048), each a
direction in the layer's space:

    f = TopK_k(ReLU((a − b_dec) · W_enc + b_enc))      only the k largest stay, the rest are 0
    â = f · W_dec + b_dec                              the activations rebuilt from them

trained to make â close to a (mean squared error), with every decoder row kept at unit length
so a feature's size lives in f alone. It is the kind of autoencoder recent interpretability
work trains on language models, here small enough to check every number. Training is Adam on
mini-batches in float32; the gradient is written out below (``gradients``) and checked against
finite differences in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.errors import bad_param

FEATURES, K, EPOCHS, BATCH, LR = 2048, 16, 10, 256, 1e-3
# AuxK: its weight, and a feature is dead after this many digits without firing
AUX, DEAD_AFTER = 1 / 32, 500
RESAMPLE_EVERY = 60_000  # digits; features silent that long restart where the rebuild is worst
# a feature firing on fewer than FLOOR of the digits (a running mean) has its encoder bias
# raised by LIFT each step, so that rare features fire on unseen digits too
FLOOR, LIFT = 1 / 4096, 2e-3
# after training, a feature firing on fewer training digits than this has its encoder bias
# raised just enough to fire on that many (the ones it responds to most)
MIN_SUPPORT = 12
DECAY_FROM = 0.7  # the learning rate falls linearly to 0 over the last 30% of the steps
MAX_FEATURES = 16_384  # a (4096, F) float32 encoding chunk stays under 256 MiB


@dataclass
class SAE:
    """The autoencoder's parameters (float32)."""

    W_enc: np.ndarray  # (n_hidden, F)
    b_enc: np.ndarray  # (F,)
    W_dec: np.ndarray  # (F, n_hidden), rows of unit length
    b_dec: np.ndarray  # (n_hidden,)
    k: int

    @property
    def n_features(self) -> int:
        return int(self.W_enc.shape[1])

    def encode(self, a: np.ndarray) -> np.ndarray:
        """(n, F) feature activations: at most k non-zero per row."""
        pre = (np.asarray(a, np.float32) - self.b_dec) @ self.W_enc + self.b_enc
        return topk_relu(pre, self.k)

    def decode(self, f: np.ndarray) -> np.ndarray:
        return f @ self.W_dec + self.b_dec

    def reconstruct(self, a: np.ndarray, chunk: int = 4096) -> np.ndarray:
        return np.concatenate([self.decode(self.encode(a[i:i + chunk]))
                               for i in range(0, len(a), chunk)] or [a[:0]])


def topk_relu(pre: np.ndarray, k: int) -> np.ndarray:
    """ReLU, then all but each row's k largest values set to 0."""
    out = np.maximum(pre, 0)
    if k < out.shape[1]:
        drop = np.argpartition(out, -k, axis=1)[:, :-k]
        np.put_along_axis(out, drop, 0, axis=1)
    return out


def topk(pre: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k largest values, whatever their sign, the rest 0; and the mask of those
    kept (a kept value may be 0 or negative, so the mask is not ``out != 0``)."""
    kept = np.zeros(pre.shape, bool)
    if k < pre.shape[1]:
        np.put_along_axis(kept, np.argpartition(pre, -k, axis=1)[:, -k:], True, axis=1)
    else:
        kept[:] = True
    return np.where(kept, pre, 0), kept


def init_sae(acts: np.ndarray, n_features: int, k: int, seed: int) -> SAE:
    """Decoder rows start as the directions of randomly chosen digits' activations (from
    their mean), the encoder as their transpose, b_dec as the mean activation: every feature
    then fires on at least the digit it came from. Random directions in a 256-wide layer
    whose activations fill only a small part of it mostly never reach the top k, and die."""
    rng = np.random.default_rng(seed)
    mean = acts.mean(axis=0)
    pick = rng.choice(len(acts), n_features, replace=n_features > len(acts))
    w_dec = (acts[pick] - mean).astype(np.float32)
    w_dec += 1e-3 * rng.normal(size=w_dec.shape).astype(np.float32)  # no two alike, none 0
    w_dec /= np.linalg.norm(w_dec, axis=1, keepdims=True)
    sae = SAE(np.ascontiguousarray(w_dec.T), np.zeros(n_features, np.float32), w_dec,
              mean.astype(np.float32), k)
    # k features each as large as the digit overshoot: scale the encoder so that the first
    # rebuild of a sample is as close as one number can make it (the top k do not change)
    x = acts[rng.choice(len(acts), min(len(acts), 4096), replace=False)] - mean
    r = sae.decode(sae.encode(x + mean)) - mean
    sae.W_enc *= np.float32(np.sum(x * r) / max(float(np.sum(r * r)), 1e-12))
    return sae


def gradients(sae: SAE, a: np.ndarray, features: bool = False,
              dead: np.ndarray | None = None, aux_k: int = 0, aux: float = AUX) -> Any:
    """Mean over the batch of ‖â − a‖² and its gradient with respect to each parameter (the
    TopK mask is held fixed, as its derivative is zero almost everywhere); with ``features``
    also the batch's feature activations.

    With a ``dead`` mask (features that have not fired for a while) the loss gains the AuxK
    term of Gao et al. (2024): the ``aux_k`` largest dead features alone rebuild what the
    live ones missed, ``aux · ‖e − f_dead·W_dec‖²`` with ``e = a − â`` held fixed, so dead
    features get a gradient that pulls them toward the unexplained part of the layer.
    ``f_dead`` is taken from the pre-activations *without* the ReLU (``topk``): a dead
    feature pushed below zero still gets the gradient that brings it back."""
    a = np.asarray(a)
    x = a - sae.b_dec
    pre = x @ sae.W_enc + sae.b_enc
    f = topk_relu(pre, sae.k)
    err = f @ sae.W_dec + sae.b_dec - a                 # (B, n)
    n = len(a)
    loss = float(np.mean(np.sum(err.astype(np.float64) ** 2, axis=1)))
    g = (2.0 / n) * err                                  # dL/dâ
    d_pre = (g @ sae.W_dec.T) * (f > 0)                  # through the kept features only
    g_dec = f.T @ g
    if dead is not None and aux_k > 0 and dead.any():
        cols = np.flatnonzero(dead)
        f_aux, kept = topk(pre[:, cols], min(aux_k, len(cols)))
        miss = f_aux @ sae.W_dec[cols] + err               # ê − e, with e = a − â fixed
        loss += aux * float(np.mean(np.sum(miss.astype(np.float64) ** 2, axis=1)))
        g_aux = (2.0 * aux / n) * miss
        g_dec[cols] += f_aux.T @ g_aux
        d_pre[:, cols] += (g_aux @ sae.W_dec[cols].T) * kept
    grads = {"W_dec": g_dec, "b_dec": g.sum(axis=0) - d_pre.sum(axis=0) @ sae.W_enc.T,
             "W_enc": x.T @ d_pre, "b_enc": d_pre.sum(axis=0)}
    return (loss, grads, f) if features else (loss, grads)


def train_sae(acts: np.ndarray, n_features: int = FEATURES, k: int = K, epochs: int = EPOCHS,
              seed: int = 0, lr: float = LR, batch: int = BATCH, aux: float = AUX,
              lift: float = LIFT, min_support: int = MIN_SUPPORT,
              on_epoch: Callable[[int, float], None] | None = None) -> SAE:
    """Adam on shuffled mini-batches, the learning rate falling linearly to 0 from
    ``DECAY_FROM`` of the way through; after each step the decoder rows go back to unit
    length (and the gradient's part along them is removed first, so the step does not fight
    it). Features silent for the last ``DEAD_AFTER`` digits get the AuxK gradient (``aux`` = 0:
    none); features whose running firing rate is under ``FLOOR`` get their bias raised by
    ``lift`` (0: never); every ``RESAMPLE_EVERY`` digits but in the last epoch, features
    silent for that long restart (``resample``); at the end, ``support`` gives each feature
    ``min_support`` training digits (0: left as trained). Other settings tried are in
    docs/why.md."""
    for name, value, lo in (("features", n_features, 2), ("k", k, 1), ("epochs", epochs, 1)):
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= lo):
            raise bad_param(name, f"an int >= {lo}", value)
    if n_features > MAX_FEATURES:
        raise bad_param("features", f"an int in 2..{MAX_FEATURES}", n_features)
    if k > n_features:
        raise bad_param("k", f"at most the number of features ({n_features})", k)
    acts = np.ascontiguousarray(acts, np.float32)
    sae = init_sae(acts, n_features, k, seed)
    names = ("W_enc", "b_enc", "W_dec", "b_dec")
    m = {p: np.zeros_like(getattr(sae, p)) for p in names}
    v = {p: np.zeros_like(getattr(sae, p)) for p in names}
    rng = np.random.default_rng(seed + 1)
    step = 0
    silent = np.zeros(n_features, np.int64)      # digits since each feature last fired
    rate = np.full(n_features, k / n_features)  # running share of digits each fires on
    aux_k = max(1, acts.shape[1] // 2)
    seen = 0
    steps = epochs * -(-len(acts) // batch)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(acts))
        total = 0.0
        for i in range(0, len(acts), batch):
            rows = acts[order[i:i + batch]]
            dead = silent >= DEAD_AFTER
            loss, grads, f = gradients(sae, rows, True, dead, aux_k if aux > 0 else 0, aux)
            fired = np.count_nonzero(f > 0, axis=0)
            silent = np.where(fired > 0, 0, silent + len(rows))
            rate = 0.99 * rate + 0.01 * fired / len(rows)
            total += loss * len(order[i:i + batch])
            w = sae.W_dec
            grads["W_dec"] -= np.sum(grads["W_dec"] * w, axis=1, keepdims=True) * w
            step += 1
            lr_now = lr * min(1.0, (1 - step / steps) / (1 - DECAY_FROM))
            for p in names:
                m[p] = 0.9 * m[p] + 0.1 * grads[p]
                v[p] = 0.999 * v[p] + 0.001 * grads[p] ** 2
                update = lr_now * (m[p] / (1 - 0.9 ** step)) / (
                    np.sqrt(v[p] / (1 - 0.999 ** step)) + 1e-8)
                setattr(sae, p, (getattr(sae, p) - update).astype(np.float32))
            sae.b_enc[rate < FLOOR] += np.float32(lift)
            sae.W_dec /= np.linalg.norm(sae.W_dec, axis=1, keepdims=True) + 1e-12
            seen += len(rows)
            if seen >= RESAMPLE_EVERY and epoch < epochs:  # the last epoch lets them settle
                seen = 0
                gone = silent >= RESAMPLE_EVERY
                if gone.any():
                    resample(sae, acts, gone, rng, m, v)
                    silent[gone] = 0                # a fresh start, a fresh count
        if on_epoch is not None:
            on_epoch(epoch, total / len(acts))
    if min_support > 0:
        support(sae, acts, min_support)
    return sae


def support(sae: SAE, acts: np.ndarray, count: int, passes: int = 3, chunk: int = 4096
            ) -> None:
    """Raise the encoder bias of each feature that fires on fewer than ``count`` of ``acts``
    just enough that it fires on the ``count`` it responds to most: a feature reaches a
    digit's top k once its pre-activation passes that digit's k-th largest (and 0). Features
    the training left (nearly) silent then answer the digits closest to their direction
    instead of none. A lifted feature can take a digit from another lifted one, so up to
    ``passes`` passes, each over the features still short."""
    if count > len(acts):
        return
    for _ in range(passes):
        fires = np.zeros(sae.n_features, np.int64)
        for i in range(0, len(acts), chunk):
            fires += np.count_nonzero(sae.encode(acts[i:i + chunk]), axis=0)
        rare = np.flatnonzero(fires < count)
        if not len(rare):
            return
        least = np.full((len(rare), count), np.inf)  # the smallest raises that make it fire
        for i in range(0, len(acts), chunk):
            pre = (acts[i:i + chunk] - sae.b_dec) @ sae.W_enc + sae.b_enc
            kth = np.partition(pre, -sae.k, axis=1)[:, -sae.k] if sae.k < pre.shape[1] \
                else np.zeros(len(pre), pre.dtype)
            need = (np.maximum(kth, 0)[:, None] - pre[:, rare]).T.astype(np.float64)
            least = np.partition(np.concatenate([least, need], axis=1), count - 1,
                                 axis=1)[:, :count]
        raise_by = np.maximum(least.max(axis=1), 0) * (1 + 1e-6) + 1e-6
        sae.b_enc[rare] += raise_by.astype(np.float32)


def clear(idx: np.ndarray, *moments: dict[str, np.ndarray]) -> None:
    """Forget the Adam moments of features ``idx`` (a mask or indices)."""
    for moment in moments:
        moment["W_dec"][idx] = 0
        moment["W_enc"][:, idx] = 0
        moment["b_enc"][idx] = 0


def resample(sae: SAE, acts: np.ndarray, dead: np.ndarray, rng: np.random.Generator,
             *moments: dict[str, np.ndarray]) -> None:
    """Give features silent through an epoch a new start: the direction of a badly rebuilt
    digit's error, chosen with probability by that error's size, with an encoder as strong as
    a live feature's (weaker, it would never reach the top k), so they take up what the live
    features miss; their Adam moments are cleared."""
    sample = acts[rng.choice(len(acts), min(len(acts), 8192), replace=False)]
    err = sample - sae.reconstruct(sample)
    power = np.sum(err.astype(np.float64) ** 2, axis=1)
    idx = np.flatnonzero(dead)
    chosen = rng.choice(len(sample), len(idx), p=power / power.sum())
    new = err[chosen] / (np.linalg.norm(err[chosen], axis=1, keepdims=True) + 1e-12)
    live = ~dead
    scale = float(np.mean(np.linalg.norm(sae.W_enc[:, live], axis=0))) if live.any() else 1.0
    sae.W_dec[idx] = new
    sae.W_enc[:, idx] = (new * scale).T
    sae.b_enc[idx] = float(np.mean(sae.b_enc[live])) if live.any() else 0.0
    clear(idx, *moments)


@dataclass
class Atlas:
    """How well the features describe the layer, on the test set."""

    l0: float                  # mean active features per digit
    dead_fraction: float       # features that never fire on the test set
    explained_variance: float  # 1 − ‖a − â‖² / ‖a − mean‖²
    accuracy: float
    accuracy_spliced: float    # with the layer's activations replaced by â
    frequency: np.ndarray      # (F,) share of test digits each feature fires on


def assess(sae: SAE, acts: np.ndarray, rebuilt_accuracy: float, accuracy: float,
           codes: np.ndarray | None = None) -> Atlas:
    """The measures, from ``acts``' feature values ``codes`` when the caller has them (each
    encoding of 10,000 digits into 2,048 features takes seconds)."""
    f = codes if codes is not None else np.concatenate(
        [sae.encode(acts[i:i + 4096]) for i in range(0, len(acts), 4096)])
    fires = f > 0
    rebuilt = sae.decode(f).astype(np.float64)
    a64 = acts.astype(np.float64)
    ev = 1 - float(np.sum((a64 - rebuilt) ** 2) / np.sum((a64 - a64.mean(axis=0)) ** 2))
    freq = fires.mean(axis=0)
    return Atlas(float(fires.sum(axis=1).mean()), float(np.mean(freq == 0)), ev, accuracy,
                 rebuilt_accuracy, freq)


def purity(values: np.ndarray, labels: np.ndarray, top: int = 50) -> np.ndarray:
    """For each unit (a column of ``values``), the share of its ``top`` most-activating digits
    that belong to their commonest class (units that never fire: NaN)."""
    out = np.full(values.shape[1], np.nan)
    idx = np.argsort(-values, axis=0)[:top]
    for u in range(values.shape[1]):
        chosen = idx[:, u][values[idx[:, u], u] > 0]
        if chosen.size:
            out[u] = np.bincount(labels[chosen]).max() / chosen.size
    return out
