"""Server-sent events: a job's event list, replayed from an offset and then followed live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from digitlens.web.jobs import Job

FINAL = ("done", "stopped", "error")
POLL_S = 0.1
KEEPALIVE_S = 15.0


def encode(index: int, event: dict[str, Any]) -> str:
    """One SSE message; ``id`` lets a reconnecting EventSource resume where it stopped."""
    return f"id: {index + 1}\nevent: {event['event']}\ndata: {json.dumps(event)}\n\n"


async def follow(job: Job, start: int, request: Request) -> AsyncIterator[str]:
    i, idle = start, 0.0
    yield "retry: 1000\n\n"
    while True:
        events = job.events
        while i < len(events):
            yield encode(i, events[i])
            if events[i]["event"] in FINAL:
                return
            i += 1
            idle = 0.0
        if events and events[-1]["event"] in FINAL:  # a client that starts past the end
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_S)
        idle += POLL_S
        if idle >= KEEPALIVE_S:
            idle = 0.0
            yield ": keep-alive\n\n"


def stream(job: Job, start: int, request: Request) -> StreamingResponse:
    return StreamingResponse(follow(job, start, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
