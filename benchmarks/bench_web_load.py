"""Load on the explorer: 100 concurrent clients × 10 predict requests/s for 30 s on loopback.

Starts ``digitlens serve`` in its own process, then opens 100 keep-alive HTTP/1.1 connections
from one asyncio process (a bare-bones client, so the generator costs little CPU). Each client
sends a request every 100 ms (or at once when it is behind) and times it. Two request kinds
are measured side by side in one run:

* ``api``:  ``{"pixels": [784 numbers]}`` with ``include: ["activations", "preprocessing"]``:
  prediction, probabilities, every layer's values and the preprocessing steps (the documented
  predict call; goal p95 ≤ 50 ms, 0 errors);
* ``page``: what the page sends per pointer move while drawing: its canvas at half size
  (140×140) as ``gray`` bytes, answered with everything (activations, preprocessing,
  evidence, diagram lines) in the packed form;
* ``image`` (only when asked for with ``--kinds``): the same drawing as a PNG data URL,
  answered as JSON (the upload path, and what the page sent before the packed form).

Prints p50/p95/p99/max latency, errors and achieved request rate for each, plus the machine's
load so a reader can judge the numbers.

With ``--workers N`` the server runs N processes (``digitlens serve --workers``, read-only);
the CPU time printed is then that of all of them.

Usage: python benchmarks/bench_web_load.py [--run RUN] [--clients 100] [--rate 10]
       [--seconds 30] [--kinds api,page] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from digitlens.data.sources import load_sample


def find_run(arg: str | None) -> Path:
    """The run to serve: the argument, runs/default (``make demo``), or a small one trained
    on the embedded sample now."""
    for cand in (arg, "runs/default"):
        if cand and (Path(cand) / "model.npz").exists():
            return Path(cand)
    out = Path(tempfile.mkdtemp(prefix="digitlens-bench-")) / "s0"
    print(f"no trained run found; training {out} on the sample", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "digitlens", "train", "--preset", "s0-fingerprints",
                    "--dataset", "mnist-sample", "--epochs", "3", "--out", str(out)], check=True)
    return out


def bodies() -> dict[str, bytes]:
    ds = load_sample()
    digit = ds.test_images[0]
    pixels = (digit.astype(np.float64) / 255).round(4).ravel().tolist()
    big = Image.fromarray(digit).resize((100, 100), Image.Resampling.BILINEAR)
    canvas = Image.new("L", (140, 140))  # the page's canvas at half size, as it sends it
    canvas.paste(big, (20, 20))
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    gray = base64.b64encode(canvas.tobytes()).decode()
    return {
        "api": json.dumps({"pixels": pixels, "include": ["activations", "preprocessing"]}).encode(),
        "page": json.dumps({"gray": gray, "width": 140, "height": 140, "mode": "centred",
                            "knockout": {}, "format": "packed"}).encode(),
        "image": json.dumps({"image": url, "mode": "centred", "knockout": {}}).encode(),
    }


class Client:
    """One keep-alive connection sending paced POSTs and recording latencies."""

    def __init__(self, host: str, port: int, body: bytes) -> None:
        self.host, self.port = host, port
        self.request = (f"POST /api/predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                        "\r\n").encode() + body
        self.latencies: list[float] = []
        self.errors: list[str] = []

    async def once(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        t0 = time.perf_counter()
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        m = re.search(rb"(?i)content-length: *(\d+)", head)
        body = await reader.readexactly(int(m.group(1))) if m else b""
        self.latencies.append(time.perf_counter() - t0)
        if status != 200 or not (body.startswith(b'{"ok":true') or
                                 body[:4] == b"DLP1" and body[8:18] == b'{"ok":true'):
            self.errors.append(f"HTTP {status}")

    async def run(self, rate: float, until: float, start_delay: float) -> None:
        await asyncio.sleep(start_delay)
        reader, writer = await asyncio.open_connection(self.host, self.port)
        period, next_at = 1.0 / rate, time.perf_counter()
        try:
            while time.perf_counter() < until:
                now = time.perf_counter()
                if next_at > now:
                    await asyncio.sleep(next_at - now)
                next_at += period
                try:
                    await self.once(reader, writer)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    self.errors.append(type(exc).__name__)
                    writer.close()
                    reader, writer = await asyncio.open_connection(self.host, self.port)
        finally:
            writer.close()


async def load(host: str, port: int, body: bytes, clients: int, rate: float,
               seconds: float) -> tuple[np.ndarray, list[str], float]:
    until = time.perf_counter() + seconds
    cs = [Client(host, port, body) for _ in range(clients)]
    t0 = time.perf_counter()
    # spread the first requests over one period, as independent users would be
    await asyncio.gather(*(c.run(rate, until, i / clients / rate) for i, c in enumerate(cs)))
    wall = time.perf_counter() - t0
    lat = np.array([x for c in cs for x in c.latencies]) * 1000
    return lat, [e for c in cs for e in c.errors], wall


def server_cpu(pid: int) -> float:
    """CPU seconds the server process and its worker processes have used (user + system),
    from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        kids = [int(k) for t in Path(f"/proc/{pid}/task").iterdir()
                for k in (t / "children").read_text().split()]
        return own + sum(server_cpu(k) for k in kids)
    except (OSError, IndexError, ValueError):
        return float("nan")


def start_server(run: Path, workers: int = 1) -> tuple[subprocess.Popen[str], str, int]:
    """``digitlens serve`` on a free port, once it answers (workers take a moment)."""
    proc = subprocess.Popen([sys.executable, "-m", "digitlens", "serve", "--run", str(run),
                             "--runs-dir", str(run.parent), "--port", "0",
                             "--workers", str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    m = re.search(r"http://([\d.]+):(\d+)/", proc.stdout.readline())
    if not m:
        proc.kill()
        raise SystemExit("the server did not start")
    host, port = m.group(1), int(m.group(2))
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/api/info", timeout=5):  # noqa: S310
                break
        except OSError:
            time.sleep(0.05)
    return proc, host, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run")
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--rate", type=float, default=10.0, help="requests per second per client")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--kinds", default="api,page")
    ap.add_argument("--workers", type=int, default=1, help="server processes")
    args = ap.parse_args()
    run = find_run(args.run)
    proc, host, port = start_server(run, args.workers)
    try:
        all_bodies = bodies()
        print(f"run {run}; {args.clients} clients × {args.rate:g} req/s for {args.seconds:g} s "
              f"on {host}:{port}, {args.workers} server process{'es' * (args.workers > 1)}; "
              f"{os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.2f} before")
        print(f"{'kind':<6}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
              f"{'max ms':>9}{'errors':>8}{'cpu ms/r':>10}  goal p95 ≤ 50 ms, 0 errors")
        for kind in args.kinds.split(","):
            asyncio.run(load(host, port, all_bodies[kind], 4, 5, 1.0))  # warm-up
            cpu0 = server_cpu(proc.pid)
            lat, errors, wall = asyncio.run(load(host, port, all_bodies[kind], args.clients,
                                                 args.rate, args.seconds))
            cpu_ms = (server_cpu(proc.pid) - cpu0) / max(1, len(lat)) * 1000
            p50, p95, p99 = np.percentile(lat, [50, 95, 99])
            verdict = "met" if p95 <= 50 and not errors else "NOT met"
            print(f"{kind:<6}{len(lat):>10}{len(lat) / wall:>9.0f}{p50:>9.1f}{p95:>9.1f}"
                  f"{p99:>9.1f}{lat.max():>9.1f}{len(errors):>8}{cpu_ms:>10.2f}  {verdict}"
                  + (f" ({sorted(set(errors))[:3]})" if errors else ""))
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
