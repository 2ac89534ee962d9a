"""Training from the page: a job streams its epochs over server-sent events, the new run
becomes selectable, and a read-only server refuses to train or write."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from digitlens.nn.cnn import CNN
from digitlens.nn.io import load_network
from digitlens.web.app import create_app
from digitlens.web.runs import Registry

from .conftest import ThreadServer


def events(client: httpx.Client, job: str) -> list[tuple[str, dict]]:
    """Read a job's SSE stream to its final event."""
    out: list[tuple[str, dict]] = []
    with client.stream("GET", f"/api/train/{job}/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                out.append((kind or "", json.loads(line[6:])))
                if kind in ("done", "stopped", "error"):
                    break
    return out


def test_train_streams_epochs_and_adds_the_run(client: httpx.Client, served_runs: Path) -> None:
    r = client.post("/api/train", json={"preset": "s1-single-layer", "epochs": 2,
                                        "name": "web-s1", "dataset": "mnist-sample"})
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    got = events(client, job["id"])
    kinds = [k for k, _ in got if k != "batch"]
    assert kinds == ["start", "epoch", "epoch", "done"]
    epochs = [d for k, d in got if k == "epoch"]
    history = json.loads((served_runs / "web-s1" / "history.json").read_text())["epochs"]
    assert [e["row"]["test_accuracy"] for e in epochs] == [h["test_accuracy"] for h in history]
    mosaic = np.array(epochs[-1]["mosaic"]["images"])
    # scaled to a largest |value| of 1, then rounded to 2 decimals: 1.0 exactly
    assert mosaic.shape == (10, 784) and np.abs(mosaic).max() == pytest.approx(1.0)
    assert epochs[-1]["mosaic"]["total"] == 10 and epochs[-1]["mosaic"]["shape"] == [28, 28]
    # a late follower replays every row but only the newest mosaic (a long run keeps one)
    replay = [d for k, d in events(client, job["id"]) if k == "epoch"]
    assert [e["row"] for e in replay] == [e["row"] for e in epochs]
    assert ["mosaic" in e for e in replay] == [False, True]
    runs = {x["name"]: x for x in client.get("/api/runs").json()["runs"]}
    assert runs["web-s1"]["sizes"] == [784, 10] and runs["web-s1"]["epochs"] == 2
    p = client.post("/api/predict", json={"run": "web-s1", "test_index": 0}).json()
    assert p["ok"] and p["evidence"]["method"] == "weights"
    # a reconnecting EventSource asks from past the final event: the stream must end, not idle
    with client.stream("GET", f"/api/train/{job['id']}/events?from={len(got)}",
                       timeout=10) as late:
        assert [ln for ln in late.iter_lines() if ln.startswith("data: ")] == []
    again = client.post("/api/train", json={"preset": "s1-single-layer", "epochs": 1,
                                            "name": "web-s1", "dataset": "mnist-sample"})
    assert again.status_code == 409 and "already exists" in again.json()["error"]


def test_the_page_trains_a_lenet_and_shows_its_kernels(client: httpx.Client,
                                                        served_runs: Path) -> None:
    """The lenet5 preset from the page: its epochs carry the first layer's kernels as the
    mosaic (each scaled to ±1), and the run joins the list as a convolutional one."""
    info = client.get("/api/info").json()
    lenet = next(p for p in info["presets"] if p["name"] == "lenet5")
    assert lenet["label"] == "conv 6-16 · 120-84-10"
    r = client.post("/api/train", json={"preset": "lenet5", "epochs": 1, "name": "web-lenet",
                                        "dataset": "mnist-sample"})
    assert r.status_code == 202, r.text
    got = events(client, r.json()["job"]["id"])
    assert [k for k, _ in got if k != "batch"] == ["start", "epoch", "done"], got[-1]
    assert got[0][1]["label"] == "conv 6-16 · 120-84-10"
    m = next(d for k, d in got if k == "epoch")["mosaic"]
    model = load_network(served_runs / "web-lenet")
    assert isinstance(model, CNN)
    k = model.weights[0][:, 0].astype(np.float64)  # (6, 5, 5), one input channel
    want = np.round(k / np.abs(k).reshape(6, -1).max(axis=1)[:, None, None], 2)
    assert m["kind"] == "kernels" and m["shape"] == [5, 5] and m["n"] == 6
    np.testing.assert_allclose(np.array(m["images"]).reshape(6, 5, 5), want, atol=1e-9)
    runs = {x["name"]: x for x in client.get("/api/runs").json()["runs"]}
    assert runs["web-lenet"]["kind"] == "cnn" and runs["web-lenet"]["epochs"] == 1


def test_stop_leaves_a_resumable_run(client: httpx.Client, served_runs: Path) -> None:
    """S3's preset runs with its own 230 epochs (under the cap) until stopped."""
    info = client.get("/api/info").json()
    assert info["limits"]["train_epochs"] >= max(p["config"]["epochs"] for p in info["presets"])
    r = client.post("/api/train", json={"preset": "s3-machine-academy",
                                        "name": "web-stop", "dataset": "mnist-sample"})
    assert r.status_code == 202, r.text
    job = r.json()["job"]["id"]
    assert r.json()["job"]["config"]["epochs"] == 230
    assert client.post(f"/api/train/{job}/stop", json={}).status_code == 200
    got = events(client, job)
    assert got[-1][0] == "stopped"
    assert (served_runs / "web-stop" / "config.json").exists()
    jobs = client.get("/api/train/jobs").json()["jobs"]
    assert {j["id"]: j["state"] for j in jobs}[job] == "stopped"


@pytest.mark.parametrize(("body", "message"), [
    ({"preset": "nope"}, "'preset' parameter"),
    ({"epochs": 0}, "'epochs' parameter must be an int in 1..250"),
    ({"epochs": 251}, "'epochs' parameter must be an int in 1..250"),
    ({"epochs": 500}, "'epochs'"),
    ({"name": "../../tmp/x"}, "'run' parameter must be a name"),
    ({"name": "a/b"}, "'run' parameter"),
    ({"dataset": "/etc"}, "'dataset' parameter"),
    ({"lr": 5}, "unknown field 'lr'"),
])
def test_bad_training_requests(client: httpx.Client, body: dict, message: str) -> None:
    r = client.post("/api/train", json={"dataset": "mnist-sample", **body})
    assert r.status_code == 400 and message in r.json()["error"]


def test_read_only_server_refuses_training(runs_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    app = create_app(Registry(root, [runs_dir / "small"]), allow_training=False)
    with ThreadServer(app) as url, httpx.Client(base_url=url) as c:
        assert c.get("/api/info").json()["training"] is False
        r = c.post("/api/train", json={"preset": "s1-single-layer", "name": "x",
                                       "dataset": "mnist-sample"})
        assert r.status_code == 403 and "read-only" in r.json()["error"]
        assert c.post("/api/train/job1/stop", json={}).status_code == 403
        assert c.post("/api/predict", json={"test_index": 1}).json()["ok"]  # still serves
    assert list(root.iterdir()) == []
