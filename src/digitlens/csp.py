"""Content-Security-Policy for the pages digitlens writes as files (the single-file explorer,
the report), as strict as the served explorer's: no script but the page's own (each inline
script and style allowed by its SHA-256, so markup that reaches the page from data, such as a
class name someone wrote as ``<img onerror=…>``, can never run even if an escape were missed),
no network, no plugins, no forms. A leaf module: export and render both use it.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable


def source_hash(text: str) -> str:
    """The CSP source for one inline ``<script>`` or ``<style>`` whose content is ``text``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def policy(scripts: Iterable[str] = (), styles: Iterable[str] = (),
           files: bool = False) -> str:
    """The policy allowing exactly these inline ``scripts`` and ``styles`` (their contents);
    ``files``: images and videos may also come from files beside the page (the report)."""
    script_src = " ".join(source_hash(s) for s in scripts) or "'none'"
    style_src = " ".join(source_hash(s) for s in styles) or "'none'"
    beside = "'self' " if files else ""
    return "; ".join([
        "default-src 'none'", f"img-src {beside}data: blob:",
        *([f"media-src {beside.strip()}"] if files else []),
        f"style-src {style_src}", f"script-src {script_src}", "object-src 'none'",
        "base-uri 'none'", "form-action 'none'"])


def meta(text: str) -> str:
    """The ``<meta>`` element that applies ``text`` (it must come before any script)."""
    return f'<meta http-equiv="Content-Security-Policy" content="{html.escape(text)}">'
