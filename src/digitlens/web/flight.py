"""Bounded work per server, whatever clients send: single flight, a cap, a 503 beyond it.

Every expensive answer of the explorer (a dream, a map, the nearest digits, a nudge, an
attribution, a workbook, a test-set pass) is computed through a ``Flights``:

- **single flight**: concurrent requests with the same key share one computation (40 identical
  cold requests cost one dream, not 40);
- **a cap**: at most ``running`` computations at a time, in the flights' own threads (so waiting
  requests hold no thread of the server's pool), and at most ``waiting`` more queued; a request
  for a new key beyond that is refused with ``Busy`` (503 and ``Retry-After``) instead of
  queueing memory without bound;
- **bounded results**: the last ``keep`` results (or ``budget`` bytes of them, by ``weigh``)
  are kept, least recently used dropped first;
- **memory handed back**: after each computation the allocator returns freed memory to the
  system (``release_memory``), so a burst does not leave the server's RSS high.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from digitlens.http.statuses import Unavailable

T = TypeVar("T")
RETRY_AFTER_S = 2  # what a refused client is told to wait; a typical computation's length


class Busy(Unavailable):
    """Too many different computations of one kind at once: 503, try again later."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:  # not glibc: nothing to tune
        return None


_LIBC = _libc()
M_ARENA_MAX = -8
ARENAS = 2


def limit_arenas() -> None:
    """At most ``ARENAS`` malloc arenas: glibc gives each worker thread its own, each keeping
    what a test-set pass freed (40 cold requests left ~600 MB resident; with two, ~90 MB)."""
    if _LIBC is not None:
        _LIBC.mallopt(M_ARENA_MAX, ARENAS)


def release_memory() -> None:
    """Hand the temporaries of a computation back to the system."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class Flights:
    """Computations of one kind, by key: shared, capped, and their results bounded."""

    def __init__(self, what: str, running: int = 2, waiting: int | None = 8, keep: int = 0,
                 budget: int | None = None, weigh: Callable[[Any], int] | None = None,
                 retry_after: int = RETRY_AFTER_S) -> None:
        self.what, self.running, self.waiting = what, running, waiting
        self.keep, self.budget, self.weigh = keep, budget, weigh
        self.retry_after = retry_after
        self.pending: dict[Hashable, Future[Any]] = {}
        self.done: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()
        self.computed = 0  # how many computations actually ran (the rest were shared or kept)
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, key: Hashable, compute: Callable[[], T]) -> Future[T]:
        """The one future for ``key``: a kept result, the computation under way, or a new one;
        ``Busy`` when a new one would pass the cap."""
        with self.lock:
            if key in self.done:
                self.done.move_to_end(key)
                kept: Future[T] = Future()
                kept.set_result(self.done[key])
                return kept
            future = self.pending.get(key)
            if future is None:
                if self.waiting is not None and len(self.pending) >= self.running + self.waiting:
                    raise Busy(f"the server is busy with {len(self.pending)} {self.what} "
                               f"requests; try again in {self.retry_after} s",
                               self.retry_after)
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.running, f"flight-{self.what}")
                future = self._pool.submit(self._compute, key, compute)
                self.pending[key] = future
            return future

    def _compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        try:
            value = compute()
        except BaseException:
            with self.lock:
                self.pending.pop(key, None)
            raise
        finally:
            release_memory()
        with self.lock:
            self.computed += 1
            self.pending.pop(key, None)
            if self.keep:
                self.done[key] = value
                self._trim()
        return value

    def _trim(self) -> None:
        while len(self.done) > self.keep:
            self.done.popitem(last=False)
        if self.budget is not None and self.weigh is not None:
            total = sum(self.weigh(d) for d in self.done.values())
            while total > self.budget and len(self.done) > 1:
                total -= self.weigh(self.done.popitem(last=False)[1])

    def call(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``, from a worker thread (blocks until it is computed)."""
        return self.submit(key, compute).result()

    async def run(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``, from the event loop. A client that leaves does not cancel
        the computation others may be waiting for (``shield``)."""
        return await asyncio.shield(asyncio.wrap_future(self.submit(key, compute)))

    def forget(self) -> None:
        """Drop the kept results (tests, and a server that wants its memory back)."""
        with self.lock:
            self.done.clear()


def body_key(data: Any) -> str:
    """A short key for a request's checked JSON body (two equal bodies, one computation)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
