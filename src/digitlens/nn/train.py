"""The training loop and its run folder: history, per-epoch snapshots, resume after a crash.

A run folder holds ``config.json``, ``model.npz`` (latest finished epoch), ``history.json``,
``snapshots/epoch-NNNN.npz`` (epoch 0 is the initial weights) and ``checkpoint.npz`` (params,
optimizer state, RNG state, BLAS thread count). Every file is written atomically and the
checkpoint is written last, so a run killed at any instant resumes from its last finished epoch
and ends bit-identical to one that was never interrupted.

OpenBLAS sums a 784-long dot product in a different order with one thread than with two (the
last bits of a weight differ after an epoch), so the thread count is part of a run's numbers: a
resumed run keeps the count its checkpoint recorded unless ``--threads``/``DIGITLENS_THREADS``
says otherwise, and each history row names the count it was trained with.
"""

from __future__ import annotations

import io
import json
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
from digitlens.fileio import atomic_write_bytes, atomic_write_text
from digitlens.nn.io import MAX_MODEL_BYTES, load_model, load_model_bytes, model_bytes
from digitlens.nn.mlp import MLP, Trace, n_params
from digitlens.nn.optim import OPTIMIZERS, make_optimizer
from digitlens.nn.presets import TrainConfig
from digitlens.nn.threads import blas_threads
from digitlens.nn.trainer import BatchStepper
from digitlens.safeload import (
    REQUIRED,
    Maybe,
    check_fits,
    check_schema,
    finite_as,
    parse_json,
    read_bounded,
    read_npz,
)

SCHEDULES = ("constant", "cosine")
MAX_PARAMS = 50_000_000  # 200 MB of float32 parameters; far beyond any MLP worth drawing
MAX_CHECKPOINT_BYTES = 3 * MAX_MODEL_BYTES  # the model, and Adam's two moments as large
MAX_RUN_JSON = 64 << 20  # config.json and history.json (a history row is ~150 bytes)
CONFIG_SCHEMA = {REQUIRED: ("layers",), "layers": [int], "activation": str, "output": str,
                 "cost": str, "init": str, "optimizer": str, "lr": float, "momentum": float,
                 "batch_size": int, "l2": float, "epochs": int, "schedule": str, "seed": int,
                 "dataset": str, "train_size": Maybe(int), "preset": str}
HISTORY_SCHEMA = {REQUIRED: ("epochs",), "epochs": [{
    REQUIRED: ("epoch",), "epoch": int, "test_accuracy": float, "test_loss": float,
    "loss": float, "lr": float, "seconds": float, "threads": int}]}
EpochCallback = Callable[[dict[str, Any], MLP], None]
BatchCallback = Callable[[int, int], None]


def validate_config(c: TrainConfig, image_shape: tuple[int, int] | None = (28, 28),
                    n_classes: int = 10) -> None:
    """One place, one message shape for every training parameter; the layers must read
    ``image_shape`` and answer ``n_classes`` (None: a saved run's config, whose model file
    says what it reads)."""
    if not (isinstance(c.lr, int | float) and c.lr > 0 and math.isfinite(c.lr)):
        raise bad_param("lr", "a float > 0", c.lr)
    if not (isinstance(c.batch_size, int) and c.batch_size >= 1):
        raise bad_param("batch_size", "an int >= 1", c.batch_size)
    if not (isinstance(c.epochs, int) and 0 <= c.epochs <= 100_000):
        raise bad_param("epochs", "an int in 0..100000", c.epochs)
    if not (isinstance(c.l2, int | float) and c.l2 >= 0 and math.isfinite(c.l2)):
        raise bad_param("l2", "a finite float >= 0", c.l2)
    if not (isinstance(c.seed, int) and 0 <= c.seed < 2**63):
        raise bad_param("seed", "an int >= 0", c.seed)
    if c.optimizer not in OPTIMIZERS:
        raise bad_param("optimizer", f"one of {', '.join(OPTIMIZERS)}", c.optimizer)
    if c.schedule not in SCHEDULES:
        raise bad_param("schedule", f"one of {', '.join(SCHEDULES)}", c.schedule)
    if c.train_size is not None and c.train_size < 1:
        raise bad_param("train_size", "an int >= 1", c.train_size)
    if len(c.layers) < 2 or any(s < 1 for s in c.layers) or n_params(c.layers) > MAX_PARAMS:
        raise bad_param("layers", f"two or more positive sizes with at most {MAX_PARAMS:,} "
                        "parameters", list(c.layers))
    n_in = image_shape[0] * image_shape[1] if image_shape else c.layers[0]
    if c.layers[0] != n_in or (image_shape and c.layers[-1] != n_classes):
        raise bad_param("layers", f"sizes starting with {n_in} and ending with {n_classes}",
                        list(c.layers))


