"""Connection hardening under uvicorn: deadlines, a connection cap and JSON for bad requests.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but gives a client all the
time it wants to send a request's headers and body, and accepts connections until descriptors
run out. This protocol (uvicorn's own, subclassed) adds:

- a request deadline: from a connection's first moment, or from the first byte of each later
  request, the headers and the whole body must arrive within ``REQUEST_TIMEOUT`` seconds, else
  the connection is closed with one log line (slowloris, half-sent bodies, silent sockets);
  responses, SSE streams and WebSockets, once the request is in, are not limited;
- a cap of ``max_connections()`` open connections, below the descriptor limit: one more is
  closed at once;
- malformed requests (a negative Content-Length, broken headers) answered with the JSON
  envelope instead of uvicorn's plain text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from digitlens.http.envelope import failure

# seconds for a request's headers and body (DIGITLENS_REQUEST_TIMEOUT for tests and benchmarks)
REQUEST_TIMEOUT = float(os.environ.get("DIGITLENS_REQUEST_TIMEOUT", "10"))
KEEP_ALIVE = 5           # seconds an idle keep-alive connection stays open (uvicorn's setting)
HARD_CAP = 4096          # connections, whatever the descriptor limit
SPARE_FDS = 256          # descriptors kept for files, the listening socket and the runtime
log = logging.getLogger("digitlens.web")


def raise_fd_limit() -> int:
    """Lift the soft descriptor limit to the hard one (a server's own right); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def max_connections() -> int:
    """Open connections allowed: below the descriptor limit, so accept() never fails."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = (soft if soft != resource.RLIM_INFINITY else 1 << 20) - SPARE_FDS
    return max(16, min(HARD_CAP, room // 2))  # a WebSocket or a file download may hold two


def bad_request(msg: str) -> bytes:
    """A whole HTTP 400 answer with the JSON envelope, closing the connection."""
    body = json.dumps(failure(f"malformed HTTP request ({msg})")).encode()
    return (b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
            + body)


class DeadlineMixin:
    """The deadline, the cap and the JSON 400, over either of uvicorn's HTTP protocols."""

    transport: asyncio.Transport
    connections: set[Any]
    client: tuple[str, int] | None
    loop: asyncio.AbstractEventLoop
    _deadline: asyncio.TimerHandle | None = None
    _request_in = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        if len(self.connections) > max_connections():
            log.warning("connection limit (%d) reached: closed a new connection",
                        max_connections())
            transport.abort()
            return
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._request_in = False
        self._deadline = asyncio.get_running_loop().call_later(REQUEST_TIMEOUT, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed already, or upgraded to a WebSocket
        who = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.warning("closed the connection of %s: no complete request within %.0f s", who,
                    REQUEST_TIMEOUT)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self._request_in:
            self._arm()  # the first byte of the next request on a keep-alive connection
        super().data_received(data)  # type: ignore[misc]
        if self.transport.get_protocol() is not self:
            self._disarm()  # upgraded: the WebSocket has its own pings and limits

    def request_complete(self) -> None:
        self._disarm()
        self._request_in = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def send_400_response(self, msg: str) -> None:
        self.transport.write(bad_request(msg))
        self.transport.close()


class GuardedH11(DeadlineMixin, H11Protocol):  # type: ignore[misc]
    """uvicorn's pure-Python HTTP protocol with the guard."""

    def data_received(self, data: bytes) -> None:
        import h11
        super().data_received(data)
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED):
            self.request_complete()


try:  # uvicorn's fast parser, where httptools is installed
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is part of uvicorn[standard]
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

if HttpToolsProtocol is not None:
    class GuardedHttpTools(DeadlineMixin, HttpToolsProtocol):  # type: ignore[misc]
        """uvicorn's httptools protocol with the guard."""

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self.request_complete()


def protocol_class() -> type[asyncio.Protocol]:
    """The guarded protocol over httptools where installed, else over h11."""
    return GuardedHttpTools if HttpToolsProtocol is not None else GuardedH11
