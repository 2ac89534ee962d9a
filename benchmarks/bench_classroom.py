"""A class on loopback: 300 students each sending a drawing every 5 s for 60 s, the dashboard
open, then ``kill -9`` of the server during the load and a restart.

Starts ``digitlens classroom`` in its own process. Each simulated student is one keep-alive
HTTP/1.1 connection from one asyncio process (a bare-bones client, so the generator costs
little CPU) sending what the phone page sends: its pad at half size, 140×140 ``gray`` bytes
(an MNIST test digit drawn large), its pseudonymous device id and the digit it meant, at its
own phase within the period. One more connection follows the dashboard's event stream and notes when
each drawing reaches it.

Measured, side by side in one run:

* submission latency (send → 201 answer): p50/p95/p99/max, errors (anything but 201);
* dashboard latency (send → the drawing's event on the dashboard stream): p50/p95/max;
* the database afterwards (read with sqlite3 directly): every answered drawing present and
  the row count equal to the number answered;
* kill phase: the same load for ``--kill-after`` seconds, ``kill -9``, restart on the same
  file: answered drawings missing afterwards (must be 0).

Both for the server's ``--sync normal`` (the default: safe from a crash of the server, the
file fsynced every second) and ``--sync full`` (each commit on disk before the answer), side
by side.

Goals (issue 15): submission p95 ≤ 50 ms, 0 errors, every answered drawing stored,
dashboard p95 ≤ 1 s, 0 answered drawings lost to kill -9.

Usage: python benchmarks/bench_classroom.py [--run RUN] [--students 300] [--interval 5]
       [--seconds 60] [--kill-after 10] [--sync normal,full]
       (quick: --students 60 --seconds 10 --kill-after 4)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digitlens.data.sources import load_sample

SIDE = 140  # the student page sends its 280×280 pad at half size


def find_run(arg: str | None) -> Path:
    """The run to serve: the argument, runs/default, or a small one trained now."""
    for cand in (arg, "runs/default"):
        if cand and (Path(cand) / "model.npz").exists():
            return Path(cand)
    out = Path(tempfile.mkdtemp(prefix="digitlens-bench-")) / "s0"
    print(f"no trained run found; training {out} on the sample", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "digitlens", "train", "--preset", "s0-fingerprints",
                    "--dataset", "mnist-sample", "--epochs", "3", "--out", str(out)], check=True)
    return out


def drawings(n: int) -> list[tuple[int, str]]:
    """(label, base64 gray) of n test digits drawn large, white on black, as the page sends."""
    ds = load_sample()
    out = []
    for i in range(n):
        big = np.kron(ds.test_images[i], np.ones((5, 5), np.uint8))  # 140×140
        out.append((int(ds.test_labels[i]), base64.b64encode(big.tobytes()).decode()))
    return out


class Server:
    """The server; every simulated phone shares loopback's one address, as a class behind one
    NAT does, so the per-address limits are sized for ``phones`` of them."""

    def __init__(self, run: Path, db: Path, sync: str = "normal", phones: int = 40) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "digitlens", "classroom", "--run",
                                      str(run), "--db", str(db), "--port", "0", "--sync", sync,
                                      "--phones-per-address", str(phones)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        student = self.proc.stdout.readline()
        teacher = self.proc.stdout.readline()
        m = re.search(r"http://([^:/]+):(\d+)/", student)
        t = re.search(r"token=([\w-]+)", teacher)
        if not (m and t):
            raise SystemExit(f"classroom did not start: {student!r} {teacher!r}")
        self.host, self.port, self.token = m.group(1), int(m.group(2)), t.group(1)


class Student:
    """One phone: a keep-alive connection sending a drawing every ``interval`` seconds."""

    def __init__(self, k: int, server: Server, pool: list[tuple[int, str]]) -> None:
        self.k, self.server, self.pool = k, server, pool
        self.sent: dict[int, float] = {}      # drawing id -> send time (answered ones)
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def request(self, i: int) -> bytes:
        label, gray = self.pool[(self.k * 7 + i) % len(self.pool)]
        body = json.dumps({"device": f"bench-{self.k:04d}", "label": label, "gray": gray,
                           "width": SIDE, "height": SIDE}).encode()
        s = self.server
        return (f"POST /api/class/drawings HTTP/1.1\r\nHost: {s.host}:{s.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body

    async def run(self, interval: float, until: float, phase: float) -> None:
        await asyncio.sleep(phase)
        s = self.server
        try:
            reader, writer = await asyncio.open_connection(s.host, s.port)
        except OSError as exc:
            self.errors.append(type(exc).__name__)
            return
        next_at, i = time.perf_counter(), 0
        try:
            while time.perf_counter() < until:
                now = time.perf_counter()
                if next_at > now:
                    await asyncio.sleep(next_at - now)
                next_at += interval
                t0 = time.perf_counter()
                try:
                    writer.write(self.request(i))
                    head = await reader.readuntil(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length: *(\d+)", head)
                    body = await reader.readexactly(int(m.group(1))) if m else b""
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    self.errors.append(type(exc).__name__)
                    return  # the server is gone (kill phase) or broken
                i += 1
                status = int(head.split(b" ", 2)[1])
                if status != 201:
                    self.errors.append(f"HTTP {status}")
                    continue
                self.latencies.append(time.perf_counter() - t0)
                self.sent[json.loads(body)["id"]] = t0
        finally:
            writer.close()


async def dashboard(server: Server, seen: dict[int, float], stop: asyncio.Event) -> None:
    """Follow the event stream; note when each drawing's event arrives."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"GET /api/class/events?token={server.token} HTTP/1.1\r\n"
                 f"Host: {server.host}:{server.port}\r\n\r\n".encode())
    try:
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), 0.5)
            except TimeoutError:
                continue
            if not line:
                return
            if line.startswith(b"data: {\"id\""):
                seen.setdefault(json.loads(line[6:])["id"], time.perf_counter())
    finally:
        writer.close()


