"""The HTTP kit's one table: every error a server raises answers with the status (and the
Retry-After) it always had, whichever server raises it."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from digitlens.classroom import limits, store
from digitlens.classroom.app import Paused
from digitlens.errors import DataError, DigitlensError, ModelError, NotFoundError, ParameterError
from digitlens.http import sse, statuses
from digitlens.http.envelope import failure, on_error, success
from digitlens.web.flight import Busy


@pytest.mark.parametrize(("exc", "status", "retry"), [
    (DigitlensError("x"), 400, None), (DataError("x"), 400, None), (ModelError("x"), 400, None),
    (ParameterError("x"), 400, None), (NotFoundError("x"), 404, None),
    (statuses.Forbidden("x"), 403, None), (statuses.Conflict("x"), 409, None),
    (statuses.TooLarge("x"), 413, None), (statuses.UnsupportedMedia("x"), 415, None),
    (Paused("x"), 409, None), (limits.TooMany("x"), 429, "1"), (limits.Busy("x"), 503, "1"),
    (store.Unavailable("x"), 503, "1"), (Busy("x"), 503, "2"), (Busy("x", 7), 503, "7"),
])
def test_each_error_answers_with_its_status(exc: DigitlensError, status: int,
                                            retry: str | None) -> None:
    request = Request({"type": "http", "method": "GET", "path": "/api/x", "headers": []})
    response = asyncio.run(on_error(request, exc))
    assert statuses.status_of(exc) == status == response.status_code
    assert response.headers.get("retry-after") == retry
    assert response.body == b'{"ok":false,"error":"x"}'


def test_one_envelope_and_one_wire_form() -> None:
    assert success({"a": 1}) == {"ok": True, "a": 1} and success() == {"ok": True}
    assert failure("no") == {"ok": False, "error": "no"}
    assert sse.message(3, "epoch", {"n": 1}) == 'id: 3\nevent: epoch\ndata: {"n": 1}\n\n'
