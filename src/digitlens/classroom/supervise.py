"""The class server runs in a child process that its parent watches, so that a crash no
Python code can catch still ends in one log line and a clean exit status.

SQLite maps the database's ``-shm`` file into memory. When another program truncates it or
swaps it for one that cannot grow while the server runs, the next access is a SIGBUS: the
process dies at once, without a word, and no signal handler can save it (the faulting access
would only repeat). The parent holds nothing but the child's id: it forwards Ctrl-C and
``kill`` to the child, and when the child dies of a signal it prints one line saying what
happened and that every acknowledged drawing is in the file (each was committed before it was
answered), then exits with status 1. The child dies with its parent (``PR_SET_PDEATHSIG``),
so ``kill -9`` of the command still stops the server at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1
FORWARD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (elsewhere: nothing to do)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def supervised(serve: Callable[[], int], db: Path) -> int:
    """``serve()`` in a forked child; the child's exit status, or 1 with one line on stderr
    when a signal killed it."""
    if not hasattr(os, "fork"):
        return serve()
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)  # Ctrl-C reaches the parent only, which forwards it once
        die_with_parent(parent)
        return serve()
    for forwarded in FORWARD:
        signal.signal(forwarded, lambda s, _f: forward(pid, signal.SIGTERM
                                                       if s == signal.SIGHUP else s))
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    print(f"digitlens: error: {stopped_by(os.WTERMSIG(status), db)}", file=sys.stderr,
          flush=True)
    return 1


def forward(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def stopped_by(sig: int, db: Path) -> str:
    """The one line for a server killed by ``sig``."""
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    if sig in (signal.SIGBUS, signal.SIGSEGV):
        return (f"the class server stopped ({name}): the database's shared-memory file "
                f"{db}-shm was truncated or replaced while it ran; every acknowledged drawing "
                f"is in {db}; make sure no other program changes it, then start the server "
                "again")
    return (f"the class server stopped ({name}); every acknowledged drawing is in {db}; "
            "start the server again")
