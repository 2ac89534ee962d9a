"""Seeded fuzzers for the files the classroom and sweeps read: class databases (a cell or a
setting replaced by an odd value, or the file's bytes damaged) and sweep tables
(``results.json`` re-typed or damaged). Each case ends as a clean ``DigitlensError`` or a
result that is used as the servers use it; a refused class database must be left byte for
byte as it was (one that is not counts as a failure, with the "NaN answers"). Outcomes are
tallied by ``fuzzing.run_cases``."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

import fuzzing
from digitlens.classroom.schema import COLUMNS
from digitlens.classroom.store import Drawing, Store
from digitlens.errors import DataError

SETTINGS = ("schema_version", "token", "prompt", "paused")


def template_db(folder: Path) -> bytes:
    """A small class database as the server leaves it, as one plain file's bytes."""
    path = folder / "template.sqlite"
    s = Store(path)
    rng = np.random.default_rng(0)
    for i in range(6):
        pixels = rng.integers(0, 256, 784, np.uint8).tobytes()
        s.add(Drawing(0, time.time(), f"dev-{i % 3}", i, (i + 1) % 10, i % 10, 0.7, 0.2,
                      None if i % 2 else 4, 140, 140, "run", pixels)).result(5)
    s.set_setting("token", "t" * 24)
    s.set_setting("prompt", "4")
    s.remove(2)
    s.close()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    return path.read_bytes()


def sql_value(value: Any) -> Any:
    """An odd JSON value as SQLite can hold it (lists and objects as their JSON text)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    return json.dumps(value) if isinstance(value, list | dict) else value


def class_db_cases(n: int, seed: int) -> fuzzing.Tally:
    rng = np.random.default_rng(seed)
    folder = Path(tempfile.mkdtemp(prefix="digitlens-fuzz-class-"))
    template = template_db(folder)

    def cases() -> Iterator[bytes]:
        for i in range(n):
            path = folder / f"case-{i}.sqlite"
            path.write_bytes(template)
            kind = rng.random()
            if kind < 0.35:  # a byte-level damage past SQLite's 100-byte header
                path.write_bytes(fuzzing.mutate(template, rng, protect=100))
                yield path.read_bytes()
                continue
            odd = fuzzing.ODD_VALUES + [b"\x00" * 784, b"", "x" * 5000, -0.0, 1e-300]
            value = sql_value(odd[int(rng.integers(0, len(odd)))])
            con = sqlite3.connect(path, isolation_level=None)
            try:
                if kind < 0.8:
                    column = COLUMNS[int(rng.integers(1, len(COLUMNS)))]
                    con.execute(f"UPDATE drawings SET {column} = ? "  # noqa: S608
                                "WHERE id = ?", (value, int(rng.integers(1, 7))))
                else:
                    key = SETTINGS[int(rng.integers(0, len(SETTINGS)))]
                    con.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
            except sqlite3.IntegrityError:
                pass  # the table's own checks refused it: the case is the template again
            finally:
                con.close()
            yield path.read_bytes()

    def check(data: bytes) -> str:
        path = folder / "under-test.sqlite"
        for side in ("-wal", "-shm"):
            Path(f"{path}{side}").unlink(missing_ok=True)
        path.write_bytes(data)
        try:
            store = Store(path)
        except DataError:
            if path.read_bytes() != data or Path(f"{path}-wal").exists():
                return "nan"  # a refused file was changed: counted as a failure
            raise
        try:  # what the server does with an accepted file
            rows = store.dashboard(400, 24, 0.6, 8)
            json.dumps([d.to_dict() for d in rows])
            cm = store.confusion()
            if int(cm.sum()) != len(store.drawings()) or store.n_devices() < 0:
                return "nan"
        finally:
            store.close()
        return "ok"

    return fuzzing.run_cases("classdb", cases(), check)


def sweep_table_cases(n: int, seed: int, folder: Path) -> fuzzing.Tally:
    """``folder`` holds a sweep (``sweep.json`` and ``results.json``); its table is damaged."""
    from digitlens.render.sweep import grid_keys, summarise
    from digitlens.sweep.table import read_results
    from digitlens.web.sweeps import listing
    rng = np.random.default_rng(seed)
    text = (folder / "results.json").read_bytes()
    doc = json.loads(text)

    def cases() -> Iterator[bytes]:
        for _ in range(n):
            if rng.random() < 0.6:
                yield json.dumps(fuzzing.mutate_json(doc, rng)).encode()
            else:
                yield fuzzing.mutate(text, rng)

    def check(data: bytes) -> str:
        (folder / "results.json").write_bytes(data)
        results = read_results(folder)
        keys = grid_keys(results)
        for group in summarise(results, keys[0]) if keys else []:
            if not all(np.isfinite(group["mean"])):
                return "nan"
        listed = listing(folder.parent, set())
        return "ok" if json.dumps(listed) else "nan"

    try:
        return fuzzing.run_cases("sweep", cases(), check)
    finally:
        (folder / "results.json").write_bytes(text)