def epoch_lr(c: TrainConfig, epoch: int) -> float:
    """Learning rate for 1-based ``epoch``: constant, or cosine from lr down to lr/100."""
    base = c.lr
    if c.schedule == "cosine" and c.epochs > 1:
        frac = (epoch - 1) / (c.epochs - 1)
        return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * frac)))
    return base


def training_subset(n: int, train_size: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of the ``train_size`` training images a run with ``seed`` trains on, or
    None when it uses all ``n``."""
    if train_size is None or train_size >= n:
        return None
    return np.sort(np.random.default_rng(seed + 1).permutation(n)[:train_size])


def as_float(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


def evaluate(model: MLP, images: np.ndarray, labels: np.ndarray,
             first: list[Trace] | None = None) -> tuple[float, float]:
    """(accuracy, mean cost) on a labelled set; ``first`` receives the trace of the first
    5,000 images (the neuron monitor reads its probe digits there, without a second pass)."""
    from digitlens.nn import functions as F
    outs = []
    for i in range(0, len(images), 5000):
        t = model.trace(images[i:i + 5000])
        if i == 0 and first is not None:
            first.append(t)
        outs.append(t.output)
    out = np.concatenate(outs)
    acc = float(np.mean(np.argmax(out, axis=1) == labels))
    return acc, F.cost(model.cost, model.output_activation, out, labels.astype(np.int64))


@dataclass
class RunResult:
    model: MLP
    history: list[dict[str, Any]]
    run_dir: Path | None
    resumed_from: int
    seconds_per_epoch: float


def new_model(c: TrainConfig, ds: Dataset, init: MLP | None = None) -> MLP:
    """A fresh network per ``c``, or (fine-tuning) a copy of ``init``, whose architecture the
    config must then match."""
    check_fits(c.layers, int(np.prod(ds.image_shape)), ds.class_names, "layers",
               f"dataset {ds.name!r}", ParameterError)
    meta = {"training": c.to_dict(), "dataset": ds.record(),
            "class_names": list(ds.class_names), "input_shape": list(ds.image_shape)}
    if init is None:
        return MLP.create(c.layers, c.activation, c.output, c.cost, c.init, c.seed, meta)
    if (init.sizes, init.activations[-1], init.cost) != (c.layers, c.output, c.cost):
        raise bad_param("init", f"a model of the config's architecture {list(c.layers)}",
                        init.describe())
    model = init.copy()
    model.meta = {**meta, "fine_tuned_from": {k: init.meta.get(k) for k in
                                              ("training", "dataset", "history_tail")}}
    return model


class Run:
    """A run folder on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def snapshots(self) -> Path:
        return self.path / "snapshots"

    def snapshot_path(self, epoch: int) -> Path:
        return self.snapshots / f"epoch-{epoch:04d}.npz"

    def snapshot_epochs(self) -> list[int]:
        """Epochs with a snapshot file (names that are not ``epoch-NNNN.npz`` are ignored)."""
        names = (p.stem.split("-", 1)[1] for p in self.snapshots.glob("epoch-*.npz"))
        return sorted(int(n) for n in names if n.isdigit() and n.isascii() and len(n) <= 6)

    def load_snapshot(self, epoch: int) -> MLP:
        return load_model(self.snapshot_path(epoch))

    def config(self) -> TrainConfig | None:
        p = self.path / "config.json"
        if not p.exists():
            return None
        d = parse_json(read_bounded(p, MAX_RUN_JSON, ModelError, "run config"),
                       f"{p}: unreadable run config", ModelError)
        check_schema(d, CONFIG_SCHEMA, str(p), "the run config", ModelError)
        d["layers"] = tuple(d["layers"])
        try:
            c = TrainConfig(**d)
            validate_config(c, None)
        except (TypeError, DigitlensError) as exc:
            raise ModelError(f"{p}: unreadable run config ({exc})") from None
        return c

    def history(self) -> list[dict[str, Any]]:
        p = self.path / "history.json"
        if not p.exists():
            return []
        d = parse_json(read_bounded(p, MAX_RUN_JSON, ModelError, "history"),
                       f"{p}: unreadable history", ModelError)
        check_schema(d, HISTORY_SCHEMA, str(p), "the history", ModelError)
        return list(d["epochs"])

    def model(self) -> MLP:
        return load_model(self.path / "model.npz")

    def write_epoch(self, model: MLP, history: list[dict[str, Any]], opt_state: dict[str, Any],
                    rng_state: dict[str, Any], threads: int) -> None:
        epoch = len(history)
        data = model_bytes(model)
        atomic_write_bytes(self.snapshot_path(epoch), data)
        atomic_write_bytes(self.path / "model.npz", data)
        atomic_write_text(self.path / "history.json", json.dumps({"epochs": history}, indent=1))
        buf = io.BytesIO()
        np.savez(buf, model=np.frombuffer(data, np.uint8), epoch=np.array(epoch),
                 rng=np.array(json.dumps(rng_state)), history=np.array(json.dumps(history)),
                 threads=np.array(threads),
                 **{f"opt_{k}": v for k, v in opt_state.items()})
        atomic_write_bytes(self.path / "checkpoint.npz", buf.getvalue())  # the commit point

    def remove_stale_temp_files(self) -> None:
        """Temp files left by a process killed mid-write (never the real files)."""
        for folder in (self.path, self.snapshots):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)

    def checkpoint_arrays(self) -> dict[str, np.ndarray] | None:
        """The checkpoint's arrays, through the loading boundary (None: no checkpoint). Its
        model is read first; every other member may then hold at most what a model of that
        size needs, checked before it inflates."""
        p = self.path / "checkpoint.npz"
        try:
            data = read_bounded(p, MAX_CHECKPOINT_BYTES, ModelError, "checkpoint")
        except ModelError:
            if not os.path.lexists(p):
                return None
            raise
        try:
            head = read_npz(data, str(p), {"model": MAX_MODEL_BYTES}, ModelError, "checkpoint",
                            only=("model",))
            if "model" not in head or head["model"].dtype != np.uint8:
                raise ModelError(f"{p}: no model in the checkpoint")
            n = load_model_bytes(head["model"].tobytes(), str(p)).params.size
            limits = {"model": MAX_MODEL_BYTES, "epoch": 256, "threads": 256,
                      "rng": MAX_RUN_JSON, "history": MAX_RUN_JSON, "opt_t": 256,
                      "opt_m": 8 * n + 256, "opt_v": 8 * n + 256}
            return read_npz(data, str(p), limits, ModelError, "checkpoint")
        except ModelError as exc:
            raise corrupt_checkpoint(p, exc) from None

    def recorded_threads(self) -> int | None:
        """The BLAS thread count the checkpoint was trained with (None: no checkpoint, or one
        written before counts were recorded)."""
        z = self.checkpoint_arrays()
        if z is None or "threads" not in z:
            return None
        t = z["threads"]
        if t.shape != () or t.dtype.kind not in "iu" or not 1 <= int(t) <= 4096:
            raise corrupt_checkpoint(self.path / "checkpoint.npz", ValueError("bad thread count"))
        return int(t)

    def read_checkpoint(self) -> dict[str, Any] | None:
        p = self.path / "checkpoint.npz"
        z = self.checkpoint_arrays()
        if z is None:
            return None
        try:
            for key, kind in (("model", "u"), ("epoch", "iu"), ("rng", "U"), ("history", "U")):
                if key not in z or z[key].dtype.kind not in kind:
                    raise ValueError(f"{key!r} missing or of dtype "
                                     f"{z[key].dtype if key in z else None}")
            epoch = int(z["epoch"])
            rng = parse_json(str(z["rng"]), "random state", ModelError)
            history = parse_json(str(z["history"]), "history", ModelError)
            check_schema({"epochs": history}, HISTORY_SCHEMA, "", "history", ModelError)
            if not isinstance(rng, dict) or not 0 <= epoch <= len(history):
                raise ValueError(f"epoch {epoch} with {len(history)} history rows")
            opt = {k[4:]: v for k, v in z.items() if k.startswith("opt_")}
            for k, v in opt.items():
                finite_as(v, np.float32, f"optimizer state {k!r}", str(p), ModelError)
            return {"model": load_model_bytes(z["model"].tobytes(), str(p)), "epoch": epoch,
                    "rng": rng, "history": history, "opt": opt}
        except (ValueError, TypeError, DigitlensError) as exc:
            raise corrupt_checkpoint(p, exc) from None


