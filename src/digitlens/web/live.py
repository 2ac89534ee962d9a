"""The live drawing loop's channel: ``/api/predict`` over one WebSocket instead of a request per
pointer move.

A ``fetch`` per pointer move pays a request's set-up each time; a message on an open socket does
not (``benchmarks/bench_browser.py`` measures both loops side by side). Each text message is the
JSON body ``/api/predict`` takes, answered by the same code (``Api.answer``): a binary message
in the packed form (with ``compute_ms`` in its head, as the socket has no Server-Timing header),
a text message of JSON for ``format: "json"``, or ``{"ok": false, "error": ...}`` for a bad
request, the socket staying open. Messages are answered one at a time, in order. The Host/Origin
check lives in ``app.Guard``; this module's ``origin_ok`` is its WebSocket half.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib.util import find_spec
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope
from starlette.websockets import WebSocket, WebSocketDisconnect

from digitlens.errors import DigitlensError
from digitlens.web import encode
from digitlens.web import validate as v

log = logging.getLogger("digitlens.web")
Answer = Callable[[dict[str, Any], float], Awaitable[tuple[bytes, str]]]
NO_LIBRARY = ("this server has no WebSocket library, so the page sends each drawing as an HTTP "
              "request instead (slower); install one with: pip install websockets")


def available() -> bool:
    """Whether uvicorn can speak WebSocket here (it needs ``websockets`` or ``wsproto``)."""
    return find_spec("websockets") is not None or find_spec("wsproto") is not None


def origin_ok(scope: Scope) -> bool:
    """A browser names the page that opens a socket in ``Origin``, and no CORS rule applies to
    sockets: only a page served by this very server (same host and port) may open one.
    Clients that send no Origin are not browsers and could as well use HTTP."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin")
    if origin is None:
        return True
    parts = urlsplit(origin.decode("latin-1"))
    host = headers.get(b"host", b"").decode("latin-1")
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower() != ""


async def refuse_http(_request: Request) -> Response:
    """A plain GET of the channel's address: say what it is (and what is missing, if so)."""
    message = ("the live drawing channel: open it as a WebSocket" if available() else NO_LIBRARY)
    return JSONResponse({"ok": False, "error": message}, status_code=426,
                        headers={"Upgrade": "websocket"})


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
                await ws.send_text(encode.dumps({"ok": False, "error": str(exc)}))
                continue
            except Exception:  # a bug: say so without details, keep the socket
                log.exception("internal error on the live channel")
                await ws.send_text(encode.dumps({"ok": False,
                                                 "error": "internal error (see the server log)"}))
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
        raise v.UnsupportedMedia("send each request as a text message of JSON")
    raw = text.encode()
    if len(raw) > v.MAX_BODY:
        raise v.TooLarge(f"message too large: at most {v.MAX_BODY} bytes")
    return v.parse_json(raw)
