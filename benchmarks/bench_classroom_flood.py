"""One phone cannot flood the lesson: the attack of issue 22 against a real ``digitlens
classroom``, and the class it must not hurt.

* flood: one client posting a fresh random ``device`` with every drawing, as fast as the
  server answers, for ``--seconds`` (21 s: the attack stored 1,642 drawings before);
* class: on a fresh server, ``--phones`` phones behind one address (loopback, as a class
  behind a school's NAT), each sending a drawing every ``--interval`` seconds, all starting
  at once (the teacher's prompt).

Prints the answers by status and the rows the database holds afterwards (read with sqlite3).
Goal: the flood stores at most 2N + N/60 × seconds drawings (N = 40 phones per address), the
class gets every drawing stored (0 refused).

Usage: python benchmarks/bench_classroom_flood.py [--run RUN] [--seconds 21] [--phones 40]
       [--interval 3]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_classroom import SIDE, Server, drawings, find_run  # noqa: E402


def body(device: str, label: int, gray: str) -> dict[str, object]:
    return {"device": device, "label": label, "gray": gray, "width": SIDE, "height": SIDE}


def rows(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM drawings").fetchone()[0])
    finally:
        con.close()


def flood(server: Server, seconds: float, pool: list[tuple[int, str]]) -> collections.Counter:
    codes: collections.Counter = collections.Counter()
    url = f"http://{server.host}:{server.port}"
    with httpx.Client(base_url=url, timeout=10) as c:
        until, i = time.perf_counter() + seconds, 0
        while time.perf_counter() < until:
            label, gray = pool[i % len(pool)]
            r = c.post("/api/class/drawings", json=body(secrets.token_hex(8), label, gray))
            codes[r.status_code] += 1
            i += 1
    return codes


async def one_class(server: Server, phones: int, interval: float, seconds: float,
                    pool: list[tuple[int, str]]) -> collections.Counter:
    codes: collections.Counter = collections.Counter()
    url = f"http://{server.host}:{server.port}"

    async def phone(k: int, c: httpx.AsyncClient) -> None:
        until, i = time.perf_counter() + seconds, 0
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            label, gray = pool[(k * 7 + i) % len(pool)]
            r = await c.post("/api/class/drawings", json=body(f"phone-{k:03d}", label, gray))
            codes[r.status_code] += 1
            i += 1
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t0)))

    limits = httpx.Limits(max_connections=phones)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as c:
        await asyncio.gather(*(phone(k, c) for k in range(phones)))
    return codes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run")
    ap.add_argument("--seconds", type=float, default=21.0)
    ap.add_argument("--phones", type=int, default=40)
    ap.add_argument("--interval", type=float, default=3.0)
    args = ap.parse_args()
    run, pool = find_run(args.run), drawings(100)
    folder = Path(tempfile.mkdtemp(prefix="digitlens-flood-"))
    server = Server(run, folder / "flood.sqlite")
    try:
        codes = flood(server, args.seconds, pool)
    finally:
        server.proc.terminate()
        server.proc.communicate(timeout=20)
    bound = 2 * 40 + 40 / 60 * args.seconds
    print(f"flood, {args.seconds:g} s of fresh device ids from one client: "
          f"{sum(codes.values())} posts, answers {dict(sorted(codes.items()))}, "
          f"{rows(folder / 'flood.sqlite')} drawings stored (bound {bound:.0f}; before: 1,642)")
    server = Server(run, folder / "class.sqlite")
    try:
        codes = asyncio.run(one_class(server, args.phones, args.interval, args.seconds, pool))
    finally:
        server.proc.terminate()
        server.proc.communicate(timeout=20)
    print(f"class, {args.phones} phones behind one address, one drawing every "
          f"{args.interval:g} s each for {args.seconds:g} s: answers "
          f"{dict(sorted(codes.items()))}, {rows(folder / 'class.sqlite')} drawings stored")


if __name__ == "__main__":
    main()
