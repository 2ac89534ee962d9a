"""A training run's folder: its layout, and reading, writing and resuming it.

A run folder holds ``config.json``, ``model.npz`` (latest finished epoch), ``history.json``,
``snapshots/epoch-NNNN.npz`` (epoch 0 is the initial weights) and ``checkpoint.npz`` (params,
optimizer state, RNG state, BLAS thread count). Every file is written atomically and the
checkpoint is written last, so a run killed at any instant resumes from its last finished epoch
and ends bit-identical to one that was never interrupted (``digitlens.nn.train``).

Reading a run (render, report, web, sweeps) needs this module only, not the training loop.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError, ModelError
from digitlens.fileio import atomic_write_bytes, atomic_write_text
from digitlens.nn.cnn import CNN
from digitlens.nn.io import (
    MAX_MODEL_BYTES,
    MODEL_FILE,
    load_model,
    load_network_bytes,
    network_bytes,
)
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig, validate_config
from digitlens.safeload import (
    REQUIRED,
    Maybe,
    check_schema,
    finite_as,
    parse_json,
    read_bounded,
    read_npz,
)

# The layout: every name a run folder uses (MODEL_FILE, "model.npz", is also what
# ``digitlens.nn.io.load_model`` opens when given a folder).
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
CHECKPOINT_FILE = "checkpoint.npz"
SNAPSHOTS = "snapshots"
SNAPSHOT = "epoch-{epoch:04d}.npz"
SNAPSHOT_GLOB = "epoch-*.npz"
__all__ = ["CHECKPOINT_FILE", "CONFIG_FILE", "HISTORY_FILE", "MODEL_FILE", "SNAPSHOTS", "Run",
           "is_run"]

MAX_CHECKPOINT_BYTES = 3 * MAX_MODEL_BYTES  # the model, and Adam's two moments as large
MAX_RUN_JSON = 64 << 20  # config.json and history.json (a history row is ~150 bytes)
CONFIG_SCHEMA = {REQUIRED: ("layers",), "layers": [int], "activation": str, "output": str,
                 "cost": str, "init": str, "optimizer": str, "lr": float, "momentum": float,
                 "batch_size": int, "l2": float, "epochs": int, "schedule": str, "seed": int,
                 "dataset": str, "train_size": Maybe(int), "preset": str, "net": str}
HISTORY_SCHEMA = {REQUIRED: ("epochs",), "epochs": [{
    REQUIRED: ("epoch",), "epoch": int, "test_accuracy": float, "test_loss": float,
    "loss": float, "lr": float, "seconds": float, "threads": int}]}


def is_run(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a model (a run, finished or not)."""
    return (Path(path) / MODEL_FILE).is_file()


