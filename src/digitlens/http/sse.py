"""Server-sent events, one wire form for every stream: ``id``/``event``/``data`` messages, a
reconnect hint, keep-alives, and the headers that stop proxies from buffering.

Two sources feed it. A ``Broadcaster`` fans live events out to every open page (the classroom
dashboard): published from the event loop, never replayed; a page that falls too far behind is
dropped, its EventSource reconnects by itself and reloads the state, so nothing is missed.
``replay`` follows an event list another thread appends to (a training job): from any offset
(``Last-Event-ID``) to its final event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from digitlens.http.statuses import Unavailable

KEEPALIVE_S = 15.0
POLL_S = 0.1
QUEUE = 2000
HELLO = "retry: 1000\n\n"   # reconnect after a second
KEEPALIVE = ": keep-alive\n\n"


def message(seq: int, event: str, data: Any) -> str:
    """One SSE message; ``id`` lets a reconnecting EventSource resume where it stopped."""
    return f"id: {seq}\nevent: {event}\ndata: {json.dumps(data)}\n\n"


def response(messages: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(messages, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def replay(events: Sequence[dict[str, Any]], start: int, request: Request,
                 final: Sequence[str]) -> AsyncIterator[str]:
    """``events`` (each with its ``event`` name) from index ``start``, then as they come, until
    one named in ``final``; polled, since another thread appends them."""
    i, idle = start, 0.0
    yield HELLO
    while True:
        while i < len(events):
            yield message(i + 1, events[i]["event"], events[i])
            if events[i]["event"] in final:
                return
            i += 1
            idle = 0.0
        if events and events[-1]["event"] in final:  # a client that starts past the end
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_S)
        idle += POLL_S
        if idle >= KEEPALIVE_S:
            idle = 0.0
            yield KEEPALIVE


class Broadcaster:
    """Open pages and the events they have not read yet; at most ``listeners`` at once."""

    def __init__(self, listeners: int, who: str = "pages") -> None:
        self.queues: set[asyncio.Queue[str | None]] = set()
        self.seq, self.listeners, self.who = 0, listeners, who

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Send to every page (call from the event loop)."""
        self.seq += 1
        text = message(self.seq, event, data)
        for q in list(self.queues):
            try:
                q.put_nowait(text)
            except asyncio.QueueFull:  # too slow: end its stream, it reconnects and reloads
                self.queues.discard(q)
                q.get_nowait()
                q.put_nowait(None)

    async def follow(self, request: Request,
                     q: asyncio.Queue[str | None]) -> AsyncIterator[str]:
        try:
            yield HELLO
            while True:
                try:
                    text = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield KEEPALIVE
                    continue
                chunk = [text]
                while not q.empty() and chunk[-1] is not None:  # all that waits, in one write
                    chunk.append(q.get_nowait())
                if None in chunk:
                    yield "".join(t for t in chunk if t is not None)
                    return
                yield "".join(chunk)  # type: ignore[arg-type]
        finally:
            self.queues.discard(q)

    def stream(self, request: Request) -> StreamingResponse:
        if len(self.queues) >= self.listeners:
            raise Unavailable(f"at most {self.listeners} {self.who} can be open at once")
        q: asyncio.Queue[str | None] = asyncio.Queue(QUEUE)
        self.queues.add(q)
        return response(self.follow(request, q))

    def close(self) -> None:
        for q in list(self.queues):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
        self.queues.clear()
