"""Training a sweep's points on Dask: a local cluster of worker processes, or any scheduler.

Tasks carry settings and paths only: each worker loads the data from its own cache (or the
given data folder) once and keeps it. Every point trains with one BLAS thread, so its numbers
are the same on any worker, alone or beside others (``digitlens train --threads 1`` gives them
too). A point's run folder is locked while a worker trains it: a task that Dask reschedules
while the first worker still lives waits, then resumes from the last finished epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from digitlens.data.sources import Dataset, load_dataset
from digitlens.errors import DigitlensError
from digitlens.nn.presets import TrainConfig

BLAS_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "DIGITLENS_THREADS": "1"}
_datasets: dict[tuple[str, str | None, bool], Dataset] = {}


def worker_dataset(name: str, data_dir: str | None, fetch: bool) -> Dataset:
    """The dataset, loaded once per worker process (never the sample in place of MNIST)."""
    key = (name, data_dir, fetch)
    if key not in _datasets:
        _datasets[key] = load_dataset(name, data_dir, fetch=fetch, fallback=False)
    return _datasets[key]


@contextlib.contextmanager
def point_lock(run_dir: Path) -> Iterator[None]:
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".sweep-lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_point(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one point into its run folder (resuming it); the task a worker runs. Errors a
    user can cause (divergence, missing data) come back as ``{"error": ...}``, not raised, so
    Dask does not retry them."""
    from digitlens.analysis.monitor import watch
    from digitlens.nn.train import train
    t0 = time.perf_counter()
    try:
        d = dict(spec["config"], layers=tuple(spec["config"]["layers"]))
        config = TrainConfig(**d)
        ds = worker_dataset(config.dataset, spec.get("data_dir"), spec.get("fetch", True))
        run_dir = Path(spec["run_dir"])
        with point_lock(run_dir):
            train(config, ds, run_dir, threads=1, monitor=watch)
        error = None
    except DigitlensError as exc:
        error = str(exc)
    except (MemoryError, ValueError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return {"error": error, "seconds": time.perf_counter() - t0, "pid": os.getpid()}


def cost(spec: dict[str, Any]) -> int:
    """A point's rough work, parameters × images × epochs: the biggest start first, so that
    the last to finish are short ones and workers are not left idle beside a long one."""
    c = spec["config"]
    params = TrainConfig(**{**c, "layers": tuple(c["layers"])}).n_params()
    return params * (c["train_size"] or 60_000) * max(1, c["epochs"])


def machine_workers() -> int:
    """The most local workers this machine takes: one per core it lets this process use
    (each worker is a process holding its own copy of the data)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


async def _identity(address: str, timeout: float) -> None:
    from distributed.comm import connect
    comm = await connect(address, timeout=timeout)
    try:
        await comm.write({"op": "identity"})
        reply = await comm.read()
    finally:
        comm.abort()
    if not isinstance(reply, dict) or "type" not in reply:
        raise ValueError(f"it answered {str(reply)[:80]!r}, not as a Dask scheduler")


def handshake(address: str, timeout: float) -> None:
    """Ask ``address`` who it is, all within ``timeout`` seconds: distributed's own client
    waits forever on a server that accepts the connection and never answers."""
    async def bounded() -> None:
        await asyncio.wait_for(_identity(address, timeout), timeout)
    try:
        asyncio.run(bounded())
    except TimeoutError:
        raise DigitlensError(f"cannot reach the Dask scheduler {address} within {timeout:g} s "
                             "(it accepted the connection but did not answer)") from None
    except Exception as exc:  # noqa: BLE001 - whatever a foreign server's bytes make of it
        why = "does not speak Dask" if isinstance(exc, MemoryError) else \
            f"{type(exc).__name__}: {str(exc)[:200]}"
        raise DigitlensError(f"cannot reach the Dask scheduler {address} within {timeout:g} s "
                             f"({why})") from None


def dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise DigitlensError("sweeps run on Dask: pip install 'digitlens[cluster]'") from None
    return distributed


class Cluster:
    """A connected Dask client, on a local cluster of ``workers`` processes or ``scheduler``."""

    def __init__(self, scheduler: str | None, workers: int | None, timeout: float = 10.0) -> None:
        d = dask()
        self.cluster = None
        logging.getLogger("distributed").setLevel(logging.ERROR)
        if scheduler:
            handshake(scheduler, timeout)
            try:
                self.client = d.Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                raise DigitlensError(f"cannot reach the Dask scheduler {scheduler} within "
                                     f"{timeout:g} s ({type(exc).__name__}: {exc})") from None
            try:
                self.client.wait_for_workers(1, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                self.close()
                raise DigitlensError(f"the Dask scheduler {scheduler} has no workers (none "
                                     f"joined within {timeout:g} s; start some with 'dask "
                                     f"worker {scheduler}')") from exc
        else:
            n = workers or machine_workers()
            # ":0": the scheduler's HTTP server on a free port, never a clash on 8787
            self.cluster = d.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                          host="127.0.0.1", dashboard_address=":0",
                                          env=BLAS_ENV, silence_logs=logging.ERROR)
            self.client = d.Client(self.cluster)
        self.where = scheduler or f"a local cluster of {workers or machine_workers()} workers"

    def n_workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def map(self, specs: list[dict[str, Any]],
            done: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
        """Run every spec; call ``done(spec, answer)`` as each finishes, in finishing order. A
        task whose workers kept dying, or that raised, answers ``{"error": ...}`` too."""
        d = dask()
        tag = uuid.uuid4().hex[:8]
        futures = {self.client.submit(run_point, s, key=f"digitlens-{tag}-{s['name']}",
                                      pure=False, priority=cost(s)): s for s in specs}
        for fut in d.as_completed(futures):
            try:
                answer = fut.result()
            except d.KilledWorker as exc:
                answer = {"error": f"its workers died while training it ({exc})"}
            except Exception as exc:  # a bug in one point must not lose the others
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            done(futures[fut], answer)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()
