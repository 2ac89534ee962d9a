"""Which hidden neurons matter (S3's "about 12 of 64 are redundant", measured).

Importance of neuron j = (norm of its outgoing weights) × (spread of its activation over the
data): a neuron that barely varies, or whose output nobody listens to, cannot move the result.
We flag dead (output nearly constant), dim (importance well below the layer's median) and
near-duplicate neurons, then *prove* it by ablation: accuracy with each neuron switched off,
with the k least important switched off, and after pruning them and fine-tuning.

"Switched off" has two readings, both reported: output forced to 0 (``model.trace`` masks) and
output frozen at its mean over the data (the neuron carries no information but the next layer
still gets its average input; this equals pruning it and folding the mean into the next bias).

Fine-tuning a pruned net continues the run's own training (``FinetuneSettings``): same optimizer,
batch size and L2, on the run's own training digits, starting at the learning rate of its last
epoch and annealed to zero. It must not undo what the run converged to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from digitlens.errors import ParameterError, bad_param
from digitlens.nn.backprop import accuracy, evaluate, forward, layer_activations
from digitlens.nn.functions import NONLINEARITIES
from digitlens.nn.mlp import MLP
from digitlens.nn.optim import make_optimizer
from digitlens.nn.presets import training_subset
from digitlens.nn.step import BatchStepper
from digitlens.nn.train import annealed_lr, run_epoch
from digitlens.numbering import check_hidden_layer

DEAD_SPREAD = 0.01   # std below 1% of the layer's median std: the output is a constant
DIM_FRACTION = 0.25  # importance below 25% of the layer's median
DUPLICATE_CORR = 0.95
TOLERANCE = 0.005    # "redundant": freezing them at their mean costs at most 0.5 points
FINETUNE_IMAGES = 60_000  # at most this many of the run's training digits fine-tune a pruned
                          # net (one epoch; all of MNIST's 60,000)


def check_layer(model: MLP, layer: int | None) -> int:
    """A hidden layer index (0-based over hidden layers); default the last hidden layer."""
    if model.n_layers < 2:
        shape = "-".join(map(str, model.sizes))
        raise ParameterError(f"A {shape} network has no hidden layer, so it has no hidden "
                             "neurons to rank or switch off; its only neurons are the output "
                             "classes (see the 'evidence' and 'weights' views)")
    if layer is None:
        return model.n_layers - 2
    check_hidden_layer(model.sizes, layer)
    return layer


def after(model: MLP, z: np.ndarray, layer: int) -> np.ndarray:
    """The output, given weight layer ``layer``'s pre-activations ``z`` (n, n_layer): its
    nonlinearity, then the forward pass from the next layer on."""
    a = NONLINEARITIES[model.activations[layer]].function(z)
    return forward(model, a, start=layer + 1).output


def accuracy_off(model: MLP, h: np.ndarray, y: np.ndarray, layer: int, off: Sequence[int] |
                 np.ndarray, fill: np.ndarray, z_next: np.ndarray | None = None) -> float:
    """Accuracy with neurons ``off`` of ``layer`` replaced by ``fill`` (their 0 or their mean),
    as a low-rank correction of the next layer's input ``z_next`` (computed if not given)."""
    w = model.weights[layer + 1]
    z = h @ w + model.biases[layer + 1] if z_next is None else z_next
    off = np.asarray(off, np.int64)
    if off.size:
        z = z - (h[:, off] - fill[off]) @ w[off]  # (n, k) @ (k, n_next)
    return accuracy(after(model, z, layer + 1), y)


def single_ablation(model: MLP, h: np.ndarray, y: np.ndarray, layer: int,
                    fill: np.ndarray) -> np.ndarray:
    """Accuracy with each neuron switched off alone, by a rank-1 update of the next layer's
    input: z' = z − (h_j − fill_j)·W[j, :] (one multiply per neuron, not a full forward)."""
    w = model.weights[layer + 1]
    z = h @ w + model.biases[layer + 1]  # (n, n_l) @ (n_l, n_next)
    out = np.empty(h.shape[1])
    for j in range(h.shape[1]):
        zj = z - np.outer(h[:, j] - fill[j], w[j])
        out[j] = accuracy(after(model, zj, layer + 1), y)
    return out