def corrupt_checkpoint(path: Path, exc: Exception) -> ModelError:
    return ModelError(f"{path}: corrupt checkpoint ({exc}); delete the run folder to start over")


def train(c: TrainConfig, ds: Dataset, run_dir: str | Path | None = None,
          on_epoch: EpochCallback | None = None, on_batch: BatchCallback | None = None,
          threads: int | None = None, monitor: bool = True,
          init: MLP | None = None) -> RunResult:
    """Train per ``c``; with ``run_dir`` write the run and resume it if it was interrupted.
    ``init``: start from this model's weights (fine-tuning) instead of a fresh one.

    ``threads`` caps BLAS threads (see ``digitlens.nn.threads``). None: ``DIGITLENS_THREADS``,
    else the count a resumed run's checkpoint recorded (so it stays bit-identical), else by
    load. ``monitor``: record dead, dim and near-duplicate neurons per epoch
    (``digitlens.analysis.monitor``; it only reads the model)."""
    validate_config(c, ds.image_shape, len(ds.class_names))
    if run_dir is not None and os.path.lexists(run_dir) and not Path(run_dir).is_dir():
        raise DigitlensError(f"{run_dir}: exists and is not a folder; --out names a run folder "
                             "(choose another path)")
    recorded = Run(run_dir).recorded_threads() if threads is None and run_dir else None
    with blas_threads(threads, recorded) as count:
        return train_unlimited(c, ds, run_dir, on_epoch, on_batch, count, monitor, init)


