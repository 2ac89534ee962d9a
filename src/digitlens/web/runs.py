"""The runs a server may show, picked by name: requests never carry paths.

A registry maps safe names to run folders (or model files) found in the runs folder at startup
or added by ``--run`` and by training from the page. Each loaded run caches what the page asks
for again and again: the model, its test set, test predictions and per-layer test activations.
A run whose ``model.npz`` changes on disk (training still going) is reloaded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.dream import train_maxima
from digitlens.analysis.inspector import Masks
from digitlens.analysis.metrics import Evaluation, evaluate_model
from digitlens.analysis.sae_file import FILE as ATLAS_FILE
from digitlens.analysis.sae_file import run_atlas
from digitlens.data.recorded import dataset_for
from digitlens.data.sources import Dataset, load_dataset
from digitlens.errors import ModelError, NotFoundError
from digitlens.http.validate import NAME_RE
from digitlens.nn.backprop import evaluate, layer_activations
from digitlens.nn.cnn import CNN
from digitlens.nn.io import load_network
from digitlens.nn.mlp import MLP
from digitlens.nn.run import MODEL_FILE, Run
from digitlens.safeload import check_fits
from digitlens.web.convnets import FOR_DENSE, LoadedCNN
from digitlens.web.flight import Flights, limit_arenas
from digitlens.web.sweeps import point_runs

RECHECK_S = 1.0
HEAVY_AT_ONCE = 2  # test-set passes computed at the same time, whatever the requests
KEEP_RUNS = 8      # runs kept loaded with their caches (~35 MB each for the default net)
KEEP_DATASETS = 4  # datasets kept loaded (MNIST: ~55 MB)
TRAIN_CHUNK = 8192  # training digits per step of a dream's statistics (~25 MB as float32)


@dataclass
class LoadedRun:
    """One run in memory with its caches (filled lazily, under the registry's lock)."""

    name: str
    path: Path
    model: MLP
    mtime: float
    dataset: Dataset
    checked: float = 0.0   # when the model file's mtime was last looked at
    results: dict[str, Evaluation] = field(default_factory=dict)
    test_acts: dict[int, np.ndarray] = field(default_factory=dict)
    ablations: dict[Any, float] = field(default_factory=dict)
    train: dict[str, tuple[np.ndarray, list[np.ndarray]]] = field(default_factory=dict)
    means: dict[str, list[np.ndarray]] = field(default_factory=dict)
    peaks: list[np.ndarray] | None = None
    atlases: dict[Any, Any] = field(default_factory=dict)  # digitlens.web.features

    def row_peaks(self) -> list[np.ndarray]:
        """Each weight layer's ``max |w|`` per row, for ``strongest_connections`` on every
        pointer move (a loaded model never changes: a new file makes a new ``LoadedRun``)."""
        if self.peaks is None:
            self.peaks = [np.abs(w).max(axis=1) for w in self.model.weights]
        return self.peaks

    def model_file(self) -> Path:
        return self.path / MODEL_FILE if self.path.is_dir() else self.path

    def feature_layers(self) -> list[int]:
        """The hidden layers whose feature atlas the run folder holds (``run_atlas``)."""
        if not self.path.is_dir():
            return []
        return [layer for layer in range(self.model.n_layers - 1)
                if (run_atlas(self.path, layer) / ATLAS_FILE).is_file()]

    def summary(self) -> dict[str, Any]:
        m = self.model
        history = Run(self.path).history() if self.path.is_dir() else []
        last = history[-1] if history else m.meta.get("history_tail") or {}
        return {"name": self.name, "sizes": list(m.sizes), "activations": list(m.activations),
                "cost": m.cost, "describe": m.describe(), "dataset": self.dataset.name,
                "class_names": list(self.dataset.class_names), "epochs": len(history),
                "input_shape": list(m.input_shape),
                "test_accuracy": last.get("test_accuracy"),
                "preset": m.meta.get("training", {}).get("preset"),
                "n_test": int(len(self.dataset.test_labels)),
                "feature_layers": self.feature_layers(),
                "history": [{k: h.get(k) for k in ("epoch", "test_accuracy", "loss", "test_loss")}
                            for h in history]}


def model_path(path: Path) -> Path | None:
    """The model file of a run folder or a model file itself; None when there is none."""
    if path.is_dir():
        p = path / MODEL_FILE
        return p if p.is_file() else None
    return path if path.is_file() and path.suffix == ".npz" else None


class Registry:
    """Named runs; thread-safe (training threads add runs while requests read them)."""

    def __init__(self, runs_dir: Path | None = None, extra: list[Path] | None = None) -> None:
        self.runs_dir = runs_dir.resolve() if runs_dir is not None else None
        self.extra = {self.safe_name(p): p.resolve() for p in (extra or [])}
        self.paths: dict[str, Path] = {}
        self.loaded: OrderedDict[str, LoadedRun | LoadedCNN] = OrderedDict()  # <= KEEP_RUNS
        self.datasets: OrderedDict[str, Dataset] = OrderedDict()    # at most KEEP_DATASETS
        self.given: dict[str, Dataset] = {}  # a run's data named on the command line
        self.lock = threading.RLock()
        self.passes = Flights("test-set pass", running=HEAVY_AT_ONCE, waiting=None)
        limit_arenas()  # before the server's request threads exist
        self.refresh()
        self.default = next(iter(self.extra), None) or self.pick_default()

    @staticmethod
    def safe_name(path: Path) -> str:
        stem = path.name if path.is_dir() else path.stem
        cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip(".-_")
        return cleaned[:64] or "run"

    def refresh(self) -> None:
        """Rescan the runs folder; runs named on the command line always stay."""
        found: dict[str, Path] = {}
        if self.runs_dir is not None and self.runs_dir.is_dir():
            for p in sorted(self.runs_dir.iterdir()):
                if NAME_RE.match(p.name) and model_path(p) is not None:
                    found[p.name] = p
            found.update(point_runs(self.runs_dir))  # sweeps' points: SWEEP.POINT
        for n, p in self.extra.items():
            if model_path(p) is None:
                raise ModelError(f"{p}: no model here (expected a run folder or a .npz model)")
            found[n] = p
        with self.lock:
            self.paths = found

    def pick_default(self) -> str | None:
        """``default``, else the newest run of the runs folder itself (not a sweep's point)."""
        if "default" in self.paths:
            return "default"
        if not self.paths:
            return None
        own = [n for n in self.paths if self.paths[n].parent == self.runs_dir] or list(self.paths)
        return max(own, key=lambda n: model_path(self.paths[n]).stat().st_mtime)  # type: ignore[union-attr]

    def names(self) -> list[str]:
        with self.lock:
            return list(self.paths)

    def new_run_dir(self, run_name: str) -> Path:
        """A fresh folder for training, inside the runs folder (the name is already checked)."""
        if self.runs_dir is None:
            raise NotFoundError("this server has no runs folder to train into")
        path = (self.runs_dir / run_name).resolve()
        if path.parent != self.runs_dir:
            raise NotFoundError(f"bad run name {run_name!r}")
        return path

    def add(self, run_name: str, path: Path) -> None:
        with self.lock:
            self.paths[run_name] = path
            self.default = self.default or run_name

    def dataset(self, dataset_name: str, record: dict[str, Any] | None = None) -> Dataset:
        """A dataset by name, or (``record``: a model's ``meta["dataset"]``) the data that
        model was trained on, found again and re-verified; loaded once per record (one image
        folder read at two sizes, or with other sums, is two datasets)."""
        key = f"{dataset_name}\0{json.dumps(record or {}, sort_keys=True, default=str)}"
        with self.lock:
            if key not in self.datasets:
                self.datasets[key] = (dataset_for(record, fetch=False) if record
                                      else load_dataset(dataset_name, fetch=False))
                while len(self.datasets) > KEEP_DATASETS:
                    self.datasets.popitem(last=False)
            self.datasets.move_to_end(key)
            return self.datasets[key]

    def get(self, run_name: str | None) -> LoadedRun:
        """The named fully connected run (the default when None): a convolutional one is
        refused in one line (``get_any`` gives either)."""
        run = self.get_any(run_name)
        if isinstance(run, LoadedCNN):
            raise ModelError(f"run {run.name!r} is {FOR_DENSE}")
        return run

    def get_any(self, run_name: str | None) -> LoadedRun | LoadedCNN:
        """The named run of either kind, reloaded if its model file changed."""
        run_name = run_name or self.default
        with self.lock:
            path = self.paths.get(run_name) if run_name else None
            if path is None or run_name is None:
                known = ", ".join(self.paths) or "none yet: train one first"
                raise NotFoundError(f"unknown run {run_name!r}; known runs: {known}")
            cached = self.loaded.get(run_name)
            now = time.monotonic()
            if cached is not None:
                self.loaded.move_to_end(run_name)
            if cached is not None and now - cached.checked < RECHECK_S:
                return cached  # a busy server looks at the disk at most once a second
            file = model_path(path)
            if file is None:
                raise NotFoundError(f"run {run_name!r} has no model yet")
            mtime = file.stat().st_mtime
            if cached is not None and cached.mtime == mtime:
                cached.checked = now
                return cached
            try:
                model = load_network(file)
            except ModelError as exc:  # say which run, not where it lives on this machine
                reason = str(exc).split(": ", 1)[-1]
                raise ModelError(f"run {run_name!r}: {reason}") from None
            ds_name = model.meta.get("dataset", {}).get("name") or "mnist"
            ds = self.given.get(run_name) or self.dataset(ds_name, model.meta.get("dataset"))
            sizes = ([int(np.prod(model.input_shape)), model.n_classes]
                     if isinstance(model, CNN) else list(model.sizes))
            check_fits(sizes, int(np.prod(ds.test_images.shape[1:])), ds.class_names,
                       f"run {run_name!r}", f"dataset {ds.name!r}", ModelError)
            loaded: LoadedRun | LoadedCNN = (
                LoadedCNN(run_name, path, model, mtime, ds, checked=now)
                if isinstance(model, CNN) else LoadedRun(run_name, path, model, mtime, ds,
                                                         checked=now))
            self.loaded[run_name] = loaded
            self.loaded.move_to_end(run_name)
            while len(self.loaded) > KEEP_RUNS:  # a listing of 100 runs holds 8 at a time
                self.loaded.popitem(last=False)
            return loaded

    # The caches below are filled outside the registry's lock (a test-set pass takes a while,
    # and other requests take that lock to find their run) but once per key, through one
    # ``Flights``: concurrent asks for the same value wait for the one computing it (single
    # flight), and at most ``HEAVY_AT_ONCE`` passes run at a time, so 40 cold requests cost
    # one pass of memory, not 40 (the budget, docs/hostile-input.md: <= 500 MB over a fresh
    # server). Each endpoint's own cap (``digitlens.web.flight``) bounds who waits here.

    def single_flight(self, run: LoadedRun | LoadedCNN, key: Any, cache: dict[Any, Any],
                      compute: Callable[[], Any]) -> Any:
        with self.lock:
            if key in cache:
                return cache[key]

        def fill() -> Any:
            with self.lock:
                if key in cache:  # filled while this one queued
                    return cache[key]
            value = compute()
            with self.lock:
                cache[key] = value
            return value
        return self.passes.call((run.name, run.mtime, id(cache), key), fill)

    def evaluation(self, run: LoadedRun) -> Evaluation:
        ds = run.dataset
        return self.single_flight(run, "evaluation", run.results, lambda: evaluate_model(
            run.model, ds.test_images, ds.test_labels))  # type: ignore[no-any-return]

    def test_activations(self, run: LoadedRun, layer: int) -> np.ndarray:
        return self.single_flight(run, layer, run.test_acts, lambda: layer_activations(  # type: ignore[no-any-return]
            run.model, run.model.as_input(run.dataset.test_images))[layer])

    def hidden_means(self, run: LoadedRun) -> list[np.ndarray]:
        """Each hidden layer's mean test activation (float64; what mean-ablation puts in),
        computed once per loaded model from the cached test activations: the server's circuits
        and the page's (``GET /api/runs/NAME/means``) use the same numbers."""
        with self.lock:
            if "means" in run.means:
                return run.means["means"]
        # the activations first: a flight computing the means must not wait for another
        acts = [self.test_activations(run, layer) for layer in range(run.model.n_layers - 1)]
        return self.single_flight(run, "means", run.means, lambda: [  # type: ignore[no-any-return]
            a.astype(np.float64).mean(axis=0) for a in acts])

    def bounded_flight(self, run: LoadedRun | LoadedCNN, key: Any, cache: dict[Any, Any],
                       compute: Callable[[], Any], keep: int = 256) -> Any:
        """``single_flight`` into a cache of at most ``keep`` answers (emptied when full: the
        knock-outs a page asks for are many and each is cheap to compute again)."""
        with self.lock:
            if key not in cache and len(cache) > keep:
                cache.clear()
        return self.single_flight(run, key, cache, compute)

    def ablated_accuracy(self, run: LoadedRun, knock: dict[int, list[int]], masks: Masks) -> float:
        key = tuple(sorted((k, tuple(v)) for k, v in knock.items() if v))
        ds = run.dataset
        return self.bounded_flight(run, ("ablation", key), run.ablations, lambda: evaluate(  # type: ignore[no-any-return]
            run.model, run.model.as_input(ds.test_images), ds.test_labels, masks=masks,
            chunk=2048).accuracy)

    def train_stats(self, run: LoadedRun) -> tuple[np.ndarray, list[np.ndarray]]:
        """The mean training digit and every neuron's best training value (what a dream
        starts from and is measured against): one pass over the training set per model, in
        chunks (the whole set as float32 would be ~190 MB, twice over while converting)."""
        def compute() -> tuple[np.ndarray, list[np.ndarray]]:
            images, model = run.dataset.train_images, run.model
            total = np.zeros(model.sizes[0], np.float64)
            best: list[np.ndarray] = []
            for i in range(0, len(images), TRAIN_CHUNK):
                x = model.as_input(images[i:i + TRAIN_CHUNK])  # (chunk, inputs) float32
                total += x.sum(axis=0, dtype=np.float64)
                part = train_maxima(model, x)
                best = [np.maximum(b, p) for b, p in zip(best, part, strict=True)] if best else part
            return (total / len(images)).astype(np.float32), best
        return self.single_flight(run, "train", run.train, compute)  # type: ignore[no-any-return]