class Run:
    """A run folder on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def snapshots(self) -> Path:
        return self.path / SNAPSHOTS

    def snapshot_path(self, epoch: int) -> Path:
        return self.snapshots / SNAPSHOT.format(epoch=epoch)

    def snapshot_epochs(self) -> list[int]:
        """Epochs with a snapshot file (names that are not ``epoch-NNNN.npz`` are ignored)."""
        names = (p.stem.split("-", 1)[1] for p in self.snapshots.glob(SNAPSHOT_GLOB))
        return sorted(int(n) for n in names if n.isdigit() and n.isascii() and len(n) <= 6)

    def load_snapshot(self, epoch: int) -> MLP:
        return load_model(self.snapshot_path(epoch))

    def config(self) -> TrainConfig | None:
        p = self.path / CONFIG_FILE
        if not p.exists():
            return None
        d = parse_json(read_bounded(p, MAX_RUN_JSON, ModelError, "run config"),
                       f"{p}: unreadable run config", ModelError)
        check_schema(d, CONFIG_SCHEMA, str(p), "the run config", ModelError)
        d["layers"] = tuple(d["layers"])
        try:
            c = TrainConfig(**d)
            validate_config(c)
        except (TypeError, DigitlensError) as exc:
            raise ModelError(f"{p}: unreadable run config ({exc})") from None
        return c

    def history(self) -> list[dict[str, Any]]:
        p = self.path / HISTORY_FILE
        if not p.exists():
            return []
        d = parse_json(read_bounded(p, MAX_RUN_JSON, ModelError, "history"),
                       f"{p}: unreadable history", ModelError)
        check_schema(d, HISTORY_SCHEMA, str(p), "the history", ModelError)
        return list(d["epochs"])

    def model(self) -> MLP:
        return load_model(self.path / MODEL_FILE)

    def write_epoch(self, model: MLP | CNN, history: list[dict[str, Any]],
                    opt_state: dict[str, Any], rng_state: dict[str, Any], threads: int) -> None:
        epoch = len(history)
        data = network_bytes(model)
        atomic_write_bytes(self.snapshot_path(epoch), data)
        atomic_write_bytes(self.path / MODEL_FILE, data)
        atomic_write_text(self.path / HISTORY_FILE, json.dumps({"epochs": history}, indent=1))
        buf = io.BytesIO()
        np.savez(buf, model=np.frombuffer(data, np.uint8), epoch=np.array(epoch),
                 rng=np.array(json.dumps(rng_state)), history=np.array(json.dumps(history)),
                 threads=np.array(threads),
                 **{f"opt_{k}": v for k, v in opt_state.items()})
        atomic_write_bytes(self.path / CHECKPOINT_FILE, buf.getvalue())  # the commit point

    def resume(self, config: TrainConfig) -> dict[str, Any] | None:
        """The checkpoint to continue ``config``'s run from (None: nothing trained yet).
        Refuses a folder that holds a run with other settings, and a scheduled run whose
        length would change after it started (only a constant rate can be extended)."""
        old = self.config()
        if old is not None and old.with_overrides(epochs=config.epochs) != config:
            was, now = old.to_dict(), config.to_dict()
            diff = ", ".join(f"{k} {was[k]!r} (asked: {now[k]!r})" for k in now
                             if k != "epochs" and was.get(k) != now[k])
            raise DigitlensError(f"{self.path} holds a run with other settings: {diff}; choose "
                                 "another --out or delete it")
        ckpt = self.read_checkpoint()
        if (old is not None and old.epochs != config.epochs and config.schedule != "constant"
                and ckpt is not None and ckpt["epoch"] > 0):
            raise DigitlensError(f"{self.path} follows a {config.schedule} schedule over "
                                 f"{old.epochs} epochs, which cannot be stretched afterwards; "
                                 "train into another --out")
        return ckpt

    def start(self, config: TrainConfig, model: MLP | CNN) -> None:
        """Create the folder (or take over an interrupted one): write the config, and the
        initial weights as epoch 0's snapshot and the model unless a snapshot 0 exists."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.remove_stale_temp_files()
            atomic_write_text(self.path / CONFIG_FILE, json.dumps(config.to_dict(), indent=1))
            if not self.snapshot_path(0).exists():
                initial = network_bytes(model)
                atomic_write_bytes(self.snapshot_path(0), initial)
                atomic_write_bytes(self.path / MODEL_FILE, initial)
        except OSError as exc:
            raise ModelError(f"{self.path}: cannot write the run folder "
                             f"({exc.strerror or exc})") from None

    def remove_stale_temp_files(self) -> None:
        """Temp files left by a process killed mid-write (never the real files)."""
        for folder in (self.path, self.snapshots):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)

    def checkpoint_arrays(self) -> dict[str, np.ndarray] | None:
        """The checkpoint's arrays, through the loading boundary (None: no checkpoint). Its
        model is read first; every other member may then hold at most what a model of that
        size needs, checked before it inflates."""
        p = self.path / CHECKPOINT_FILE
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
            n = load_network_bytes(head["model"].tobytes(), str(p)).params.size
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
            raise corrupt_checkpoint(self.path / CHECKPOINT_FILE, ValueError("bad thread count"))
        return int(t)

    def read_checkpoint(self) -> dict[str, Any] | None:
        p = self.path / CHECKPOINT_FILE
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
            return {"model": load_network_bytes(z["model"].tobytes(), str(p)), "epoch": epoch,
                    "rng": rng, "history": history, "opt": opt}
        except (ValueError, TypeError, DigitlensError) as exc:
            raise corrupt_checkpoint(p, exc) from None


def corrupt_checkpoint(path: Path, exc: Exception) -> ModelError:
    return ModelError(f"{path}: corrupt checkpoint ({exc}); delete the run folder to start over")


