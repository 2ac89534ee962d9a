"""What a class database must be, checked before anything writes to it.

An existing file is opened read-only first (an SQLite ``mode=ro`` URI) and checked whole: no
damage (``PRAGMA quick_check``), a ``schema_version`` that is a number this digitlens knows,
exactly the tables it creates (with their CHECK constraints, compared as SQL text), settings
of the known keys and shapes, and every drawing's fields of the types and ranges the server
writes. A file that fails is refused unchanged, byte for byte, with one line naming what is
wrong: a foreign or newer file is never migrated, repaired or stamped. ``classroom export``
reads through the same read-only connection and never writes to its input.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import urllib.parse
from pathlib import Path

from digitlens.errors import DataError

SCHEMA_VERSION = 1
TABLES = {
    "meta": "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "drawings": """CREATE TABLE drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    device TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    prediction INTEGER NOT NULL CHECK (prediction BETWEEN 0 AND 9),
    page_prediction INTEGER CHECK (page_prediction BETWEEN 0 AND 9),
    confidence REAL NOT NULL,
    p_label REAL NOT NULL,
    prompt INTEGER,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    model TEXT NOT NULL,
    pixels BLOB NOT NULL CHECK (length(pixels) = 784),
    removed INTEGER NOT NULL DEFAULT 0
)""",
}
SCHEMA = "".join(sql.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1) + ";\n"
                 for sql in TABLES.values())
COLUMNS = ("id", "created", "device", "label", "prediction", "page_prediction", "confidence",
           "p_label", "prompt", "width", "height", "model", "pixels", "removed")
# Objects SQLite itself adds for these tables (AUTOINCREMENT, the TEXT primary key).
SQLITE_OWN = {("table", "sqlite_sequence"), ("index", "sqlite_autoindex_meta_1")}
SETTINGS = {  # meta key -> the values the server writes
    "schema_version": re.compile(r"\A[0-9]{1,6}\Z"),
    "token": re.compile(r"\A[A-Za-z0-9_-]{16,64}\Z"),
    "prompt": re.compile(r"\A[0-9]?\Z"),
    "paused": re.compile(r"\A[01]\Z"),
}
MAX_MODEL_NAME = 1024  # a run's folder name
# column -> an SQL test a row the server wrote always passes (typeof: no '3' for 3)
ROW_CHECKS = {
    "id": "typeof(id) = 'integer'",
    "created": "typeof(created) = 'real' AND created BETWEEN 0 AND 1e11",
    "device": "typeof(device) = 'text' AND length(device) BETWEEN 4 AND 64 "
              "AND device NOT GLOB '*[^A-Za-z0-9_-]*'",
    "label": "typeof(label) = 'integer' AND label BETWEEN 0 AND 9",
    "prediction": "typeof(prediction) = 'integer' AND prediction BETWEEN 0 AND 9",
    "page_prediction": "page_prediction IS NULL OR (typeof(page_prediction) = 'integer' "
                       "AND page_prediction BETWEEN 0 AND 9)",
    "confidence": "typeof(confidence) = 'real' AND confidence BETWEEN 0 AND 1",
    "p_label": "typeof(p_label) = 'real' AND p_label BETWEEN 0 AND 1",
    "prompt": "prompt IS NULL OR (typeof(prompt) = 'integer' AND prompt BETWEEN 0 AND 9)",
    "width": "typeof(width) = 'integer' AND width BETWEEN 28 AND 512",
    "height": "typeof(height) = 'integer' AND height BETWEEN 28 AND 512",
    "model": f"typeof(model) = 'text' AND length(model) <= {MAX_MODEL_NAME}",
    "pixels": "typeof(pixels) = 'blob' AND length(pixels) = 784",
    "removed": "typeof(removed) = 'integer' AND removed IN (0, 1)",
}


# one SQL expression true for a row the server wrote (NULL counts as false)
ROW_OK = " AND ".join(f"coalesce(({sql}), 0)" for sql in ROW_CHECKS.values())


def squeeze(sql: str) -> str:
    return " ".join(sql.split())


def open_readonly(path: Path, snapshot: bool = False) -> sqlite3.Connection:
    """The file through a read-only connection: SQLite can neither write nor create it.
    Reading a WAL file, SQLite still makes its ``-shm`` and ``-wal`` beside it; with
    ``snapshot`` and neither there (so no connection has the file open: a WAL connection
    keeps both while it lives) it is opened ``immutable``, which creates nothing at all."""
    uri = "file:" + urllib.parse.quote(str(path.absolute())) + "?mode=ro"
    if snapshot and not any(os.path.lexists(f"{path}{s}") for s in ("-wal", "-shm")):
        uri += "&immutable=1"
    try:
        return sqlite3.connect(uri, uri=True, timeout=2.0, check_same_thread=False,
                               isolation_level=None)
    except sqlite3.Error as exc:
        raise DataError(f"{path}: cannot open the class database ({exc})") from None


def check_side_files(path: Path) -> None:
    """SQLite maps ``-shm`` into memory and writes ``-wal``: one that is not a regular file
    it can write (a link, an immutable or read-only file) would fail later, or kill the
    server with SIGBUS, so it is refused now."""
    for suffix in ("-shm", "-wal"):
        side = Path(f"{path}{suffix}")
        try:
            mode = os.lstat(side).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DataError(f"{side}: cannot check it ({exc.strerror or exc})") from None
        if not stat.S_ISREG(mode):
            raise DataError(f"{side}: is not a regular file; the class database's {suffix} "
                            "file must be one (remove it while no server runs)")
        try:
            os.close(os.open(side, os.O_RDWR | os.O_NONBLOCK))
        except OSError as exc:
            raise DataError(f"{side}: cannot be written ({exc.strerror or exc}); is it "
                            "immutable or read-only? SQLite needs to write it") from None


def is_empty(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def check(con: sqlite3.Connection, path: Path) -> None:
    """Refuse the database unless it is a whole class database of this version (see the
    module's docstring); a new, empty file passes."""
    try:
        damage = con.execute("PRAGMA quick_check").fetchone()[0]
        if damage != "ok":
            raise DataError(f"{path}: the class database is damaged ({str(damage)[:200]})")
        objects = {(t, n): s for t, n, s in
                   con.execute("SELECT type, name, sql FROM sqlite_master")}
        if not objects:
            return
        if ("table", "meta") not in objects:
            raise DataError(f"{path}: not a class database (it has no 'meta' table)")
        check_version(con, path)
        for name, sql in TABLES.items():
            if squeeze(objects.get(("table", name)) or "") != squeeze(sql):
                raise DataError(f"{path}: not a class database of this digitlens (its table "
                                f"{name!r} is not the one it creates, with its checks)")
        extra = sorted(n for t, n in objects
                       if (t, n) not in SQLITE_OWN and not (t == "table" and n in TABLES))
        if extra:
            raise DataError(f"{path}: not a class database (it also holds {extra[0][:80]!r})")
        check_settings(con, path)
        check_rows(con, path)
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: not a usable class database ({exc})") from None
    except UnicodeDecodeError:  # damaged pages read back as text (quick_check's report too)
        raise DataError(f"{path}: the class database is damaged (text that is not UTF-8)") \
            from None


def check_version(con: sqlite3.Connection, path: Path) -> None:
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise DataError(f"{path}: not a class database (no schema_version)")
    value = row[0]
    if not (isinstance(value, str) and SETTINGS["schema_version"].match(value)):
        raise DataError(f"{path}: its schema_version {str(value)[:40]!r} is not a number; "
                        "not a class database digitlens wrote")
    if int(value) > SCHEMA_VERSION:
        raise DataError(f"{path}: class database of schema version {value}, newer than this "
                        f"digitlens understands ({SCHEMA_VERSION}); update digitlens")
    if int(value) < 1:
        raise DataError(f"{path}: class database of schema version {value}; not one "
                        "digitlens wrote")


def check_settings(con: sqlite3.Connection, path: Path) -> None:
    for key, value in con.execute("SELECT key, value FROM meta"):
        rule = SETTINGS.get(key) if isinstance(key, str) else None
        if rule is None:
            raise DataError(f"{path}: the class database holds a setting "
                            f"{str(key)[:40]!r} this digitlens does not know")
        if not (isinstance(value, str) and rule.match(value)):
            raise DataError(f"{path}: the class database's setting {key!r} is "
                            f"{str(value)[:40]!r}, not a value digitlens writes")


def check_rows(con: sqlite3.Connection, path: Path) -> None:
    """Every drawing at once in SQL: the first that fails names its id and field."""
    tests = list(ROW_CHECKS.items())
    passes = ", ".join(f"coalesce(({sql}), 0)" for _, sql in tests)
    bad = con.execute(f"SELECT id, {passes} FROM drawings "  # noqa: S608 - constants only
                      f"WHERE NOT ({ROW_OK}) LIMIT 1").fetchone()
    if bad is not None:
        column = next(name for (name, _), ok in zip(tests, bad[1:], strict=True) if not ok)
        value = con.execute(f"SELECT {column} FROM drawings WHERE rowid = ?",  # noqa: S608
                            (bad[0],)).fetchone()[0]
        shown = f"{len(value)} bytes" if isinstance(value, bytes) else repr(value)[:40]
        raise DataError(f"{path}: drawing {str(bad[0])[:20]} has {column} {shown}, not a "
                        "value digitlens writes; the class database was changed by another "
                        "program")
