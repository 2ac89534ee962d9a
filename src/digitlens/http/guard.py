"""The guard in front of every server: safety headers on each response, the Host check that
stops DNS rebinding, and the Origin check for WebSockets.

Plain ASGI (no buffering of SSE streams). With ``allowed_hosts``, other Host headers are
refused (a page on another site cannot reach a loopback server through DNS rebinding). Two Host
headers are refused whatever the setting (RFC 9112: 400): a proxy and this server could each
read a different one. WebSockets get the Host check too, and must come from a page of this
server (``origin_ok``): no CORS rule guards them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from digitlens.http.envelope import fail

HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                                      "style-src 'self'; script-src 'self'; object-src 'none'"}


def origin_ok(scope: Scope) -> bool:
    """A browser names the page that opens a socket (or posts a form) in ``Origin``, and no
    CORS rule applies to sockets: only a page served by this very server (same host and port)
    may. Clients that send no Origin are not browsers and could as well use HTTP."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin")
    if origin is None:
        return True
    parts = urlsplit(origin.decode("latin-1"))
    host = headers.get(b"host", b"").decode("latin-1")
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower() != ""


class Guard:
    """The middleware: the headers above on every response, the Host and Origin checks."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str] | None = None) -> None:
        self.app, self.allowed = app, allowed_hosts

    def host_refused(self, scope: Scope) -> str | None:
        """Why the request's Host header is refused, or None."""
        hosts = [value for key, value in scope.get("headers") or [] if key == b"host"]
        if len(hosts) > 1:
            return "a request has one Host header (got several)"
        if not self.allowed:
            return None
        host = (hosts[0] if hosts else b"").decode("latin-1")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name in self.allowed:
            return None
        return "this server only answers to its own address (Host header refused)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = self.host_refused(scope) if scope["type"] in ("http", "websocket") else None
        if scope["type"] == "http" and refused:
            await fail(refused, 400)(scope, receive, send)
            return
        if scope["type"] == "websocket" and (refused or not origin_ok(scope)):
            await send({"type": "websocket.close", "code": 1008})  # refused: HTTP 403
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k.lower().encode(), val.encode()) for k, val in HEADERS.items()]
            await send(message)
        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)
