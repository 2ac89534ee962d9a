"""Keep the memory a training step frees, so the next step reuses it instead of faulting fresh
pages in.

A convolutional step makes a few temporaries of megabytes (the first layer's patches, its maps
and their gradients). glibc's malloc often hands blocks that large straight back to the kernel
when they are freed (``munmap``, or trimming the heap's top), so a batch touches those megabytes
as new pages, one page fault per 4 KiB: a third of a LeNet-5 step. ``keep_freed_memory`` tells
glibc to serve blocks below 64 MiB from the heap and to keep up to 256 MiB of it free, as a
caching allocator does. It stays so for the life of the process: putting glibc's defaults back
would also switch off its own adaptive thresholds, and whatever ran next would fault more than
before. It changes no result, only where the bytes live; elsewhere than glibc it does nothing.
Training asks for it for a convolutional network only (an MLP's step was not measured to
gain), so a process that never trains one keeps glibc's own behaviour.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # mallopt's parameter numbers (malloc.h)
KEEP_BELOW = 64 << 20
KEEP_FREE = 256 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's thresholds once per process; whether it took (False without glibc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BELOW) and mallopt(M_TRIM_THRESHOLD, KEEP_FREE))
