"""Run real LibreOffice headless with a private profile that recalculates xlsx files on load."""

from __future__ import annotations

import subprocess
from pathlib import Path

RECALC_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop>
</item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop>
</item>
</oor:items>
"""


def profile(root: Path) -> str:
    """A fresh LibreOffice user profile whose only setting is 'always recalculate on load'."""
    user = root / "lo-profile" / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(RECALC_XCU)
    return (root / "lo-profile").as_uri()


def convert(soffice: str, files: list[Path], to: str, outdir: Path, work: Path,
            timeout: float = 180) -> list[Path]:
    """Convert ``files`` in one soffice run (``to``: 'xlsx', 'pdf'); return the outputs."""
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [soffice, f"-env:UserInstallation={profile(work)}", "--headless", "--norestore",
           "--convert-to", to, "--outdir", str(outdir), *map(str, files)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    outs = [outdir / f"{f.stem}.{to.split(':')[0]}" for f in files]
    missing = [o for o in outs if not o.exists()]
    if done.returncode or missing:
        raise RuntimeError(f"soffice failed ({done.returncode}): {done.stderr[-2000:]}")
    return outs
