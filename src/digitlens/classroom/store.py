"""The class's record: one SQLite file (WAL) of drawings and the lesson's settings.

A drawing is acknowledged only after its transaction committed, so an answered submission
survives ``kill -9`` of the server. With ``sync="normal"`` (the default, SQLite's WAL
``synchronous=NORMAL``) a checkpoint fsyncs the file every second, so a power cut can take at
most about the last second's drawings; ``"full"`` fsyncs every commit before the answer (slow
where fsync is slow). Writes go through one writer thread that commits whatever is queued in
one transaction (group commit): many phones at once cost one fsync, not one each. Memory stays
bounded however many drawings come: the server keeps only the confusion counts and each
device's count, and the dashboard's rows (the newest, the hardest, a few per digit) are read
from the file with a LIMIT through a second, read-only connection. Removal is a flag, so the
file stays the lesson's full record. An existing file is checked whole, read-only, before the
first write (``digitlens.classroom.schema``).
"""

from __future__ import annotations

import base64
import contextlib
import os
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.metrics import confusion_matrix
from digitlens.classroom.schema import (
    COLUMNS,
    ROW_OK,
    SCHEMA,
    SCHEMA_VERSION,
    check,
    check_side_files,
    open_readonly,
)
from digitlens.errors import DataError, bad_param
from digitlens.http import statuses

MAX_BATCH = 256
SYNC = ("normal", "full")
SYNC_EVERY_S = 1.0


class Unavailable(statuses.Unavailable):
    """The database cannot take a write now (locked, disk full, read-only): try again."""


@dataclass
class Drawing:
    """One stored drawing; ``pixels`` are the MNIST-normalised 28×28 bytes (ink bright)."""

    id: int
    created: float
    device: str
    label: int
    prediction: int
    page_prediction: int | None
    confidence: float   # the network's probability of its prediction
    p_label: float      # its probability of the digit the student meant
    prompt: int | None
    width: int
    height: int
    model: str
    pixels: bytes
    removed: int = 0

    @property
    def correct(self) -> bool:
        return self.prediction == self.label

    def to_dict(self, pixels: bool = True) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in COLUMNS if k not in ("pixels", "removed")}
        out["confidence"] = round(self.confidence, 4)
        out["p_label"] = round(self.p_label, 4)
        if pixels:
            out["pixels"] = base64.b64encode(self.pixels).decode("ascii")
        return out


def connect(path: Path, sync: str = "normal") -> sqlite3.Connection:
    """The file for writing, in WAL mode, after it passed every check read-only (a new file
    is created); a locked file waits 2 s at most."""
    if sync not in SYNC:
        raise bad_param("sync", f"one of {', '.join(SYNC)}", sync)
    if os.path.lexists(path):
        if not path.is_file():
            raise DataError(f"{path}: not a regular file; the class database must be one")
        check_side_files(path)
        ro = open_readonly(path, snapshot=True)  # a refused file gets no side files either
        try:
            check(ro, path)
        finally:
            ro.close()
    try:
        con = sqlite3.connect(str(path), timeout=2.0, check_same_thread=False,
                              isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"PRAGMA synchronous={sync.upper()}")
        con.executescript(SCHEMA)
        con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),))
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: not a usable class database ({exc})") from None
    return con


def from_row(row: tuple[Any, ...]) -> Drawing:
    return Drawing(*row)


