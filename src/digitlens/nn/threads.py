"""How many threads BLAS may use while training.

OpenBLAS threads spin while they wait. When another busy process shares the cores (a second
training, a test suite, a web server answering requests), a two-thread matmul of training's
small shapes can run many times slower than a one-thread one. So training takes an
explicit thread count: ``--threads`` / ``DIGITLENS_THREADS``, else all cores when the machine is
idle and one when its load average says the cores are already busy.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from digitlens.errors import bad_param


def auto_threads(recorded: int | None = None) -> int:
    """``DIGITLENS_THREADS``, else ``recorded`` (a resumed run's count), else all cores on an
    idle machine and one when the 1-minute load already fills them."""
    env = os.environ.get("DIGITLENS_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise bad_param("DIGITLENS_THREADS", "an int >= 1", env) from None
    if recorded is not None:
        return recorded
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        return cores
    return 1 if load > cores - 0.5 else cores


@contextlib.contextmanager
def blas_threads(n: int | None, recorded: int | None = None) -> Iterator[int]:
    """Limit BLAS to ``n`` threads (``None``: ``auto_threads(recorded)``) inside the block."""
    count = auto_threads(recorded) if n is None else n
    if count < 1:
        raise bad_param("threads", "an int >= 1", count)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without threadpoolctl BLAS keeps its own setting
        yield count
        return
    with threadpool_limits(limits=count, user_api="blas"):
        yield count
