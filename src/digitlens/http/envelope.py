"""The one JSON envelope: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.

Every answer of every server has this shape, whatever carries it: an HTTP response, a
WebSocket message, or the raw 400 a malformed request gets before any app sees it. A user's
error answers with its status (``digitlens.http.statuses``) and, for a busy server, when to try
again; anything else is a bug and answers 500 without details.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from digitlens.errors import DigitlensError
from digitlens.http.statuses import retry_after, status_of
from digitlens.safeload import finite_json

log = logging.getLogger("digitlens.web")
INTERNAL = "internal error (see the server log)"


def success(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ok": True, **(body or {})}


def failure(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def ok(body: dict[str, Any] | None = None, status: int = 200) -> JSONResponse:
    return JSONResponse(finite_json(success(body)), status_code=status)


def fail(message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(failure(message), status_code=status, headers=headers)


async def on_error(request: Request, exc: Exception) -> Response:
    """Any exception of a route as the envelope with its status."""
    if isinstance(exc, DigitlensError):
        response = fail(str(exc), status_of(exc))
        wait = retry_after(exc)
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        return response
    if isinstance(exc, HTTPException):
        msg = {404: f"no such page or endpoint: {request.url.path}",
               405: f"method {request.method} not allowed here"}.get(exc.status_code, exc.detail)
        return fail(msg, exc.status_code)
    log.exception("internal error on %s", request.url.path)
    return fail(INTERNAL, 500)


async def on_disconnect(request: Request, _exc: Exception) -> Response:
    """The client left mid-body: one line in the log, nobody to answer (handled here, not as
    an internal error, so no traceback is printed)."""
    client = f"{request.client.host}:{request.client.port}" if request.client else "a client"
    log.warning("%s left during its request body (%s %s)", client, request.method,
                request.url.path)
    return fail("the request body was cut off", 400)
