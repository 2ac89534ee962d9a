"""The class's drawings as a dataset: MNIST-normalised 28×28 digits and the students' labels.

The split is reproducible: drawings are ordered by a keyed hash of their id (SHA-256 of
``seed:id``) and the first ``test_fraction`` of them form the test set, so the same database
and seed always give the same split, whatever order the rows come in. Removed drawings are left
out.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.classroom.schema import COLUMNS, check, open_readonly
from digitlens.classroom.store import Drawing, from_row
from digitlens.data.idx_folder import write_idx_folder
from digitlens.errors import DataError, bad_param

NAME = "classroom"


def read_drawings(db: str | Path) -> list[Drawing]:
    """The lesson's drawings through a read-only connection (the server may be running on the
    file meanwhile), after the whole file passed ``schema.check``: export never writes to its
    input, and a file it refuses is left byte for byte as it was."""
    path = Path(db)
    if not path.is_file():
        raise DataError(f"{db}: no such class database")
    con = open_readonly(path)
    try:
        check(con, path)
        cur = con.execute(f"SELECT {', '.join(COLUMNS)} FROM drawings "  # noqa: S608
                          "WHERE removed = 0 ORDER BY id")
        return [from_row(r) for r in cur]
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{db}: not a usable class database ({exc})") from None
    finally:
        con.close()


def split(ids: list[int], test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train ids, test ids); at least one of each when there are two or more drawings."""
    order = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).digest())
    n_test = round(len(order) * test_fraction)
    n_test = min(max(n_test, 1), len(order) - 1) if len(order) >= 2 else 0
    return sorted(order[n_test:]), sorted(order[:n_test])


def export_dataset(db: str | Path, out: str | Path, test_fraction: float = 0.2,
                   seed: int = 0) -> dict[str, Any]:
    """Write ``out`` as a custom IDX folder (``digitlens.data.idx_folder``); its manifest."""
    if not (isinstance(test_fraction, float | int) and 0 < test_fraction < 1):
        raise bad_param("test_fraction", "a number strictly between 0 and 1", test_fraction)
    if not (isinstance(seed, int) and seed >= 0):
        raise bad_param("seed", "an int >= 0", seed)
    drawings = {d.id: d for d in read_drawings(db)}
    if len(drawings) < 2:
        raise DataError(f"{db}: {len(drawings)} drawing(s); a dataset needs at least 2 "
                        "(one to train on, one to test)")
    train_ids, test_ids = split(list(drawings), float(test_fraction), seed)

    def arrays(ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        images = np.stack([np.frombuffer(drawings[i].pixels, np.uint8).reshape(28, 28)
                           for i in ids])
        return images, np.array([drawings[i].label for i in ids], np.uint8)

    (xtr, ytr), (xte, yte) = arrays(train_ids), arrays(test_ids)
    extra = {"source": {"database": Path(db).name, "drawings": len(drawings),
                        "test_fraction": float(test_fraction), "seed": seed,
                        "split": "first test_fraction by sha256(f'{seed}:{id}')"},
             "train_ids": train_ids, "test_ids": test_ids,
             "train_per_class": np.bincount(ytr, minlength=10).tolist(),
             "test_per_class": np.bincount(yte, minlength=10).tolist()}
    try:
        return write_idx_folder(out, NAME, {"train_images": xtr, "train_labels": ytr,
                                            "test_images": xte, "test_labels": yte}, extra)
    except OSError as exc:
        raise DataError(f"{out}: cannot write the dataset ({exc.strerror or exc})") from None
