"""Which HTTP status each error answers with: one table, for every server of the project.

The library's errors (``digitlens.errors``) know nothing of HTTP; the kinds below are the few
refusals only a server makes. A server's own error subclasses one of them (the classroom's
``Paused`` is a ``Conflict``), so its status is looked up here, never set in its module.
"""

from __future__ import annotations

from digitlens.errors import DigitlensError, NotFoundError


class Forbidden(DigitlensError):
    """Not allowed on this server (read-only, no token, another site's page)."""


class Conflict(DigitlensError):
    """The request clashes with the server's state (a run being trained, a paused lesson)."""


class TooLarge(DigitlensError):
    """A body or message beyond the limit, refused before it is read."""


class UnsupportedMedia(DigitlensError):
    """A body that is not JSON, or a message that is not text."""


class TooMany(DigitlensError):
    """One client sends faster than its limit; ``retry_after`` seconds is when to try again."""

    retry_after = 1


class Unavailable(DigitlensError):
    """The server is at a cap for now; ``retry_after`` seconds is when to try again."""

    retry_after = 1


STATUS: dict[type[DigitlensError], int] = {
    DigitlensError: 400, NotFoundError: 404, Forbidden: 403, Conflict: 409, TooLarge: 413,
    UnsupportedMedia: 415, TooMany: 429, Unavailable: 503,
}


def status_of(exc: DigitlensError) -> int:
    """The status of ``exc``'s nearest kind in ``STATUS`` (400 for any other user error)."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]  # type: ignore[index]
    return 400


def retry_after(exc: DigitlensError) -> int | None:
    """Seconds a refused client is told to wait (``Retry-After``), or None: not a busy answer."""
    if isinstance(exc, TooMany | Unavailable):
        return int(exc.retry_after)
    return None
