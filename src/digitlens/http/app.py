"""One shape for a server: its route table (``Route``/``Mount``/``WebSocketRoute`` rows, the
API under one ``Mount``), the guard in front, and the envelope for every error.

The explorer (``digitlens.web.app``) and the classroom (``digitlens.classroom.app``) each
write only their table; what wraps it is the same for both.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute

from digitlens.errors import DigitlensError
from digitlens.http.envelope import on_disconnect, on_error
from digitlens.http.guard import Guard


def build(routes: Sequence[BaseRoute], allowed_hosts: list[str] | None = None) -> Starlette:
    """The app serving ``routes``; ``allowed_hosts`` guards a loopback server against DNS
    rebinding (``digitlens.http.guard``)."""
    guard = Middleware(Guard, allowed_hosts=allowed_hosts)
    return Starlette(routes=list(routes), middleware=[guard],
                     exception_handlers={Exception: on_error, HTTPException: on_error,
                                         DigitlensError: on_error,
                                         ClientDisconnect: on_disconnect})
