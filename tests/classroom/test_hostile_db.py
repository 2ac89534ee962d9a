"""Hostile class databases: each damaged file is refused in one line, by the store, by
``classroom export`` and by the server's command, and stays byte for byte as it was (no
migration, no stamp, no side file); export reads a file it cannot write."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from digitlens.classroom.dataset import export_dataset
from digitlens.classroom.schema import TABLES
from digitlens.classroom.store import Drawing, Store
from digitlens.data.sources import Dataset
from digitlens.errors import DataError


def make(label: int, prediction: int, device: str = "dev-1") -> Drawing:
    pixels = np.random.default_rng(label * 10 + prediction).integers(0, 256, 784, np.uint8)
    return Drawing(0, time.time(), device, label, prediction, None, 0.9, 0.8, None, 28, 28,
                   "run", pixels.tobytes())


def good_db(path: Path, n: int = 4, journal: str = "delete") -> Path:
    """A class database as the server leaves it; with ``journal="delete"`` folded back into
    a plain file, which no reader needs a side file for."""
    s = Store(path)
    for i in range(n):
        s.add(make(i % 10, i % 10)).result(5)
    s.set_setting("prompt", "3")
    s.close()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute(f"PRAGMA journal_mode={journal}")
    con.close()
    return path


def sql(*statements: str) -> Callable[[sqlite3.Connection], None]:
    def change(con: sqlite3.Connection) -> None:
        for s in statements:
            con.execute(s)
    return change


NO_CHECKS = TABLES["drawings"].replace(" CHECK (label BETWEEN 0 AND 9)", "")
REBUILT = ("ALTER TABLE drawings RENAME TO old", NO_CHECKS,
           "INSERT INTO drawings SELECT * FROM old", "DROP TABLE old")

# (what is done to a good file, the words of the refusal)
CASES = {
    "schema_version text": (sql("UPDATE meta SET value='one' WHERE key='schema_version'"),
                            "schema_version 'one' is not a number"),
    "schema_version blob": (sql("UPDATE meta SET value=x'01' WHERE key='schema_version'"),
                            "is not a number"),
    "schema_version newer": (sql("UPDATE meta SET value='99' WHERE key='schema_version'"),
                             "schema version 99, newer than"),
    "schema_version missing": (sql("DELETE FROM meta WHERE key='schema_version'"),
                               "no schema_version"),
    "drawings without checks": (sql(*REBUILT), "table 'drawings' is not the one it creates"),
    "prompt not an integer": (sql("UPDATE drawings SET prompt='seven' WHERE id=2"),
                              "drawing 2 has prompt 'seven'"),
    "prompt out of range": (sql("UPDATE drawings SET prompt=12 WHERE id=1"),
                            "drawing 1 has prompt 12"),
    "label as text": (sql(*REBUILT, "UPDATE drawings SET label='x' WHERE id=3"),
                      "not the one it creates"),
    "device with markup": (sql("UPDATE drawings SET device='<b>x</b>' WHERE id=4"),
                           "drawing 4 has device '<b>x</b>'"),
    "confidence above 1": (sql("UPDATE drawings SET confidence=7.5 WHERE id=1"),
                           "drawing 1 has confidence 7.5"),
    "created as text": (sql("UPDATE drawings SET created='yesterday' WHERE id=2"),
                        "drawing 2 has created 'yesterday'"),
    "removed is 5": (sql("UPDATE drawings SET removed=5 WHERE id=2"), "has removed 5"),
    "setting prompt": (sql("UPDATE meta SET value='seven' WHERE key='prompt'"),
                       "setting 'prompt' is 'seven'"),
    "unknown setting": (sql("INSERT INTO meta VALUES ('owner', 'me')"), "setting 'owner'"),
    "extra table": (sql("CREATE TABLE notes (x)"), "also holds 'notes'"),
    "trigger": (sql("CREATE TRIGGER t AFTER INSERT ON drawings BEGIN SELECT 1; END"),
                "also holds 't'"),
    "foreign sqlite": (sql("DROP TABLE meta"), "no 'meta' table"),
}


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "other"
            for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_database_is_refused_untouched(case: str, tmp_path: Path) -> None:
    change, words = CASES[case]
    db = good_db(tmp_path / "class.sqlite")
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA writable_schema=ON")
    change(con)
    con.close()
    before = digest(tmp_path)
    with pytest.raises(DataError, match="class database|schema") as store_error:
        Store(db)
    assert words in str(store_error.value)
    with pytest.raises(DataError) as export_error:
        export_dataset(db, tmp_path / "out")
    assert words in str(export_error.value)
    assert digest(tmp_path) == before  # the file, byte for byte, and no file beside it
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["schema_version newer", "prompt not an integer",
                                  "extra table"])
def test_a_damaged_wal_database_gets_no_side_files(case: str, tmp_path: Path) -> None:
    """The server's own journal mode (WAL), closed cleanly: the check creates nothing."""
    change, words = CASES[case]
    db = good_db(tmp_path / "class.sqlite", journal="wal")
    con = sqlite3.connect(db, isolation_level=None)
    change(con)
    con.close()
    before = digest(tmp_path)
    assert list(before) == ["class.sqlite"]
    with pytest.raises(DataError, match=words):
        Store(db)
    assert digest(tmp_path) == before