async def load(server: Server, students: int, interval: float, seconds: float,
               pool: list[tuple[int, str]]) -> tuple[list[Student], dict[int, float], float]:
    seen: dict[int, float] = {}
    stop = asyncio.Event()
    follower = asyncio.create_task(dashboard(server, seen, stop))
    await asyncio.sleep(0.3)
    until = time.perf_counter() + seconds
    cs = [Student(k, server, pool) for k in range(students)]
    t0 = time.perf_counter()
    await asyncio.gather(*(c.run(interval, until, interval * k / students)
                           for k, c in enumerate(cs)))
    wall = time.perf_counter() - t0
    await asyncio.sleep(1.0)  # the last events
    stop.set()
    await follower
    return cs, seen, wall


def db_ids(db: Path) -> set[int]:
    con = sqlite3.connect(db)
    try:
        return {r[0] for r in con.execute("SELECT id FROM drawings")}
    finally:
        con.close()


def pct(a: list[float], q: float) -> float:
    return float(np.percentile(np.array(a) * 1000, q)) if a else float("nan")


def steady(run: Path, db: Path, sync: str, args: argparse.Namespace,
           pool: list[tuple[int, str]]) -> dict[str, float]:
    """The steady load; latencies, errors and the database's count afterwards."""
    server = Server(run, db, sync, args.students)
    cs, seen, wall = asyncio.run(load(server, args.students, args.interval, args.seconds, pool))
    lat = [x for c in cs for x in c.latencies]
    errors = [e for c in cs for e in c.errors]
    sent = {i: t for c in cs for i, t in c.sent.items()}
    dash = [seen[i] - t for i, t in sent.items() if i in seen]
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(20)
    stored = db_ids(db)
    return {"submissions": len(lat), "rate_per_s": len(lat) / wall, "errors": len(errors),
            "submit_p50_ms": pct(lat, 50), "submit_p95_ms": pct(lat, 95),
            "submit_p99_ms": pct(lat, 99), "submit_max_ms": pct(lat, 100),
            "dashboard_seen": len(dash), "dashboard_p50_ms": pct(dash, 50),
            "dashboard_p95_ms": pct(dash, 95), "dashboard_max_ms": pct(dash, 100),
            "db_rows": len(stored), "answered_missing_from_db": len(set(sent) - stored)}