def prune(model: MLP, layer: int, remove: Sequence[int] | np.ndarray,
          fold: np.ndarray | None = None) -> MLP:
    """A smaller network without neurons ``remove`` of hidden ``layer``. With ``fold`` (their
    constant outputs, e.g. their means) the next layer's bias absorbs fold·W, so the pruned net
    computes exactly what the original computes with those neurons frozen."""
    remove = np.unique(np.asarray(remove, np.int64))
    keep = np.setdiff1d(np.arange(model.sizes[layer + 1]), remove)
    if keep.size == 0:
        raise bad_param("remove", "fewer neurons than the layer has", len(remove))
    sizes = list(model.sizes)
    sizes[layer + 1] = int(keep.size)
    out = MLP(tuple(sizes), model.activations, model.cost, meta=dict(model.meta))
    for k in range(model.n_layers):
        w, b = model.weights[k], model.biases[k]
        if k == layer:
            w, b = w[:, keep], b[keep]
        elif k == layer + 1:
            if fold is not None and remove.size:
                b = b + np.asarray(fold, np.float64)[remove] @ w[remove].astype(np.float64)
            w = w[keep]
        out.weights[k][...] = w
        out.biases[k][...] = b
    return out


@dataclass(frozen=True)
class FinetuneSettings:
    """How a pruned net is trained a little more: the run's own optimizer, batch size and L2,
    from the learning rate of the run's last epoch down to zero (half a cosine).

    A trained net sits where its last learning rate left it. Larger steps knock it out of that
    minimum, and one short epoch does not bring it back, so fine-tuning would cost accuracy
    instead of recovering it. A fresh Adam at the run's *initial* rate is the worst case: its
    first steps move every weight by about lr whatever the gradient (m̂/√v̂ ≈ ±1), 100× the last
    steps of a cosine-scheduled run. Annealing to zero also lets a constant-rate SGD run settle
    below the noise level it trained at."""

    optimizer: str = "adam"
    lr: float = 1e-5
    batch_size: int = 128
    l2: float = 0.0
    momentum: float = 0.9
    n_train: int | None = None  # the run's training-set size, which scales L2; None: len(x)

    @classmethod
    def of(cls, model: MLP) -> FinetuneSettings:
        """The settings of the run that trained ``model`` (from its metadata); for a model
        without them, Adam at a small rate."""
        t = model.meta.get("training") or {}
        if not t:
            return cls()
        lr = (model.meta.get("history_tail") or {}).get("lr")
        if lr is None:  # the last epoch's rate: the cosine schedule ends at lr/100
            cosine = t.get("schedule") == "cosine" and int(t.get("epochs", 1)) > 1
            lr = float(t.get("lr", 1e-3)) * (0.01 if cosine else 1.0)
        size = t.get("train_size")
        return cls(str(t.get("optimizer", "adam")), float(lr), int(t.get("batch_size", 128)),
                   float(t.get("l2", 0.0)), float(t.get("momentum", 0.9)),
                   int(size) if size else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def finetune_data(model: MLP, images: np.ndarray, labels: np.ndarray,
                  limit: int | None = FINETUNE_IMAGES
                  ) -> tuple[np.ndarray, np.ndarray, FinetuneSettings]:
    """The run's own training digits (the same ``train_size`` subset it trained on, at most
    ``limit``) and its fine-tuning settings, L2 scaled by the size of its whole training set."""
    t = model.meta.get("training") or {}
    keep = training_subset(len(labels), t.get("train_size"), int(t.get("seed", 0)))
    if keep is not None:
        images, labels = images[keep], labels[keep]
    settings = replace(FinetuneSettings.of(model), n_train=len(labels))
    return images[:limit], labels[:limit], settings


def finetune(model: MLP, x: np.ndarray, y: np.ndarray, epochs: int = 1,
             settings: FinetuneSettings | None = None, seed: int = 0) -> MLP:
    """A copy of ``model`` trained a little more on float inputs ``x`` (n, 784), by default
    with the settings of the run that trained it (``FinetuneSettings.of``)."""
    s = settings if settings is not None else FinetuneSettings.of(model)
    m = model.copy()
    opt = make_optimizer(s.optimizer, m.params.size, s.momentum)
    batch = max(1, min(s.batch_size, len(x)))
    stepper = BatchStepper(m, opt, batch, s.l2, s.n_train or len(x))
    rng = np.random.default_rng(seed)
    yy = np.asarray(y, np.int64)
    per_epoch = -(-len(x) // batch)
    total = epochs * per_epoch
    for epoch in range(epochs):  # the training loop's epochs, annealed batch by batch
        perm = rng.permutation(len(x))

        def rate(k: int, done: int = epoch * per_epoch) -> float:
            return annealed_lr(s.lr, done + k, total)
        run_epoch(stepper, x, yy, perm, batch, rate)
    return m


@dataclass
class Flags:
    """One layer's neurons flagged dead, dim or near-duplicate, with the numbers behind it."""

    spread: np.ndarray       # activation std over the data
    outgoing: np.ndarray     # norm of outgoing weights
    importance: np.ndarray   # outgoing × spread
    dead: np.ndarray
    dim: np.ndarray
    duplicates: list[tuple[int, int, float]]

    def counts(self) -> dict[str, int]:
        """Dead, dim and near-duplicate neurons (those in at least one near-duplicate pair)."""
        dup = {i for i, j, _ in self.duplicates} | {j for _, j, _ in self.duplicates}
        return {"n": int(self.dead.size), "dead": int(self.dead.sum()),
                "dim": int(self.dim.sum()), "duplicates": len(dup)}


def correlation(h: np.ndarray) -> np.ndarray:
    """Pearson correlation between the columns of ``h`` (n, k): one float32 Gram matrix of the
    centred columns (a quarter of ``np.corrcoef``'s float64 time; the monitor runs it every
    epoch), scaled by the column norms, computed in float64."""
    hc = h - h.mean(axis=0, dtype=np.float64).astype(h.dtype)
    gram = (hc.T @ hc).astype(np.float64)  # (k, n) @ (n, k) -> (k, k)
    norm = np.sqrt(np.maximum(np.diag(gram), 1e-30))
    return np.atleast_2d(gram / np.outer(norm, norm))


def flag_neurons(h: np.ndarray, w_next: np.ndarray) -> Flags:
    """The one definition of dead, dim and near-duplicate, from a layer's activations ``h``
    (n, n_neurons) on some data and its outgoing weights ``w_next`` (n_neurons, n_next)."""
    spread = h.std(axis=0, dtype=np.float64)
    outgoing = np.linalg.norm(w_next.astype(np.float64), axis=1)
    importance = outgoing * spread
    med_spread = float(np.median(spread)) or 1.0
    dead = spread <= DEAD_SPREAD * med_spread
    dim = ~dead & (importance < DIM_FRACTION * float(np.median(importance)))
    live = np.flatnonzero(~dead)
    dups: list[tuple[int, int, float]] = []
    if live.size > 1:
        c = correlation(h[:, live])
        iu = np.argwhere(np.triu(c, 1) >= DUPLICATE_CORR)
        dups = [(int(live[i]), int(live[j]), float(c[i, j])) for i, j in iu]
    return Flags(spread, outgoing, importance, dead, dim, dups)


@dataclass
class NeuronReport:
    layer: int
    n: int
    importance: np.ndarray
    mean: np.ndarray
    spread: np.ndarray         # activation std over the data
    outgoing: np.ndarray       # norm of outgoing weights
    dead: np.ndarray
    dim: np.ndarray
    duplicates: list[tuple[int, int, float]]
    base_accuracy: float
    single_zero: np.ndarray    # accuracy with each neuron output forced to 0
    single_mean: np.ndarray    # ... frozen at its mean
    ks: list[int] = field(default_factory=list)
    dimmest_zero: list[float] = field(default_factory=list)
    dimmest_mean: list[float] = field(default_factory=list)
    random_mean: list[float] = field(default_factory=list)
    redundant: int = 0
    pruning: list[dict[str, float]] = field(default_factory=list)
    finetuning: dict[str, Any] = field(default_factory=dict)  # digits, epochs and settings

    @property
    def order(self) -> np.ndarray:
        """Neurons from least to most important."""
        return np.argsort(self.importance, kind="stable")

    def to_dict(self) -> dict[str, Any]:
        def r(a: Any) -> list[float]:
            return [round(float(v), 5) for v in a]
        return {"layer": self.layer, "n": self.n, "importance": r(self.importance),
                "dead": np.flatnonzero(self.dead).tolist(),
                "dim": np.flatnonzero(self.dim).tolist(),
                "duplicates": [[i, j, round(c, 4)] for i, j, c in self.duplicates],
                "base_accuracy": self.base_accuracy, "single_zero": r(self.single_zero),
                "single_mean": r(self.single_mean), "ks": self.ks,
                "dimmest_zero": r(self.dimmest_zero), "dimmest_mean": r(self.dimmest_mean),
                "random_mean": r(self.random_mean), "redundant": self.redundant,
                "tolerance": TOLERANCE, "pruning": self.pruning,
                "finetuning": self.finetuning}


def k_grid(n: int, points: int = 33) -> list[int]:
    if n <= 2 * points:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, points).round().astype(int).tolist()))


