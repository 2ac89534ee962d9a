"""Reading a run needs the run module only: render, web and the run folder's reader import
neither the training loop nor the training step."""

from __future__ import annotations

import subprocess
import sys


def test_reading_runs_does_not_import_training() -> None:
    code = ("import sys, digitlens.nn.run, digitlens.render.views, digitlens.web.runs; "
            "print(sorted(m for m in ('digitlens.nn.train', 'digitlens.nn.step') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"