def train_unlimited(c: TrainConfig, ds: Dataset, run_dir: str | Path | None,
                    on_epoch: EpochCallback | None, on_batch: BatchCallback | None,
                    threads: int = 1, monitor: bool = True,
                    init: MLP | None = None) -> RunResult:
    """The loop of ``train``; BLAS threads are as they are, ``threads`` is what gets recorded."""
    run = Run(run_dir) if run_dir is not None else None
    model, history, opt_state, rng_state = new_model(c, ds, init), [], None, None
    if run is not None:
        old = run.config()
        if old is not None and old.with_overrides(epochs=c.epochs) != c:
            was, now = old.to_dict(), c.to_dict()
            diff = ", ".join(f"{k} {was[k]!r} (asked: {now[k]!r})" for k in now
                             if k != "epochs" and was.get(k) != now[k])
            raise DigitlensError(f"{run.path} holds a run with other settings: {diff}; choose "
                                 "another --out or delete it")
        ckpt = run.read_checkpoint()
        if ckpt is not None:
            model, history = ckpt["model"], ckpt["history"][: ckpt["epoch"]]
            opt_state, rng_state = ckpt["opt"], ckpt["rng"]
        if (old is not None and old.epochs != c.epochs and c.schedule != "constant"
                and history):
            raise DigitlensError(f"{run.path} follows a {c.schedule} schedule over "
                                 f"{old.epochs} epochs, which cannot be stretched afterwards; "
                                 "train into another --out")
        try:
            run.path.mkdir(parents=True, exist_ok=True)
            run.remove_stale_temp_files()
            atomic_write_text(run.path / "config.json", json.dumps(c.to_dict(), indent=1))
            if not run.snapshot_path(0).exists():
                initial = model_bytes(model)
                atomic_write_bytes(run.snapshot_path(0), initial)
                atomic_write_bytes(run.path / "model.npz", initial)
        except OSError as exc:
            raise ModelError(f"{run.path}: cannot write the run folder "
                             f"({exc.strerror or exc})") from None
    resumed_from = len(history)
    rng = np.random.default_rng(c.seed)
    opt = make_optimizer(c.optimizer, model.params.size, c.momentum)
    try:
        if rng_state is not None:
            rng.bit_generator.state = rng_state
        if opt_state is not None:
            opt.load_state(opt_state)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{run_dir}/checkpoint.npz: corrupt optimizer or random state ({exc}); "
                         "delete the run folder to start over") from None
    # uint8: the stepper scales each batch as it gathers it (a quarter of the memory traffic)
    x = np.ascontiguousarray(ds.train_images.reshape(len(ds.train_images), -1), np.uint8)
    y = ds.train_labels.astype(np.int64)
    keep = training_subset(len(x), c.train_size, c.seed)
    if keep is not None:
        x, y = x[keep], y[keep]
    xt, yt = as_float(ds.test_images), ds.test_labels.astype(np.int64)
    monitoring = monitor and model.n_layers > 1
    stepper = BatchStepper(model, opt, min(c.batch_size, len(x)), c.l2, len(x))
    n_batches = -(-len(x) // c.batch_size)
    times = []
    for epoch in range(len(history) + 1, c.epochs + 1):
        t0 = time.perf_counter()
        lr = epoch_lr(c, epoch)
        perm = rng.permutation(len(x))
        total = 0.0
        with np.errstate(all="ignore"):  # a diverging run is caught below, as a whole
            for k, i in enumerate(range(0, len(x), c.batch_size)):
                total += stepper.step(x, y, perm[i:i + c.batch_size], lr)
                if on_batch is not None and k % 20 == 0:
                    on_batch(k, n_batches)
        seconds = time.perf_counter() - t0
        times.append(seconds)
        if not (math.isfinite(total) and np.all(np.isfinite(model.params))):
            raise DigitlensError(f"training diverged in epoch {epoch} (loss or weights became "
                                 "infinite); nothing of this epoch was saved: lower --lr")
        first: list[Trace] = []
        acc, test_loss = evaluate(model, xt, yt, first if monitoring else None)
        # loss: the mean of the epoch's batch costs, before L2 (comparable with test_loss)
        row: dict[str, Any] = {"epoch": epoch, "test_accuracy": acc, "test_loss": test_loss,
                               "loss": total / n_batches, "lr": lr, "seconds": seconds,
                               "threads": threads}
        if monitoring:  # reads the first test digits' activations; changes nothing
            from digitlens.analysis.monitor import PROBE_SIZE, counts_of
            row["neurons"] = counts_of(model, [a[:PROBE_SIZE] for a in first[0].activations])
        history.append(row)
        model.meta["history_tail"] = row
        if run is not None:
            run.write_epoch(model, history, opt.state(), dict(rng.bit_generator.state), threads)
        if on_epoch is not None:
            on_epoch(row, model)
    spe = float(np.mean(times)) if times else float(np.mean([h["seconds"] for h in history] or [0]))
    return RunResult(model, history, run.path if run else None, resumed_from, spe)