@pytest.mark.parametrize("damage", ["not sqlite", "truncated", "a folder", "a fifo"])
def test_a_file_that_is_no_database_is_refused_untouched(damage: str, tmp_path: Path) -> None:
    db = tmp_path / "class.sqlite"
    if damage == "not sqlite":
        db.write_bytes(b"SQLite format 2\x00" + bytes(range(256)) * 40)
    elif damage == "truncated":
        good_db(db, 200)
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    elif damage == "a folder":
        db.mkdir()
    else:
        os.mkfifo(db)
    before = digest(tmp_path)
    with pytest.raises(DataError, match="class database"):
        Store(db)
    with pytest.raises(DataError, match="class database"):
        export_dataset(db, tmp_path / "out")
    assert digest(tmp_path) == before


def test_export_opens_its_input_read_only(tmp_path: Path) -> None:
    """An immutable database (not even root may write it) exports, and stays as it was."""
    db = good_db(tmp_path / "class.sqlite", 12)
    before = db.read_bytes()
    locked = subprocess.run(["chattr", "+i", str(db)], capture_output=True, check=False)
    try:
        doc = export_dataset(db, tmp_path / "ds", 0.25, 0)
    finally:
        if locked.returncode == 0:
            subprocess.run(["chattr", "-i", str(db)], check=False)
    assert sum(doc["train_per_class"]) + sum(doc["test_per_class"]) == 12
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class.sqlite", "ds"]


@pytest.mark.e2e
@pytest.mark.parametrize("case", ["schema_version text", "schema_version newer",
                                  "drawings without checks", "foreign sqlite"])
def test_the_commands_refuse_it_in_one_line(case: str, trained_run: Path, tmp_path: Path) -> None:
    change, words = CASES[case]
    db = good_db(tmp_path / "class.sqlite")
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA writable_schema=ON")
    change(con)
    con.close()
    before = digest(tmp_path)
    for args in (["classroom", "--run", str(trained_run), "--port", "0", "--db", str(db)],
                 ["classroom", "export", "--db", str(db), "--out", str(tmp_path / "out")]):
        proc = subprocess.run([sys.executable, "-m", "digitlens", *args], capture_output=True,
                              text=True, timeout=60, check=False)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("digitlens: error: ")
        assert words in proc.stderr and proc.stdout == ""
    assert digest(tmp_path) == before


@pytest.mark.e2e
def test_a_truncated_shm_stops_the_server_in_one_line(trained_run: Path, tmp_path: Path,
                                                     sample: Dataset) -> None:
    """Another program truncates the -shm SQLite maps while the lesson runs: the next write
    is a SIGBUS, which the supervising parent turns into one line and status 1; nothing
    acknowledged is lost and the server starts again on the same file."""
    import httpx

    from .conftest import Classroom, submit
    db = tmp_path / "class.sqlite"
    c = Classroom(trained_run, db)
    with httpx.Client(base_url=c.base, timeout=10) as s:
        ids = [submit(s, f"phone-{i}", int(sample.test_labels[i]), sample.test_images[i])
               .json()["id"] for i in range(3)]
        os.truncate(f"{db}-shm", 0)
        with pytest.raises(httpx.HTTPError):
            submit(s, "phone-9", int(sample.test_labels[9]), sample.test_images[9])
    _, err = c.proc.communicate(timeout=20)
    assert c.proc.returncode == 1 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("digitlens: error: the class server stopped (SIGBUS)")
    assert "-shm was truncated or replaced" in lines[-1]
    assert not [line for line in lines if "Fatal Python error" in line]
    again = Classroom(trained_run, db)
    try:
        with httpx.Client(base_url=again.base, timeout=10) as s:
            summary = s.get("/api/class/summary", params={"token": again.token}).json()
            assert summary["n"] >= len(ids) == 3
            assert submit(s, "phone-10", 1, sample.test_images[2]).status_code == 201
    finally:
        again.stop()


@pytest.mark.e2e
def test_an_immutable_shm_is_refused_before_the_server_starts(trained_run: Path,
                                                              tmp_path: Path) -> None:
    db = good_db(tmp_path / "class.sqlite", journal="wal")
    (tmp_path / "class.sqlite-shm").write_bytes(b"")  # left behind, then made immutable
    if subprocess.run(["chattr", "+i", f"{db}-shm"], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip("chattr +i needs root and a file system that supports it")
    try:
        proc = subprocess.run([sys.executable, "-m", "digitlens", "classroom", "--run",
                               str(trained_run), "--port", "0", "--db", str(db)],
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        subprocess.run(["chattr", "-i", f"{db}-shm"], check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "class.sqlite-shm: cannot be written" in proc.stderr


def test_a_row_changed_while_the_lesson_runs_is_a_503_not_a_500(tmp_path: Path) -> None:
    from digitlens.classroom.store import Unavailable
    s = Store(tmp_path / "class.sqlite")
    try:
        for i in range(3):
            s.add(make(i, i)).result(5)
        other = sqlite3.connect(tmp_path / "class.sqlite", isolation_level=None)
        other.execute("UPDATE drawings SET confidence = 'high' WHERE id = 2")
        other.close()
        with pytest.raises(Unavailable, match="drawing 2 was changed by another program"):
            s.dashboard(400, 24, 0.6, 8)
        assert s.remove(2) is None and s.remove(1) is not None
    finally:
        s.close()


def test_class_databases_fuzz() -> None:
    import fuzzing_lessons
    scale = float(os.environ.get("DIGITLENS_FUZZ_SCALE", "1"))
    tally = fuzzing_lessons.class_db_cases(max(1, int(300 * scale)), seed=22)
    print(tally.line())
    assert tally.bad() == 0, "\n".join([tally.line(), *tally.failures])
    assert tally.counts["clean"] > 0 and tally.counts["ok"] > 0
