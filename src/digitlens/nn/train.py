"""The training loop: epochs of shuffled mini-batches, history, snapshots, resume after a crash.

Each batch is one ``digitlens.nn.step.BatchStepper.step`` (forward, backward and update over
preallocated arrays: the fast path, bit-identical to the textbook ``digitlens.nn.backprop``);
each epoch ends with an evaluation on the test set and is written to the run folder
(``digitlens.nn.run``), checkpoint last, so a run resumes from its last finished epoch and ends
bit-identical to one that was never interrupted.

OpenBLAS sums a 784-long dot product in a different order with one thread than with two (the
last bits of a weight differ after an epoch), so the thread count is part of a run's numbers: a
resumed run keeps the count its checkpoint recorded unless ``--threads``/``DIGITLENS_THREADS``
says otherwise, and each history row names the count it was trained with.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.data.sources import Dataset
from digitlens.errors import DigitlensError, ModelError, ParameterError, bad_param
from digitlens.nn.backprop import Pass, evaluate
from digitlens.nn.cnn import CNN
from digitlens.nn.cnn_step import CNNStepper, evaluate_cnn
from digitlens.nn.heap import keep_freed_memory
from digitlens.nn.io import ONLY_DENSE
from digitlens.nn.mlp import MLP
from digitlens.nn.optim import make_optimizer
from digitlens.nn.presets import TrainConfig, training_subset, validate_config
from digitlens.nn.run import CHECKPOINT_FILE, Run
from digitlens.nn.step import BatchStepper
from digitlens.nn.threads import blas_threads
from digitlens.safeload import check_fits

EpochCallback = Callable[[dict[str, Any], MLP | CNN], None]
BatchCallback = Callable[[int, int], None]
# After each epoch, what to record under the history row's "neurons", given the model and its
# activations on the first test digits (the evaluation's first chunk, already computed). The
# engine does not judge neurons itself: ``digitlens.analysis.monitor.watch`` does, a layer above.
Monitor = Callable[[MLP, list[np.ndarray]], Any]


def epoch_lr(c: TrainConfig, epoch: int) -> float:
    """Learning rate for 1-based ``epoch``: constant, or cosine from lr down to lr/100."""
    base = c.lr
    if c.schedule == "cosine" and c.epochs > 1:
        frac = (epoch - 1) / (c.epochs - 1)
        return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * frac)))
    return base


def annealed_lr(lr: float, step: int, total: int) -> float:
    """Learning rate for 0-based ``step`` of ``total``: cosine from lr down to zero, step by
    step (fine-tuning's schedule: settle a trained net without shaking it)."""
    return lr * 0.5 * (1 + math.cos(math.pi * step / total))


# the rate of the k-th batch of an epoch: one number for the whole epoch, or by batch
Rate = float | Callable[[int], float]


def run_epoch(stepper: BatchStepper | CNNStepper, x: np.ndarray, y: np.ndarray, perm: np.ndarray,
              batch_size: int, lr: Rate, on_batch: BatchCallback | None = None) -> float:
    """One epoch of the one training loop: ``stepper`` over the batches of ``perm`` in order,
    at ``lr`` (a number, or the k-th batch's rate); the sum of the batch costs. ``train`` and
    fine-tuning after pruning (``analysis.neurons.finetune``) both run their epochs here."""
    total = 0.0
    n_batches = -(-len(x) // batch_size)
    for k, i in enumerate(range(0, len(x), batch_size)):
        total += stepper.step(x, y, perm[i:i + batch_size], lr(k) if callable(lr) else lr)
        if on_batch is not None and k % 20 == 0:
            on_batch(k, n_batches)
    return total


def as_float(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


@dataclass
class RunResult:
    model: MLP | CNN
    history: list[dict[str, Any]]
    run_dir: Path | None
    resumed_from: int
    seconds_per_epoch: float

    @property
    def mlp(self) -> MLP:
        """The model, for a caller that reads fully connected networks only."""
        if not isinstance(self.model, MLP):
            raise ModelError(f"{self.run_dir or 'the run'}: a convolutional network; {ONLY_DENSE}")
        return self.model


def new_model(c: TrainConfig, ds: Dataset, init: MLP | None = None) -> MLP | CNN:
    """A fresh network per ``c``, or (fine-tuning) a copy of ``init``, whose architecture the
    config must then match."""
    check_fits(c.layers, int(np.prod(ds.image_shape)), ds.class_names, "layers",
               f"dataset {ds.name!r}", ParameterError)
    meta = {"training": c.to_dict(), "dataset": ds.record(),
            "class_names": list(ds.class_names), "input_shape": list(ds.image_shape)}
    if c.net == "lenet5":
        if init is not None:
            raise bad_param("init", "a fully connected model (a convolutional network is "
                            "trained from scratch, so far)", init.describe())
        return CNN.create((1, *ds.image_shape), c.cnn_layers(), c.seed,
                          {k: v for k, v in meta.items() if k != "input_shape"})
    if init is None:
        return MLP.create(c.layers, c.activation, c.output, c.cost, c.init, c.seed, meta)
    if (init.sizes, init.activations[-1], init.cost) != (c.layers, c.output, c.cost):
        raise bad_param("init", f"a model of the config's architecture {list(c.layers)}",
                        init.describe())
    model = init.copy()
    model.meta = {**meta, "fine_tuned_from": {k: init.meta.get(k) for k in
                                              ("training", "dataset", "history_tail")}}
    return model


def train(c: TrainConfig, ds: Dataset, run_dir: str | Path | None = None,
          on_epoch: EpochCallback | None = None, on_batch: BatchCallback | None = None,
          threads: int | None = None, monitor: Monitor | None = None,
          init: MLP | None = None) -> RunResult:
    """Train per ``c``; with ``run_dir`` write the run and resume it if it was interrupted.
    ``init``: start from this model's weights (fine-tuning) instead of a fresh one.

    ``threads`` caps BLAS threads (see ``digitlens.nn.threads``). None: ``DIGITLENS_THREADS``,
    else the count a resumed run's checkpoint recorded (so it stays bit-identical), else by
    load. ``monitor``: what to record about the neurons per epoch, e.g. dead, dim and
    near-duplicate ones (``digitlens.analysis.monitor.watch``; it only reads the model)."""
    validate_config(c)
    if run_dir is not None and os.path.lexists(run_dir) and not Path(run_dir).is_dir():
        raise DigitlensError(f"{run_dir}: exists and is not a folder; --out names a run folder "
                             "(choose another path)")
    recorded = Run(run_dir).recorded_threads() if threads is None and run_dir else None
    if c.net != "mlp":  # its step's megabytes of temporaries (digitlens.nn.heap)
        keep_freed_memory()
    with blas_threads(threads, recorded) as count:
        return train_unlimited(c, ds, run_dir, on_epoch, on_batch, count, monitor, init)


def train_unlimited(c: TrainConfig, ds: Dataset, run_dir: str | Path | None,
                    on_epoch: EpochCallback | None, on_batch: BatchCallback | None,
                    threads: int = 1, monitor: Monitor | None = None,
                    init: MLP | None = None) -> RunResult:
    """The loop of ``train``; BLAS threads are as they are, ``threads`` is what gets recorded."""
    run = Run(run_dir) if run_dir is not None else None
    model, history, opt_state, rng_state = new_model(c, ds, init), [], None, None
    if run is not None:
        ckpt = run.resume(c)
        if ckpt is not None:
            model, history = ckpt["model"], ckpt["history"][: ckpt["epoch"]]
            opt_state, rng_state = ckpt["opt"], ckpt["rng"]
        run.start(c, model)
    resumed_from = len(history)
    rng = np.random.default_rng(c.seed)
    opt = make_optimizer(c.optimizer, model.params.size, c.momentum)
    try:
        if rng_state is not None:
            rng.bit_generator.state = rng_state
        if opt_state is not None:
            opt.load_state(opt_state)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{run_dir}/{CHECKPOINT_FILE}: corrupt optimizer or random state ({exc}); "
                         "delete the run folder to start over") from None
    # uint8: the stepper scales each batch as it gathers it (a quarter of the memory traffic)
    x = np.ascontiguousarray(ds.train_images.reshape(len(ds.train_images), -1), np.uint8)
    y = ds.train_labels.astype(np.int64)
    keep = training_subset(len(x), c.train_size, c.seed)
    if keep is not None:
        x, y = x[keep], y[keep]
    xt, yt = as_float(ds.test_images), ds.test_labels.astype(np.int64)
    monitoring = monitor is not None and isinstance(model, MLP) and model.n_layers > 1
    stepper: BatchStepper | CNNStepper = (
        BatchStepper(model, opt, min(c.batch_size, len(x)), c.l2, len(x)) if isinstance(model, MLP)
        else CNNStepper(model, opt, min(c.batch_size, len(x)), c.l2, len(x)))
    n_batches = -(-len(x) // c.batch_size)
    times = []
    for epoch in range(len(history) + 1, c.epochs + 1):
        t0 = time.perf_counter()
        lr = epoch_lr(c, epoch)
        perm = rng.permutation(len(x))
        with np.errstate(all="ignore"):  # a diverging run is caught below, as a whole
            total = run_epoch(stepper, x, y, perm, c.batch_size, lr, on_batch)
        seconds = time.perf_counter() - t0
        times.append(seconds)
        if not (math.isfinite(total) and np.all(np.isfinite(model.params))):
            raise DigitlensError(f"training diverged in epoch {epoch} (loss or weights became "
                                 "infinite); nothing of this epoch was saved: lower --lr")
        first: list[Pass] = []
        scores = (evaluate(model, xt, yt, chunk=5000, first=first if monitoring else None)
                  if isinstance(model, MLP) else evaluate_cnn(model, xt, yt))
        acc, test_loss = scores.accuracy, scores.cost
        # loss: the mean of the epoch's batch costs, before L2 (comparable with test_loss)
        row: dict[str, Any] = {"epoch": epoch, "test_accuracy": acc, "test_loss": test_loss,
                               "loss": total / n_batches, "lr": lr, "seconds": seconds,
                               "threads": threads}
        if monitor is not None and monitoring and isinstance(model, MLP):  # reads; changes nothing
            row["neurons"] = monitor(model, first[0].activations)
        history.append(row)
        model.meta["history_tail"] = row
        if run is not None:
            run.write_epoch(model, history, opt.state(), dict(rng.bit_generator.state), threads)
        if on_epoch is not None:
            on_epoch(row, model)
    spe = float(np.mean(times)) if times else float(np.mean([h["seconds"] for h in history] or [0]))
    return RunResult(model, history, run.path if run else None, resumed_from, spe)
