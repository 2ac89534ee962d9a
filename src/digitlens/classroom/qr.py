"""The student URL as a QR code: text for the terminal, SVG for the teacher's page (segno)."""

from __future__ import annotations

import io

from digitlens.errors import DigitlensError

MISSING = "the QR code needs segno: pip install 'digitlens[classroom]'"


def make(url: str):  # type: ignore[no-untyped-def]
    try:
        import segno
    except ModuleNotFoundError:
        raise DigitlensError(MISSING) from None
    return segno.make(url, error="m", micro=False)


def terminal(url: str) -> str:
    """Half-block text (two modules a character row), light on dark as terminals show it."""
    out = io.StringIO()
    make(url).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def svg(url: str) -> bytes:
    """Black on white, big enough to scan from the back of a room when shown full width."""
    out = io.BytesIO()
    make(url).save(out, kind="svg", scale=8, border=4, dark="#000", light="#fff",
                   xmldecl=False, title="student page: " + url)
    return out.getvalue()