def killed(run: Path, db: Path, sync: str, args: argparse.Namespace,
           pool: list[tuple[int, str]]) -> dict[str, float]:
    """The load, ``kill -9`` after ``--kill-after`` s, a restart: answered drawings lost."""
    server = Server(run, db, sync, args.students)

    async def go() -> tuple[list[Student], dict[int, float], float]:
        task = asyncio.create_task(load(server, args.students, args.interval,
                                        args.kill_after + 30, pool))
        await asyncio.sleep(args.kill_after)
        server.proc.send_signal(signal.SIGKILL)
        return await task

    cs, _, _ = asyncio.run(go())
    server.proc.wait(10)
    acked = {i for c in cs for i in c.sent}
    again = Server(run, db, sync, args.students)
    lost = acked - db_ids(db)
    again.proc.send_signal(signal.SIGTERM)
    again.proc.wait(20)
    return {"kill_answered": len(acked), "kill_lost": len(lost)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run")
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--kill-after", type=float, default=10.0)
    ap.add_argument("--sync", default="normal,full",
                    help="the server's --sync settings to measure, side by side")
    args = ap.parse_args()
    run = find_run(args.run)
    pool = drawings(100)
    tmp = Path(tempfile.mkdtemp(prefix="digitlens-class-bench-"))
    modes = args.sync.split(",")
    print(f"{args.students} students × a {SIDE}×{SIDE} drawing every {args.interval:g} s for "
          f"{args.seconds:g} s; dashboard open; run {run}; load average {os.getloadavg()[0]:.2f}")
    res = {m: {**steady(run, tmp / f"{m}.sqlite", m, args, pool),
               **killed(run, tmp / f"{m}-killed.sqlite", m, args, pool)} for m in modes}
    rows = [("answered", "submissions", "{:.0f}"), ("per second", "rate_per_s", "{:.1f}"),
            ("errors", "errors", "{:.0f}"), ("submit p50 ms", "submit_p50_ms", "{:.1f}"),
            ("submit p95 ms (goal <= 50)", "submit_p95_ms", "{:.1f}"),
            ("submit p99 ms", "submit_p99_ms", "{:.1f}"), ("submit max ms", "submit_max_ms",
                                                           "{:.1f}"),
            ("dashboard seen", "dashboard_seen", "{:.0f}"),
            ("dashboard p50 ms", "dashboard_p50_ms", "{:.1f}"),
            ("dashboard p95 ms (goal <= 1000)", "dashboard_p95_ms", "{:.1f}"),
            ("rows in the database", "db_rows", "{:.0f}"),
            ("answered, missing from it", "answered_missing_from_db", "{:.0f}"),
            (f"answered before kill -9 at {args.kill_after:g} s", "kill_answered", "{:.0f}"),
            ("of those lost (goal 0)", "kill_lost", "{:.0f}")]
    print(f"{'--sync':<34}" + "".join(f"{m:>12}" for m in modes))
    for title, key, fmt in rows:
        print(f"{title:<34}" + "".join(f"{fmt.format(res[m][key]):>12}" for m in modes))
    if len(modes) == 2:
        a, b = modes
        print(f"p95 ratio {a}/{b}: {res[a]['submit_p95_ms'] / res[b]['submit_p95_ms']:.2f}; "
              f"load average now {os.getloadavg()[0]:.2f}")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