class Store:
    """The database, its settings and the lesson's counts; thread-safe."""

    def __init__(self, path: str | Path, sync: str = "normal") -> None:
        self.path, self.sync = Path(path), sync
        self.con = connect(self.path, sync)
        self.reader = open_readonly(self.path)  # the dashboard's reads, beside the writer
        self.lock = threading.RLock()      # the counts and settings (held briefly)
        self.db_lock = threading.RLock()   # the connection (held across a commit's fsync)
        self.read_lock = threading.Lock()  # the read-only connection
        self.meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
        self.counts = np.zeros((10, 10), np.int64)  # rows: meant, columns: read
        self.devices: dict[str, int] = {}
        for label, pred, n in self.con.execute(
                "SELECT label, prediction, count(*) FROM drawings WHERE removed = 0 "
                "GROUP BY label, prediction"):
            self.counts[label, pred] = n
        for device, n in self.con.execute(
                "SELECT device, count(*) FROM drawings WHERE removed = 0 GROUP BY device"):
            self.devices[device] = n
        self.queue: queue.Queue[tuple[Drawing, Future[Drawing]] | None] = queue.Queue()
        self.writer = threading.Thread(target=self.write_loop, name="classroom-writer",
                                       daemon=True)
        self.writer.start()

    # settings -------------------------------------------------------------------------------
    def setting(self, key: str, default: str | None = None) -> str | None:
        with self.lock:
            return self.meta.get(key, default)

    def set_setting(self, key: str, value: str) -> None:
        with self.db_lock:
            try:
                self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            except sqlite3.Error as exc:
                raise Unavailable(f"the class database cannot save this now ({exc})") from None
        with self.lock:
            self.meta[key] = value

    # drawings -------------------------------------------------------------------------------
    def add(self, drawing: Drawing) -> Future[Drawing]:
        """Queue a drawing; the future resolves (with its id set) once it is committed, or
        fails with ``Unavailable`` when it could not be."""
        fut: Future[Drawing] = Future()
        self.queue.put((drawing, fut))
        return fut

    def write_loop(self) -> None:
        synced, dirty = time.monotonic(), False
        while True:
            if dirty and time.monotonic() - synced >= SYNC_EVERY_S:
                self.checkpoint()
                synced, dirty = time.monotonic(), False
            try:
                item = self.queue.get(timeout=SYNC_EVERY_S if dirty else None)
            except queue.Empty:
                continue
            if item is None:
                if dirty:
                    self.checkpoint()
                return
            dirty = self.sync == "normal"
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.queue.put(None)
                    break
                batch.append(nxt)
            self.commit(batch)

    def checkpoint(self) -> None:
        """Copy the WAL into the file, both fsynced (``sync="normal"`` does it every
        ``SYNC_EVERY_S``, bounding what a power cut can take); failures wait for the next."""
        with self.db_lock, contextlib.suppress(sqlite3.Error):
            self.con.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def commit(self, batch: list[tuple[Drawing, Future[Drawing]]]) -> None:
        with self.db_lock:
            try:
                self.con.execute("BEGIN IMMEDIATE")
                for d, _ in batch:
                    cur = self.con.execute(
                        f"INSERT INTO drawings ({', '.join(COLUMNS[1:-1])}) "  # noqa: S608
                        f"VALUES ({', '.join('?' * (len(COLUMNS) - 2))})",
                        (d.created, d.device, d.label, d.prediction, d.page_prediction,
                         d.confidence, d.p_label, d.prompt, d.width, d.height, d.model,
                         d.pixels))
                    d.id = int(cur.lastrowid or 0)
                self.con.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.con.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self.con.execute("ROLLBACK")
                err = Unavailable(f"the class database cannot store drawings now ({exc}); "
                                  "nothing was saved, try again")
                for _, fut in batch:
                    fut.set_exception(err)
                return
        with self.lock:
            for d, _ in batch:
                self.count(d, +1)
        for d, fut in batch:
            fut.set_result(d)

    def count(self, d: Drawing, step: int) -> None:
        self.counts[d.label, d.prediction] += step
        n = self.devices.get(d.device, 0) + step
        if n > 0:
            self.devices[d.device] = n
        else:
            self.devices.pop(d.device, None)

    def remove(self, drawing_id: int) -> Drawing | None:
        """Hide a drawing from the lesson (it stays in the file, flagged); None if unknown."""
        with self.db_lock:
            try:
                row = self.con.execute(f"SELECT {', '.join(COLUMNS)} FROM drawings "  # noqa: S608
                                       f"WHERE id = ? AND removed = 0 AND {ROW_OK}",
                                       (drawing_id,)).fetchone()
                if row is None:  # unknown, removed, or changed by another program
                    return None
                self.con.execute("UPDATE drawings SET removed = 1 WHERE id = ?", (drawing_id,))
            except sqlite3.Error as exc:
                raise Unavailable(f"the class database cannot save this now ({exc})") from None
            d = from_row(row)
            with self.lock:
                self.count(d, -1)
            return d

    def confusion(self) -> np.ndarray:
        """10×10 counts of the lesson's drawings (a copy)."""
        with self.lock:
            return self.counts.copy()

    def n_devices(self) -> int:
        with self.lock:
            return len(self.devices)

    def select(self, where: str = "", params: tuple[Any, ...] = (),
               limit: int | None = None) -> list[Drawing]:
        """Drawings not removed matching ``where`` (SQL of this module, never of a client),
        newest first, at most ``limit``. Each row is checked again as it is read (another
        program may change the file while the lesson runs): a changed one is a 503 naming
        it, never a drawing of the wrong types."""
        sql = (f"SELECT {', '.join(COLUMNS)}, {ROW_OK} FROM drawings "  # noqa: S608
               f"WHERE removed = 0 {'AND ' + where if where else ''} ORDER BY id DESC"
               f"{' LIMIT ' + str(int(limit)) if limit is not None else ''}")
        try:
            with self.read_lock:
                rows = self.reader.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise Unavailable(f"the class database cannot be read now ({exc})") from None
        bad = next((r[0] for r in rows if not r[-1]), None)
        if bad is not None:
            raise Unavailable(f"{self.path}: drawing {bad} was changed by another program and "
                              "is not one digitlens wrote; stop that program, and restart the "
                              "server to check the whole file")
        return [from_row(r[:-1]) for r in rows]

    def dashboard(self, recent: int, hard: int, sure: float, per_digit: int) -> list[Drawing]:
        """What the teacher's screen starts from: the newest ``recent``, the ``hard`` newest
        read wrong or with less than ``sure``, and the ``per_digit`` newest of each digit;
        oldest first, each once. At most recent + hard + 10 × per_digit rows in memory."""
        keep = {d.id: d for d in self.select(limit=recent)}
        keep.update({d.id: d for d in self.select("(label != prediction OR p_label < ?)",
                                                  (sure,), hard)})
        for digit in range(10):
            keep.update({d.id: d for d in self.select("label = ?", (digit,), per_digit)})
        return sorted(keep.values(), key=lambda d: d.id)

    def drawings(self) -> list[Drawing]:
        """Every drawing of the lesson (not removed), oldest first: for checks and small
        files; the server itself never holds them all."""
        return self.select()[::-1]

    def close(self) -> None:
        self.queue.put(None)
        self.writer.join(timeout=5)
        with self.read_lock:
            self.reader.close()
        with self.db_lock:
            self.con.close()


def confusion(drawings: list[Drawing]) -> np.ndarray:
    """10×10 counts: rows the digit the student meant, columns what the network said
    (``analysis.metrics.confusion_matrix``, the one every evaluation uses)."""
    return confusion_matrix(np.array([d.label for d in drawings], np.int64),
                            np.array([d.prediction for d in drawings], np.int64), 10)


def hardest(drawings: list[Drawing], limit: int = 24, sure: float = 0.6) -> list[Drawing]:
    """Wrongly read drawings and those read right but with less than ``sure`` probability,
    newest first."""
    hard = [d for d in drawings if not d.correct or d.p_label < sure]
    return sorted(hard, key=lambda d: d.id, reverse=True)[:limit]

