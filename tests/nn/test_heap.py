"""After ``keep_freed_memory`` a freed block is reused, not faulted in again page by page (in a
fresh process: the setting is the process's for good)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import resource, numpy as np
from digitlens.nn.heap import keep_freed_memory
def faults(steps, sizes=(3 << 20, 5 << 20, 2 << 20)):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):  # a step's temporaries of a few sizes, filled and freed
        arrays = [np.ones(s // 4, np.float32) for s in sizes]
        del arrays
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults(2)
print(faults(8), keep_freed_memory(), keep_freed_memory())
faults(1)
print(faults(8))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_blocks_are_reused_once_kept() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout.split()
    pages_a_step = (10 << 20) // 4096
    before, took, again, after = int(out[0]), out[1], out[2], int(out[3])
    assert took == again == "True"
    assert before >= 4 * pages_a_step      # glibc's defaults: fresh pages step after step
    assert after < pages_a_step / 4        # kept: the next steps reuse the same blocks
