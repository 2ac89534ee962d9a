"""Atomic writes: a reader never sees a half-written file, a crash never loses the old one.

Only regular files are ever replaced: a rename over a device node, a FIFO or a socket (``--out
/dev/null`` run as root) would swap it for a plain file, so such targets, and folders, are
refused before anything is written. A failed write (disk full, read-only folder, no permission)
is one ``WriteError`` naming the path, and the previous file stays as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from digitlens.errors import DigitlensError


class WriteError(DigitlensError):
    """A file cannot be written where asked (not a regular file, no space, no permission)."""


def _read_umask() -> int:
    """The process umask, read once (setting it is process-wide, so never do it per write)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _read_umask()


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_target(path: Path) -> None:
    """Refuse to replace anything but a regular file (or nothing)."""
    try:
        mode = os.stat(path).st_mode  # follows links: a link to /dev/null is /dev/null
    except FileNotFoundError:
        return
    except OSError as exc:
        raise WriteError(f"{path}: cannot write ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise WriteError(f"{path}: is a folder; name a file to write")
    if not stat.S_ISREG(mode):
        from digitlens.safeload import kind_of
        raise WriteError(f"{path}: is {kind_of(mode)}, not a regular file; digitlens only "
                         "writes regular files (it would replace it)")


def make_folder(path: Path) -> None:
    """``mkdir -p`` with a ``WriteError`` naming the path (a file in the way, no permission)."""
    if os.path.lexists(path) and not path.is_dir():
        raise WriteError(f"{path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{path}: cannot make this folder ({exc.strerror or exc})") from None


def check_folder(path: Path) -> None:
    """Refuse ``path`` as an output folder unless it is one, or can be made, and takes files;
    tried with a probe folder made and removed in it (or in its nearest existing parent), so
    a file, a FIFO, ``/dev/null``, a path below a file or a pseudo file system like ``/proc``
    is one ``WriteError`` before any work, and nothing is left behind."""
    if os.path.lexists(path) and not path.is_dir():
        from digitlens.safeload import kind_of
        try:
            mode = os.stat(path).st_mode
        except OSError:
            what = "a broken link"
        else:
            what = "a file" if stat.S_ISREG(mode) else kind_of(mode)
        raise WriteError(f"{path}: is {what}, not a folder; name a folder to write into")
    parent = path
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise WriteError(f"{path}: cannot be made, {parent} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".digitlens-probe-", dir=parent)
        os.rmdir(probe)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write there ({exc.strerror or exc})") from None


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:  # type: ignore[type-arg]
    """Open a temp file beside ``path``; rename it over ``path`` only if the block succeeds.
    Any OS failure on the way is a ``WriteError`` naming ``path``; the old file is kept."""
    path = Path(path)
    check_target(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; a normal file respects the umask
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        check_target(path)  # it may have been swapped while we wrote
        os.replace(tmp, path)
        tmp = None
        fsync_dir(path.parent)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write ({exc.strerror or exc}); the previous file, if "
                         "any, is unchanged") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
