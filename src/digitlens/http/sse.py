"""Server-sent events, one stream for every page that follows something: ``id``/``event``/``data``
messages, a reconnect hint, keep-alives, and the headers that stop proxies from buffering.

An ``EventLog`` holds events in order, each numbered (its SSE ``id``), and any number of pages
follow it from any number: a training job's log from its first event (or from ``Last-Event-ID``
after a dropped connection), the classroom dashboard from now on. Events may be appended from
any thread; followers are woken at once, never polled. A log may keep only its newest events: a
page that falls further behind than that is ended, its EventSource reconnects by itself and the
page reloads the state, so nothing is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from digitlens.http.statuses import Unavailable

KEEPALIVE_S = 15.0
HELLO = "retry: 1000\n\n"   # reconnect after a second
KEEPALIVE = ": keep-alive\n\n"


def message(seq: int, event: str, data: Any) -> str:
    """One SSE message; ``id`` lets a reconnecting EventSource resume where it stopped."""
    return f"id: {seq}\nevent: {event}\ndata: {json.dumps(data)}\n\n"


def response(messages: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(messages, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class EventLog:
    """Numbered events (from 1), the newest ``keep`` of them (all when None), followed by at
    most ``listeners`` pages at once."""

    def __init__(self, keep: int | None = None, listeners: int = 64, who: str = "pages") -> None:
        self.items: deque[tuple[str, Any]] = deque(maxlen=keep)
        self.first = 1                      # the number of items[0]
        self.listeners, self.who = listeners, who
        self.lock = threading.Lock()
        self.waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def __len__(self) -> int:
        """The newest event's number (0 before the first)."""
        return self.first - 1 + len(self.items)

    def append(self, event: str, data: Any) -> int:
        """Add an event (from any thread); returns its number."""
        with self.lock:
            if self.items.maxlen is not None and len(self.items) == self.items.maxlen:
                self.first += 1
            self.items.append((event, data))
            seq = len(self)
        self.wake()
        return seq

    def amend(self, seq: int, change: Callable[[Any], Any]) -> None:
        """Give event ``seq``, if still kept, the data ``change`` makes of its own (a job drops
        an older epoch's pictures)."""
        with self.lock:
            k = seq - self.first
            if 0 <= k < len(self.items):
                self.items[k] = (self.items[k][0], change(self.items[k][1]))

    def newest(self, event: str) -> int | None:
        """The number of the newest event named ``event`` still kept, or None."""
        with self.lock:
            for k in range(len(self.items) - 1, -1, -1):
                if self.items[k][0] == event:
                    return self.first + k
        return None

    def after(self, seq: int) -> tuple[list[tuple[int, str, Any]], bool]:
        """The events numbered above ``seq``, and whether some of them are no longer kept."""
        with self.lock:
            behind = seq + 1 < self.first
            start = max(seq + 1 - self.first, 0)
            return ([(self.first + k, *self.items[k]) for k in range(start, len(self.items))],
                    behind)

    def wake(self) -> None:
        with self.lock:
            waiting = list(self.waiting)
        for loop, flag in waiting:
            with contextlib.suppress(RuntimeError):  # that page's loop has closed
                loop.call_soon_threadsafe(flag.set)

    def stream(self, request: Request, start: int | None = None,
               final: Sequence[str] = ()) -> StreamingResponse:
        """Follow the log after event ``start`` (None: from now on) until one named in
        ``final``."""
        if len(self.waiting) >= self.listeners:
            raise Unavailable(f"at most {self.listeners} {self.who} can be open at once")
        return response(self.follow(request, len(self) if start is None else start, final))

    async def follow(self, request: Request, seq: int,
                     final: Sequence[str]) -> AsyncIterator[str]:
        flag = asyncio.Event()
        entry = (asyncio.get_running_loop(), flag)
        with self.lock:
            self.waiting.add(entry)
        try:
            yield HELLO
            while True:
                flag.clear()
                batch, behind = self.after(seq)
                if behind:  # too slow or too old: end it; the page reconnects and reloads
                    return
                if batch:
                    chunk = []
                    for seq, event, data in batch:
                        chunk.append(message(seq, event, data))
                        if event in final:
                            yield "".join(chunk)
                            return
                    yield "".join(chunk)  # all that waits, in one write
                    continue
                if self.items and self.items[-1][0] in final:
                    return  # a page that asks past the end of a finished log
                try:
                    await asyncio.wait_for(flag.wait(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield KEEPALIVE
        finally:
            with self.lock:
                self.waiting.discard(entry)
