"""Training from the page: one job at a time in a thread, its progress kept in an event log
(the HTTP kit's ``EventLog``) that any number of pages follow from its start.

The run is written by ``digitlens.nn.train.train`` into the registry's runs folder, so a job
that is stopped (or a server that dies) leaves a valid run that ``digitlens train`` resumes.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitlens.analysis.monitor import watch
from digitlens.data.sources import Dataset
from digitlens.errors import DigitlensError, NotFoundError
from digitlens.http.sse import EventLog
from digitlens.http.statuses import Conflict
from digitlens.nn.cnn import CNN, kernel_images
from digitlens.nn.compose import neuron_images
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig
from digitlens.nn.train import train
from digitlens.web.runs import Registry

MOSAIC_NEURONS = 64  # all of S3's hidden layer; wider layers say how many are shown


LISTENERS = 32  # pages following one job at once
FINAL = ("done", "stopped", "error")  # a job's last event: its stream ends there
KEEP_JOBS = 8  # a job keeps every epoch's mosaic; older finished jobs are dropped

class Stopped(Exception):
    """Raised inside the training loop when the user presses stop."""


def mosaic(model: MLP, n: int = MOSAIC_NEURONS) -> dict[str, Any]:
    """The first ``n`` neurons' first-layer weight images, each scaled to -1..1 (S3's video),
    ``shape``, the (rows, columns) of one image, and ``total``, how many the layer has."""
    every = neuron_images(model, 0)
    imgs = every[:n]
    peak = np.abs(imgs).reshape(len(imgs), -1).max(axis=1)
    scaled = imgs / np.where(peak > 0, peak, 1)[:, None, None]
    return {"n": int(len(imgs)), "total": int(len(every)), "shape": list(model.input_shape),
            "images": np.round(scaled.reshape(len(imgs), -1), 2).tolist()}


def kernel_mosaic(model: CNN) -> dict[str, Any]:
    """A convolutional network's first-layer kernels as the mosaic's images (channels side by
    side), each scaled to -1..1: what its first layer learns, epoch by epoch."""
    imgs = kernel_images(model.weights[0].astype(np.float64))
    peak = np.abs(imgs).reshape(len(imgs), -1).max(axis=1)
    scaled = imgs / np.where(peak > 0, peak, 1)[:, None, None]
    return {"n": int(len(imgs)), "total": int(len(imgs)), "shape": list(imgs.shape[1:]),
            "kind": "kernels", "images": np.round(scaled.reshape(len(imgs), -1), 2).tolist()}


@dataclass
class Job:
    id: str
    run: str
    config: TrainConfig
    events: EventLog = field(default_factory=lambda: EventLog(listeners=LISTENERS,
                                                               who="followers of a job"))
    state: str = "queued"   # queued, running, done, stopped, failed
    stop: threading.Event = field(default_factory=threading.Event)

    def emit(self, kind: str, **data: Any) -> None:
        self.events.append(kind, {"event": kind, "time": time.time(), **data})

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run": self.run, "state": self.state,
                "config": self.config.to_dict(), "events": len(self.events)}


class Jobs:
    """The server's training jobs; at most one runs at a time (the machine has few cores)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.jobs: dict[str, Job] = {}
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    def running(self) -> Job | None:
        return next((j for j in self.jobs.values() if j.state in ("queued", "running")), None)

    def start(self, run_name: str, config: TrainConfig, dataset: Dataset) -> Job:
        path = self.registry.new_run_dir(run_name)
        with self.lock:
            busy = self.running()
            if busy is not None:
                raise Conflict(f"a training job is already running ({busy.run}); wait or stop it")
            if run_name in self.registry.names() or path.exists():
                raise Conflict(f"a run named {run_name!r} already exists; pick another name")
            job = Job(f"job{next(self.counter)}", run_name, config)
            self.jobs[job.id] = job
            for old in list(self.jobs)[:-KEEP_JOBS]:  # finished jobs' event logs, oldest first
                if self.jobs[old].state not in ("queued", "running"):
                    del self.jobs[old]
        thread = threading.Thread(target=self._work, args=(job, dataset, path), daemon=True,
                                  name=f"digitlens-{job.id}")
        thread.start()
        return job

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"unknown training job {job_id!r}")
        return job

    def _work(self, job: Job, dataset: Dataset, path: Any) -> None:
        c = job.config
        job.state = "running"
        job.emit("start", run=job.run, epochs=c.epochs, layers=list(c.layers), label=c.label(),
                 dataset=dataset.name, n_train=int(len(dataset.train_labels)))

        def on_batch(k: int, n: int) -> None:
            if job.stop.is_set():
                raise Stopped()
            job.emit("batch", k=k, n=n) if k % 100 == 0 else None

        def on_epoch(row: dict[str, Any], model: MLP | CNN) -> None:
            if row["epoch"] == 1:
                self.registry.add(job.run, path)
            # only the newest mosaic is kept for late followers: a 230-epoch run would
            # otherwise hold 230 of them
            last = job.events.newest("epoch")
            if last is not None:
                job.events.amend(last, lambda e: {k: v for k, v in e.items() if k != "mosaic"})
            job.emit("epoch", row=row, mosaic=mosaic(model) if isinstance(model, MLP)
                     else kernel_mosaic(model))

        try:
            # one BLAS thread: the server keeps a core for the people drawing
            train(c, dataset, path, on_epoch=on_epoch, on_batch=on_batch, threads=1,
                  monitor=watch)
            job.state = "done"
            job.emit("done", run=job.run)
        except Stopped:
            job.state = "stopped"
            job.emit("stopped", run=job.run)
        except DigitlensError as exc:
            job.state = "failed"
            job.emit("error", error=str(exc))
        except Exception as exc:  # a bug: report it on the stream, keep serving
            job.state = "failed"
            job.emit("error", error=f"internal error: {type(exc).__name__}: {exc}")
