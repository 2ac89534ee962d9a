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


def read(log: sse.EventLog, start: int | None = None, final: tuple[str, ...] = (),
         during: object = None, disconnect_after: float = 0.3) -> str:
    """What a page following ``log`` receives: the stream's text until it ends, or until the
    page goes away ``disconnect_after`` seconds after the last event; ``during()`` runs in
    another thread once the page follows (appending, as a training thread does)."""
    import threading
    import time

    async def main() -> str:
        gone = time.monotonic() + 30

        async def receive() -> dict[str, str]:
            while time.monotonic() < gone:
                await asyncio.sleep(0.01)
            return {"type": "http.disconnect"}

        request = Request({"type": "http", "method": "GET", "path": "/", "headers": []},
                          receive)
        response = log.stream(request, start, final)
        chunks: list[str] = []
        worker = None
        async for chunk in response.body_iterator:
            chunks.append(str(chunk))
            if during is not None and worker is None:
                worker = threading.Thread(target=during)  # type: ignore[arg-type]
                worker.start()
            gone = min(gone, time.monotonic() + disconnect_after)
            if chunk == sse.KEEPALIVE or "".join(chunks).count("id:") >= 50:
                break
        if worker is not None:
            worker.join()
        return "".join(chunks)

    old = sse.KEEPALIVE_S
    sse.KEEPALIVE_S = disconnect_after
    try:
        return asyncio.run(main())
    finally:
        sse.KEEPALIVE_S = old


def test_a_log_is_followed_from_any_event_to_its_last() -> None:
    log = sse.EventLog()
    for k in range(3):
        log.append("epoch", {"n": k})
    log.append("done", {"n": 3})
    whole = read(log, 0, ("done",))
    assert whole == sse.HELLO + "".join(sse.message(k + 1, "epoch", {"n": k}) for k in range(3)) \
        + sse.message(4, "done", {"n": 3})
    # a page that reconnects with Last-Event-ID 2 gets the rest; one past the end, nothing
    assert read(log, 2, ("done",)) == sse.HELLO + sse.message(3, "epoch", {"n": 2}) \
        + sse.message(4, "done", {"n": 3})
    assert read(log, 4, ("done",)) == sse.HELLO


def test_events_from_another_thread_wake_the_page() -> None:
    log = sse.EventLog()
    log.append("old", {})

    def train() -> None:
        for k in range(5):
            log.append("epoch", {"n": k})
        log.append("done", {})

    got = read(log, None, ("done",), during=train)  # from now on: the old event is not sent
    assert "event: old" not in got
    assert got.endswith(sse.message(7, "done", {}))
    assert [int(line[4:]) for line in got.splitlines() if line.startswith("id: ")] == \
        list(range(2, 8))


def test_a_page_too_far_behind_is_ended_and_amend_changes_kept_events() -> None:
    log = sse.EventLog(keep=3)
    for k in range(5):
        log.append("drawing", {"n": k})
    assert len(log) == 5 and log.first == 3
    assert read(log, 1) == sse.HELLO       # events 2 and 3 are gone: ended, it reloads
    log.amend(log.newest("drawing") or 0, lambda d: {**d, "seen": True})
    log.amend(1, lambda _: {"never": "called"})  # no longer kept: nothing happens
    assert sse.message(5, "drawing", {"n": 4, "seen": True}) in read(log, 3)


def test_a_log_refuses_more_pages_than_its_listeners() -> None:
    log = sse.EventLog(listeners=1, who="dashboards")
    loop = asyncio.new_event_loop()
    log.waiting.add((loop, asyncio.Event()))  # one page follows already
    try:
        with pytest.raises(statuses.Unavailable, match="at most 1 dashboards"):
            log.stream(Request({"type": "http", "method": "GET", "path": "/", "headers": []}))
    finally:
        loop.close()
