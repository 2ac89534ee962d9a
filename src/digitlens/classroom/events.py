"""Live updates for the teacher's dashboard as server-sent events.

Every change (a drawing stored, one removed, the prompt or pause changed) is published from the
event loop to each open dashboard's queue. A dashboard that falls too far behind is dropped; its
EventSource reconnects by itself and the page reloads the state, so nothing is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from digitlens.classroom.limits import Busy

QUEUE = 2000
KEEPALIVE_S = 15.0
MAX_LISTENERS = 64


class Broadcaster:
    """Open dashboards and the events they have not read yet."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[str | None]] = set()
        self.seq = 0

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Send to every dashboard (call from the event loop)."""
        self.seq += 1
        text = f"id: {self.seq}\nevent: {event}\ndata: {json.dumps(data)}\n\n"
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
            yield "retry: 1000\n\n"
            while True:
                try:
                    text = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
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
        if len(self.queues) >= MAX_LISTENERS:
            raise Busy(f"at most {MAX_LISTENERS} dashboards can be open at once")
        q: asyncio.Queue[str | None] = asyncio.Queue(QUEUE)
        self.queues.add(q)
        return StreamingResponse(self.follow(request, q), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    def close(self) -> None:
        for q in list(self.queues):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
        self.queues.clear()
