"""The live drawing loop's channel: ``/api/predict`` over one WebSocket instead of a request per
pointer move.

A ``fetch`` per pointer move pays a request's set-up each time; a message on an open socket does
not (``benchmarks/bench_browser.py`` measures both loops side by side). Each text message is the
JSON body ``/api/predict`` takes, answered by the same code (``Api.answer``): a binary message
in the packed form (with ``compute_ms`` in its head, as the socket has no Server-Timing header),
a text message of JSON for ``format: "json"``, or ``{"ok": false, "error": ...}`` for a bad
request, the socket staying open. Messages are answered one at a time, in order. The Host and
Origin checks live in the kit's guard (``digitlens.http.guard``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib.util import find_spec
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from digitlens.errors import DigitlensError
from digitlens.http import validate as v
from digitlens.http.envelope import INTERNAL, fail, failure
from digitlens.http.statuses import TooLarge, UnsupportedMedia
from digitlens.web import encode

log = logging.getLogger("digitlens.web")
Answer = Callable[[dict[str, Any], float], Awaitable[tuple[bytes, str]]]
NO_LIBRARY = ("this server has no WebSocket library, so the page sends each drawing as an HTTP "
              "request instead (slower); install one with: pip install websockets")


def available() -> bool:
    """Whether uvicorn can speak WebSocket here (it needs ``websockets`` or ``wsproto``)."""
    return find_spec("websockets") is not None or find_spec("wsproto") is not None


async def refuse_http(_request: Request) -> Response:
    """A plain GET of the channel's address: say what it is (and what is missing, if so)."""
    message = ("the live drawing channel: open it as a WebSocket" if available() else NO_LIBRARY)
    return fail(message, 426, headers={"Upgrade": "websocket"})


async def serve(ws: WebSocket, answer: Answer) -> None:
    """Answer the socket's messages one by one until the page closes it."""
    await ws.accept()
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            since = time.perf_counter()
            try:
                body, media_type = await answer(request_of(message), since)
            except DigitlensError as exc:
                await ws.send_text(encode.dumps(failure(str(exc))))
                continue
            except Exception:  # a bug: say so without details, keep the socket
                log.exception("internal error on the live channel")
                await ws.send_text(encode.dumps(failure(INTERNAL)))
                continue
            if media_type == encode.PACKED_TYPE:
                await ws.send_bytes(body)
            else:
                await ws.send_text(body.decode())
    except WebSocketDisconnect:
        return


def request_of(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message's JSON object, with HTTP's body limit (uvicorn closes the socket only for
    messages beyond its own, larger ``ws_max_size``)."""
    text = message.get("text")
    if text is None:
        raise UnsupportedMedia("send each request as a text message of JSON")
    raw = text.encode()
    if len(raw) > v.MAX_BODY:
        raise TooLarge(f"message too large: at most {v.MAX_BODY} bytes")
    return v.parse_json(raw)