def analyse_neurons(model: MLP, x: np.ndarray, y: np.ndarray, layer: int | None = None,
                    train: tuple[np.ndarray, np.ndarray] | None = None,
                    prune_ks: Sequence[int] | None = None, finetune_epochs: int = 1,
                    seed: int = 0, finetune_with: FinetuneSettings | None = None
                    ) -> NeuronReport:
    """Importance, flags and ablations of one hidden layer on labelled inputs (x, y); with
    ``train`` (images, labels; see ``finetune_data``) also prune the k least important and
    fine-tune (``finetune_with``, default the run's own settings)."""
    layer = check_layer(model, layer)
    x = model.as_input(x)
    y = np.asarray(y, np.int64)
    h = layer_activations(model, x)[layer]  # (n, n_neurons)
    mean = h.mean(axis=0, dtype=np.float64).astype(np.float32)
    f = flag_neurons(h, model.weights[layer + 1])
    spread, outgoing, importance, dead, dim, dups = (f.spread, f.outgoing, f.importance, f.dead,
                                                     f.dim, f.duplicates)
    base = accuracy(forward(model, h, start=layer + 1).output, y)
    zeros = np.zeros_like(mean)
    rep = NeuronReport(layer, h.shape[1], importance, mean, spread, outgoing, dead, dim, dups,
                       base, single_ablation(model, h, y, layer, zeros),
                       single_ablation(model, h, y, layer, mean))
    order = rep.order
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(h.shape[1])
    rep.ks = k_grid(h.shape[1])
    z = h @ model.weights[layer + 1] + model.biases[layer + 1]
    for k in rep.ks:
        rep.dimmest_zero.append(accuracy_off(model, h, y, layer, order[:k], zeros, z))
        rep.dimmest_mean.append(accuracy_off(model, h, y, layer, order[:k], mean, z))
        rep.random_mean.append(accuracy_off(model, h, y, layer, shuffled[:k], mean, z))
    rep.redundant = redundant_count(rep.ks, rep.dimmest_mean, base)
    if train is not None:
        settings = finetune_with if finetune_with is not None else FinetuneSettings.of(model)
        x_train = model.as_input(train[0])
        rep.finetuning = {"digits": len(x_train), "epochs": finetune_epochs,
                          **settings.to_dict()}
        ks = prune_ks if prune_ks is not None else default_prune_ks(rep)
        for k in ks:
            if not 0 < k < h.shape[1]:
                continue
            small = prune(model, layer, order[:k], fold=mean)
            pruned_acc = evaluate(small, x, y).accuracy
            tuned = finetune(small, x_train, train[1], finetune_epochs, settings, seed)
            rep.pruning.append({"k": int(k), "kept": int(h.shape[1] - k), "before": base,
                                "pruned": pruned_acc,
                                "finetuned": evaluate(tuned, x, y).accuracy})
    return rep


def redundant_count(ks: list[int], accuracy: list[float], base: float) -> int:
    """Largest k such that freezing the k least important (and any fewer) costs at most
    ``TOLERANCE`` of accuracy (``accuracy``: the frozen-at-mean curve)."""
    best = 0
    for k, a in zip(ks, accuracy, strict=True):
        if a < base - TOLERANCE:
            break
        best = k
    return best


def default_prune_ks(rep: NeuronReport) -> list[int]:
    """S3's eyeballed share (12 of 64, i.e. 3/16 of the layer), the measured redundant count,
    and half the layer."""
    n = rep.n
    ks = {(3 * n) // 16, rep.redundant, n // 2}
    return sorted(k for k in ks if 0 < k < n)
