"""``digitlens classroom`` as a real process: the API's contract and safety, the live events,
``kill -9`` during submissions without losing an answered drawing, and the class's digits
exported, fine-tuned on and evaluated through the CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP

from .conftest import Classroom, drawing, submit

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(lesson: Classroom) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lesson.base, timeout=20) as c:
        yield c


def stored(db: Path) -> dict[int, tuple[Any, ...]]:
    """The drawings as another reader of the file sees them."""
    con = sqlite3.connect(db)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT id, label, prediction, pixels, removed FROM drawings")}
    finally:
        con.close()


def test_drawings_are_read_by_the_network_and_counted(lesson: Classroom, api: httpx.Client,
                                                      sample: Dataset, trained_model: MLP) -> None:
    answers = []
    for i in range(12):
        r = submit(api, f"phone-{i:02d}", int(sample.test_labels[i]), sample.test_images[i])
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["ok"] is True and set(body) >= {"id", "prediction"}
        answers.append(body)
    rows = stored(lesson.db)
    for i, body in enumerate(answers):
        label, prediction, pixels, _ = rows[body["id"]]
        assert label == sample.test_labels[i] and prediction == body["prediction"]
        # the stored 28×28 is the MNIST-normalised drawing; the network's reading of it agrees
        x = np.frombuffer(pixels, np.uint8).astype(np.float32) / 255
        assert int(np.argmax(trained_model.predict_proba(x))) == prediction
    summary = api.get("/api/class/summary", params={"token": lesson.token}).json()
    cm = np.zeros((10, 10), int)
    for i, body in enumerate(answers):
        cm[sample.test_labels[i], body["prediction"]] += 1
    assert summary["n"] == 12 and summary["confusion"] == cm.tolist()
    assert summary["accuracy"] == pytest.approx(np.trace(cm) / 12)  # counts, float64
    from digitlens.data.sources import load_dataset
    mnist = load_dataset("mnist", fetch=False)  # what the server found: MNIST or the sample
    right = trained_model.predict(mnist.test_images) == mnist.test_labels
    # counts of the same float32 predictions made on this same CPU
    assert summary["mnist_accuracy"] == pytest.approx(right.mean())


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"label": 10}, 400, "'label'"), ({"label": "3"}, 400, "'label'"),
    ({"label": True}, 400, "'label'"), ({"width": 27}, 400, "'width'"),
    ({"height": 513}, 400, "'height'"), ({"gray": "!!!!" * 4182}, 400, "valid base64"),
    ({"gray": "AAAA"}, 400, "'gray'"), ({"device": "../../etc"}, 400, "'device'"),
    ({"device": 7}, 400, "'device'"), ({"name": "x"}, 400, "unknown field"),
    ({"prediction": 12}, 400, "'prediction'"),
])
def test_bad_submissions_are_refused(api: httpx.Client, sample: Dataset,
                                     change: dict[str, Any], status: int, words: str) -> None:
    gray, w, h = drawing(sample.test_images[0], 4)
    body = {"device": "strict-1", "label": 1, "gray": gray, "width": w, "height": h, **change}
    r = api.post("/api/class/drawings", json=body)
    assert r.status_code == status and words in r.json()["error"]


def test_limits_tokens_origins_and_settings(lesson: Classroom, api: httpx.Client,
                                            sample: Dataset) -> None:
    img = sample.test_images[0]
    blank = np.zeros((28, 28), np.uint8)
    assert "no ink" in submit(api, "blank-1", 1, blank).json()["error"]
    r = api.post("/api/class/drawings", content=b"x" * 400_000,
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = api.post("/api/class/drawings", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    codes = [submit(api, "fast-one", 7, img).status_code for _ in range(4)]
    assert codes[:2] == [201, 201] and codes[2:] == [429, 429]
    r = submit(api, "fast-one", 7, img)
    assert r.headers["Retry-After"] == "1" and "at most 2 drawings a second" in r.json()["error"]
    assert submit(api, "another-one", 7, img).status_code == 201  # same address, own bucket
    for path in ("summary", "state", "events"):
        for params in ({}, {"token": "wrong"}, {"token": lesson.token + "x"}):
            r = api.get(f"/api/class/{path}", params=params)
            assert r.status_code == 403 and "token" in r.json()["error"]
    assert api.post("/api/class/pause", json={"paused": True}).status_code == 403
    assert api.delete("/api/class/drawings/1").status_code == 403
    foreign = {"Origin": "http://evil.example"}
    gray, w, h = drawing(img)
    r = api.post("/api/class/drawings", headers=foreign,
                 json={"device": "o-1", "label": 1, "gray": gray, "width": w, "height": h})
    assert r.status_code == 403
    r = api.get("/", headers={"Host": "evil.example"})
    assert r.status_code == 400
    t = {"token": lesson.token}
    assert api.post("/api/class/pause", params=t, json={"paused": True}).json()["paused"]
    assert submit(api, "paused-1", 1, img).status_code == 409
    api.post("/api/class/pause", params=t, json={"paused": False})
    assert api.post("/api/class/prompt", params=t, json={"digit": 4}).json()["prompt"] == 4
    assert api.get("/api/class/status").json()["prompt"] == 4
    r = submit(api, "prompt-1", 1, img)
    assert r.status_code == 409 and "draw a 4" in r.json()["error"]
    api.post("/api/class/prompt", params=t, json={"digit": None})
    n = api.get("/api/class/summary", params=t).json()["n"]
    assert api.delete("/api/class/drawings/1", params=t).json()["removed"] is True
    assert api.delete("/api/class/drawings/1", params=t).status_code == 404
    assert api.get("/api/class/summary", params=t).json()["n"] == n - 1
    assert stored(lesson.db)[1][3] == 1  # kept in the record, flagged


def test_a_locked_database_is_a_clear_503_and_nothing_is_lost(lesson: Classroom,
                                                               api: httpx.Client,
                                                               sample: Dataset) -> None:
    before = len(stored(lesson.db))
    other = sqlite3.connect(lesson.db, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        r = submit(api, "locked-1", 5, sample.test_images[5])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert "nothing was saved, try again" in r.json()["error"]
    assert len(stored(lesson.db)) == before
    r = submit(api, "locked-1", 5, sample.test_images[5])
    assert r.status_code == 201 and r.json()["id"] in stored(lesson.db)


def test_the_dashboard_hears_a_drawing_at_once(lesson: Classroom, sample: Dataset) -> None:
    got: list[tuple[float, dict[str, Any]]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.Client(base_url=lesson.base, timeout=10) as c, c.stream(
                "GET", "/api/class/events", params={"token": lesson.token}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                ready.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "drawing":
                    got.append((time.perf_counter(), json.loads(line[6:])))
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert ready.wait(5)
    with httpx.Client(base_url=lesson.base, timeout=10) as c:
        t0 = time.perf_counter()
        body = submit(c, "sse-1", 3, sample.test_images[3]).json()
    t.join(5)
    assert got and got[0][1]["id"] == body["id"] and got[0][1]["label"] == 3
    assert got[0][0] - t0 < 1.0


def test_kill_9_loses_no_answered_drawing(trained_run: Path, tmp_path: Path,
                                          sample: Dataset) -> None:
    db = tmp_path / "class.sqlite"
    c = Classroom(trained_run, db)
    acked: list[int] = []
    stop = threading.Event()

    def student(k: int) -> None:
        with httpx.Client(base_url=c.base, timeout=5) as s:
            i = 0
            while not stop.is_set():
                try:
                    r = submit(s, f"kill-{k}-{i}", int(sample.test_labels[i % 100]),
                               sample.test_images[i % 100])
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 201:
                    acked.append(r.json()["id"])
                i += 1

    threads = [threading.Thread(target=student, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30  # a busy machine answers fewer drawings a second
    while len(acked) < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    c.kill9()
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 10
    rows = stored(db)
    assert set(acked) <= set(rows)  # every answered drawing is in the file
    again = Classroom(trained_run, db)
    try:
        assert again.token == c.token  # the teacher's URL survives the restart
        with httpx.Client(base_url=again.base, timeout=5) as s:
            n = s.get("/api/class/summary", params={"token": again.token}).json()["n"]
            assert n == len(rows) >= len(acked)
            assert submit(s, "after-1", 1, sample.test_images[2]).status_code == 201
    finally:
        again.stop()


def cli(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "digitlens", *args, "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_export_train_evaluate(trained_run: Path, tmp_path: Path, sample: Dataset) -> None:
    """The class's digits -> IDX -> fine-tune the lesson's model -> accuracy before and after.
    The class here writes its digits thick and small, unlike MNIST."""
    db = tmp_path / "class.sqlite"
    c = Classroom(trained_run, db)
    try:
        with httpx.Client(base_url=c.base, timeout=10) as s:
            for i in range(80):
                img = sample.train_images[i]
                thick = np.maximum(img, np.roll(img, 1, axis=1))  # a broader pen
                assert submit(s, f"pupil-{i:02d}", int(sample.train_labels[i]),
                              thick).status_code == 201
    finally:
        c.stop()
    out = tmp_path / "class-digits"
    exported = cli("classroom", "export", "--db", str(db), "--out", str(out))
    assert exported["train"] + exported["test"] == 80 and exported["test"] == 16
    assert cli("classroom", "export", "--db", str(db), "--out", str(tmp_path / "again"),
               )["sha256"] == exported["sha256"]  # the same split again
    before = cli("evaluate", str(trained_run), "--data-dir", str(out))
    assert before["dataset"] == "classroom"
    tuned = tmp_path / "tuned"
    trained = cli("train", "--preset", "default", "--data-dir", str(out), "--init",
                  str(trained_run), "--epochs", "15", "--out", str(tuned))
    assert trained["dataset"] == "classroom" and trained["config"]["layers"] == [784, 32, 16, 10]
    start = load_model(tuned / "snapshots" / "epoch-0000.npz")
    assert np.array_equal(start.params, load_model(trained_run).params)  # fine-tuned from it
    after = cli("evaluate", str(tuned), "--data-dir", str(out))
    # oracle: the tuned model's own predictions on the exported test drawings
    from digitlens.data.idx_folder import load_idx_folder
    ds = load_idx_folder(out)
    model = load_model(tuned)
    assert after["accuracy"] == pytest.approx(  # counts, the same predictions on this CPU
        float(np.mean(model.predict(ds.test_images) == ds.test_labels)))
    assert after["accuracy"] >= before["accuracy"]
