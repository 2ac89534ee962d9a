"""The class's record, its limits and its dataset, without a server."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.analysis.metrics import confusion_matrix
from digitlens.classroom import qr
from digitlens.classroom.dataset import export_dataset, split
from digitlens.classroom.limits import Busy, Limits, TooMany
from digitlens.classroom.store import Drawing, Store, Unavailable, confusion, hardest
from digitlens.data.idx_folder import MANIFEST, load_idx_folder
from digitlens.data.sources import load_dataset
from digitlens.errors import DataError


def make(label: int, prediction: int, p_label: float = 0.9, device: str = "dev-1") -> Drawing:
    pixels = np.random.default_rng(label * 10 + prediction).integers(0, 256, 784, np.uint8)
    return Drawing(0, time.time(), device, label, prediction, None, 0.9, p_label, None, 28, 28,
                   "run", pixels.tobytes())


def test_committed_drawings_come_back_after_reopening(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    s = Store(db)
    stored = [s.add(make(d % 10, (d * 3) % 10)).result(5) for d in range(25)]
    assert [d.id for d in stored] == list(range(1, 26))
    s.set_setting("prompt", "7")
    s.remove(3)
    s.close()
    # what an independent reader (sqlite3 itself) sees
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "1"
    assert con.execute("SELECT count(*), sum(removed) FROM drawings").fetchone() == (25, 1)
    con.close()
    again = Store(db)
    assert [d.id for d in again.drawings()] == [i for i in range(1, 26) if i != 3]
    assert again.drawings()[0].pixels == stored[0].pixels
    assert again.setting("prompt") == "7"
    again.close()


def test_a_newer_schema_or_another_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(DataError, match="schema version 99"):
        Store(db)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="not a usable class database"):
        Store(junk)


def test_a_locked_database_is_unavailable_and_nothing_is_half_stored(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    s = Store(db)
    s.add(make(1, 1)).result(5)
    other = sqlite3.connect(db, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the 2 s timeout
    fut = s.add(make(2, 2))
    with pytest.raises(Unavailable, match="cannot store drawings now"):
        fut.result(10)
    other.execute("ROLLBACK")
    other.close()
    assert s.add(make(3, 3)).result(5).id == 2  # and it works again afterwards
    assert [d.label for d in s.drawings()] == [1, 3]
    s.close()


def test_confusion_counts_and_hardest_are_newest_first() -> None:
    rows = [make(1, 1), make(1, 7), make(7, 7, p_label=0.4), make(0, 0)]
    for i, d in enumerate(rows, 1):
        d.id = i
    cm = confusion(rows)
    assert cm[1, 1] == 1 and cm[1, 7] == 1 and cm[7, 7] == 1 and cm.sum() == 4
    assert [d.id for d in hardest(rows)] == [3, 2]  # unsure-but-right, wrong
    # the classroom's matrix is the metrics module's, empty lesson included
    labels, preds = np.array([1, 1, 7, 0]), np.array([1, 7, 7, 0])
    assert np.array_equal(cm, confusion_matrix(labels, preds))
    assert confusion([]).shape == (10, 10) and confusion([]).sum() == 0


def test_store_running_counts_equal_the_metrics_matrix(tmp_path: Path) -> None:
    s = Store(tmp_path / "c.db")
    for label, pred in [(1, 1), (1, 7), (7, 7), (0, 0), (3, 5)]:
        s.add(make(label, pred)).result(5)
    s.remove(2)
    assert np.array_equal(s.confusion(), confusion(s.drawings()))
    s.close()
    again = Store(tmp_path / "c.db")  # rebuilt from the file: the same matrix
    assert np.array_equal(again.confusion(), confusion(again.drawings()))
    again.close()


def test_device_and_global_limits() -> None:
    lim = Limits(device_rate=2, device_burst=2, global_rate=1000, max_in_flight=3)
    lim.enter("a")
    lim.enter("a")
    with pytest.raises(TooMany):
        lim.enter("a")
    lim.enter("b")  # another device on the same address is not held back
    with pytest.raises(Busy):
        lim.enter("c")  # three in flight
    lim.leave()
    lim.enter("c")


def test_split_is_reproducible_and_keeps_both_sides() -> None:
    ids = list(range(1, 101))
    train, test = split(ids, 0.2, 0)
    assert (train, test) == split(list(reversed(ids)), 0.2, 0)
    assert len(test) == 20 and sorted(train + test) == ids
    assert split(ids, 0.2, 1) != (train, test)
    assert [len(x) for x in split([5, 9], 0.01, 0)] == [1, 1]


def test_export_writes_an_idx_folder_that_train_reads(tmp_path: Path) -> None:
    s = Store(tmp_path / "c.sqlite")
    for d in range(30):
        s.add(make(d % 10, d % 10)).result(5)
    s.remove(30)
    s.close()
    doc = export_dataset(tmp_path / "c.sqlite", tmp_path / "ds", 0.2, 0)
    ds = load_dataset("mnist", tmp_path / "ds", fetch=False)
    assert ds.name == "classroom" and len(ds.train_labels) + len(ds.test_labels) == 29
    assert doc["test_ids"] == sorted(doc["test_ids"]) and 30 not in doc["train_ids"]
    first = Store(tmp_path / "c.sqlite").drawings()[0]
    where = doc["train_ids"].index(1) if 1 in doc["train_ids"] else None
    images = ds.train_images if where is not None else ds.test_images
    idx = where if where is not None else doc["test_ids"].index(1)
    assert images[idx].tobytes() == first.pixels
    # a changed file no longer matches the manifest's checksum
    (tmp_path / "ds" / "t10k-labels-idx1-ubyte").write_bytes(
        (tmp_path / "ds" / "t10k-labels-idx1-ubyte").read_bytes()[:-1] + b"\x09")
    with pytest.raises(DataError, match="checksum mismatch"):
        load_idx_folder(tmp_path / "ds")
    (tmp_path / "ds" / MANIFEST).write_text('{"format": "digitlens-idx-folder", "version": 1, '
                                            '"name": "mnist", "sha256": {}}')
    with pytest.raises(DataError, match="'name' must be"):
        load_idx_folder(tmp_path / "ds")


def test_terminal_qr_decodes_to_the_url() -> None:
    """The half-block text printed in the terminal, drawn back into pixels and read."""
    import zxingcpp
    from PIL import Image
    url = "http://192.168.1.20:8000/"
    lines = qr.terminal(url).splitlines()
    tops = {" ": (0, 0), "▀": (1, 0), "▄": (0, 1), "█": (1, 1)}
    rows = []
    for line in lines:  # each character is two modules, upper and lower; block = light
        rows.append([tops[ch][0] for ch in line])
        rows.append([tops[ch][1] for ch in line])
    light = np.array(rows, np.uint8) * 255
    img = Image.fromarray(np.kron(light, np.ones((8, 8), np.uint8)))
    assert [c.text for c in zxingcpp.read_barcodes(img)] == [url]
    svg = qr.svg(url)  # decoded from the screen in test_browser.py
    assert svg.startswith(b"<svg") and f"<title>student page: {url}</title>".encode() in svg


def test_fine_tuning_starts_from_the_given_model(trained_model: Any, sample: Any,
                                                 tmp_path: Path) -> None:
    from digitlens.errors import ParameterError
    from digitlens.nn.io import load_model
    from digitlens.nn.presets import TrainConfig
    from digitlens.nn.train import train
    config = TrainConfig(layers=trained_model.sizes, epochs=1, batch_size=64, lr=1e-4,
                         dataset="mnist-sample")
    result = train(config, sample, tmp_path / "tuned", init=trained_model)
    start = load_model(tmp_path / "tuned" / "snapshots" / "epoch-0000.npz")
    assert np.array_equal(start.params, trained_model.params)
    assert not np.array_equal(result.model.params, trained_model.params)
    assert result.model.meta["fine_tuned_from"]["dataset"] == trained_model.meta["dataset"]
    with pytest.raises(ParameterError, match="'init'"):
        train(TrainConfig(layers=(784, 10), epochs=1), sample, None, init=trained_model)


def test_normal_sync_puts_drawings_into_the_file_itself_within_a_second(tmp_path: Path) -> None:
    """What a power cut would leave: the main file without its WAL (checkpointed each second)."""
    import shutil
    s = Store(tmp_path / "c.sqlite", "normal")
    for d in range(5):
        s.add(make(d, d)).result(5)
    time.sleep(1.6)
    shutil.copy(tmp_path / "c.sqlite", tmp_path / "copy.sqlite")  # the main file only
    con = sqlite3.connect(tmp_path / "copy.sqlite")
    assert con.execute("SELECT count(*) FROM drawings").fetchone()[0] == 5
    con.close()
    s.close()
