"""Export sizes and times of every format, side by side with the native .npz, in one run.

For each network: bytes and seconds to write .npz (the baseline), JSON, ONNX and the Excel
workbook, seconds to read JSON and ONNX back, and each format's ratio to .npz. The issue's budget,
784-256-64-10 to xlsx in at most 3 s, is checked and printed. ``--libreoffice`` also times a
headless LibreOffice recalculation of each workbook (to xlsx).

Usage: python benchmarks/bench_export.py [--repeat 3] [--libreoffice]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitlens.data.sources import load_sample
from digitlens.export.json_format import export_json, import_json
from digitlens.export.onnx_format import export_onnx, import_onnx
from digitlens.export.xlsx import export_xlsx
from digitlens.nn.io import load_model, save_model
from digitlens.nn.mlp import MLP

NETS = [((784, 30, 10), "sigmoid", "sigmoid"), ((784, 64, 10), "sigmoid", "sigmoid"),
        ((784, 256, 64, 10), "relu", "softmax"), ((784, 512, 256, 10), "relu", "softmax")]
XLSX_BUDGET = ((784, 256, 64, 10), 3.0)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def read_t_known(t: float) -> bool:
    return t == t  # NaN for formats digitlens does not read back (xlsx)


def recalc_seconds(soffice: str, path: Path, work: Path) -> float:
    user = work / "profile" / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><oor:items xmlns:oor="http://openoffice.org/2001/'
        'registry"><item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name='
        '"OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item></oor:items>')
    t = time.perf_counter()
    subprocess.run([soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(work / "out"), str(path)],
                   check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--libreoffice", action="store_true")
    args = ap.parse_args()
    image = load_sample().test_images[0] / 255.0
    soffice = shutil.which("soffice") if args.libreoffice else None
    verdict = ""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print(f"{'network':<28}{'format':<7}{'bytes':>12}{'× npz':>8}{'write s':>10}"
              f"{'× npz':>8}{'read s':>9}" + (f"{'LO recalc s':>13}" if soffice else ""))
        for sizes, act, out in NETS:
            model = MLP.create(sizes, act, out, seed=0)
            name = f"{'-'.join(map(str, sizes))} {act}/{out}"
            base_t = best(lambda m=model: save_model(m, d / "m.npz"), args.repeat)
            base_b = (d / "m.npz").stat().st_size
            rows = [("npz", d / "m.npz", base_t, best(lambda: load_model(d / "m.npz"),
                                                      args.repeat))]
            for fmt, write, read in (
                    ("json", export_json, import_json), ("onnx", export_onnx, import_onnx),
                    ("xlsx", lambda m, p: export_xlsx(m, p, image), None)):
                path = d / f"m.{fmt}"
                wt = best(lambda w=write, p=path, m=model: w(m, p), args.repeat)
                rt = best(lambda r=read, p=path: r(p), args.repeat) if read else float("nan")
                rows.append((fmt, path, wt, rt))
                if fmt == "xlsx" and sizes == XLSX_BUDGET[0]:
                    ok = wt <= XLSX_BUDGET[1]
                    cpu = time.process_time()
                    export_xlsx(model, path, image)
                    cpu = time.process_time() - cpu
                    verdict = (f"budget: {'-'.join(map(str, sizes))} to xlsx in {wt:.2f} s "
                               f"wall, {cpu:.2f} s CPU (limit {XLSX_BUDGET[1]:.0f} s): "
                               f"{'PASS' if ok else 'FAIL'}")
            for fmt, path, wt, rt in rows:
                size = path.stat().st_size
                lo = ""
                if soffice and fmt == "xlsx":
                    lo = f"{recalc_seconds(soffice, path, d):>13.2f}"
                read_s = f"{rt:>9.3f}" if read_t_known(rt) else f"{'-':>9}"
                print(f"{name:<28}{fmt:<7}{size:>12,}{size / base_b:>8.2f}{wt:>10.3f}"
                      f"{wt / base_t:>8.1f}{read_s}{lo}")
                name = ""
        print(verdict)
        print(f"numpy {np.__version__}; best of {args.repeat} runs each; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
