"""Peak memory of the JSON reader on big hostile files, as a multiple of the file's size.

Each case writes one file (a run's ``history.json``, a JSON network, a safetensors header) that
is almost all one long string, the shape that made the old nesting check (a regex over JSON
strings) cost ~120 bytes per character, and loads it through digitlens's own loader in a fresh
child process under ``tracemalloc`` (NumPy's buffers included). The budget: at most 3× the file
plus a constant (the bytes read, the decoded text and the parsed string are one copy each).
The old check is measured too, on a small file (it is linear, only far steeper). Two networks
that are numbers only come beside them, in the verdict too: the default 784-512-256-10 (6.5 MB)
and a wide one of about the size asked for. Their weights are parsed straight into float64
arrays (``parse_json(packed=True)``: 16 bytes a number while parsing, where a Python float in a
list took 32) and the file's bytes are let go once decoded.

Usage: python benchmarks/bench_json_reader.py [--mb 60]
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from digitlens.export.json_format import to_json_text
from digitlens.nn.mlp import MLP

BUDGET = 3.0
SLACK = 8 << 20  # the constant: interpreter, NumPy chunks
CHILD = """
import sys, tracemalloc
from pathlib import Path
from digitlens.errors import DigitlensError
kind, path = sys.argv[1], Path(sys.argv[2])
if kind == "history":
    from digitlens.nn.run import Run
    load = lambda: Run(path).history()
elif kind == "network":
    from digitlens.export.json_format import import_json
    load = lambda: import_json(path)
elif kind in ("numbers", "wide"):
    from digitlens.export.json_format import import_json
    load = lambda: import_json(path)
elif kind == "safetensors":
    from digitlens.export.state_dict import check_safetensors_header
    load = lambda: check_safetensors_header(path.read_bytes(), str(path))
else:
    from digitlens.safeload import parse_json
    load = lambda: parse_json(path.read_bytes(), str(path))
tracemalloc.start()
try:
    load()
    outcome = "loaded"
except DigitlensError as exc:
    outcome = "refused: " + str(exc)[-70:]
print(tracemalloc.get_traced_memory()[1], outcome)
"""

OLD = r"""
import re, sys, tracemalloc
from pathlib import Path
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
text = Path(sys.argv[1]).read_bytes().decode()
tracemalloc.start()
JSON_STRING.sub("", text)
print(tracemalloc.get_traced_memory()[1])
"""


def write_cases(folder: Path, size: int) -> dict[str, Path]:
    """One file per loader, each ``size`` bytes give or take a few."""
    run = folder / "run"
    run.mkdir()
    (run / "history.json").write_text(json.dumps({"epochs": [{"epoch": 1, "note": "a" * size}]}))
    network = folder / "network.json"
    network.write_text(json.dumps({"format": "digitlens-network", "name": "n" * size}))
    header = json.dumps({"__metadata__": {"note": "h" * min(size, (1 << 24) - 64)}}).encode()
    safetensors = folder / "model.safetensors"
    safetensors.write_bytes(struct.pack("<Q", len(header)) + header)
    numbers = folder / "numbers.json"
    numbers.write_text(to_json_text(MLP.create((784, 512, 256, 10), seed=0)))
    wide = folder / "wide.json"  # ~12 characters a number as digitlens writes them
    width = max(16, size // 12 // 794)
    wide.write_text(to_json_text(MLP.create((784, width, 10), seed=0)))
    escaped = folder / "escaped.json"  # escapes are what the check drops before counting
    escaped.write_text(json.dumps(["\\\"é[" * (size // 10)], ensure_ascii=False))
    return {"history": run, "network": network, "safetensors": safetensors, "escaped": escaped,
            "numbers": numbers, "wide": wide}


def measure(kind: str, path: Path) -> tuple[int, str]:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True,
                         text=True, check=True).stdout.split(maxsplit=1)
    return int(out[0]), out[1].strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=60.0, help="size of each file (default 60)")
    args = ap.parse_args()
    size = int(args.mb * 1e6)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        cases = write_cases(Path(tmp), size)
        print(f"{'file':<12} {'size MB':>8} {'peak MB':>8} {'ratio':>6}  outcome")
        for kind, path in cases.items():
            file = path / "history.json" if path.is_dir() else path
            nbytes = file.stat().st_size
            peak, outcome = measure(kind, path)
            ratio = (peak - SLACK) / nbytes
            worst = max(worst, ratio)
            print(f"{kind:<12} {nbytes / 1e6:8.1f} {peak / 1e6:8.1f} {peak / nbytes:6.2f}  "
                  f"{outcome}")
        small = Path(tmp) / "old.json"
        small.write_text(json.dumps(["a" * 1_000_000]))
        old = int(subprocess.run([sys.executable, "-c", OLD, str(small)], capture_output=True,
                                 text=True, check=True).stdout)
        print(f"old regex check alone, 1 MB string: {old / 1e6:.0f} MB, "
              f"{old / small.stat().st_size:.0f}× the file")
    verdict = "within" if worst <= BUDGET else "OVER"
    print(f"worst (peak − {SLACK >> 20} MiB) / size: {worst:.2f}, {verdict} the {BUDGET}× budget")
    return 0 if worst <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
