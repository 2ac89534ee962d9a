"""``digitlens serve`` as a user runs it: prints the URL, serves the runs, fails clearly."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from digitlens.commands.serve import is_loopback

from .conftest import Served


def test_serve_prints_url_and_serves(served: Served) -> None:
    assert served.url.startswith("http://127.0.0.1:")
    info = httpx.get(served.url + "api/info").json()
    assert info["ok"] and info["training"] is True
    assert info["default_run"] == "small" and set(info["runs"]) >= {"small", "single"}
    assert httpx.get(served.url).status_code == 200


def test_serve_without_runs_still_starts(tmp_path: Path) -> None:
    s = Served("--runs-dir", str(tmp_path / "none"))
    try:
        info = httpx.get(s.url + "api/info").json()
        assert info["runs"] == [] and info["default_run"] is None
        r = httpx.post(s.url + "api/predict", json={"pixels": [0] * 784})
        assert r.status_code == 404 and "train one first" in r.json()["error"]
    finally:
        s.stop()


@pytest.mark.parametrize(("args", "status"), [(["--run", "/no/such/run"], 1),
                                            (["--port", "70000"], 2), (["--run", "GARBAGE"], 1)])
def test_serve_bad_arguments_fail_in_one_line(args: list[str], status: int,
                                              tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a model")
    args = [str(garbage) if a == "GARBAGE" else a for a in args]
    p = subprocess.run([sys.executable, "-m", "digitlens", "serve", "--port", "0", *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == status
    assert p.stderr.startswith("digitlens: error:") and len(p.stderr.strip().splitlines()) == 1


def test_port_in_use_is_a_clear_error(runs_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = subprocess.run([sys.executable, "-m", "digitlens", "serve", "--runs-dir",
                            str(runs_dir), "--port", str(port)], capture_output=True, text=True,
                           timeout=60)
    assert p.returncode == 1 and "try another --port" in p.stderr


@pytest.mark.parametrize(("host", "loop"), [("127.0.0.1", True), ("localhost", True),
                                            ("::1", True), ("127.0.0.5", True),
                                            ("0.0.0.0", False), ("192.168.1.4", False),  # noqa: S104
                                            ("myhost.lan", False)])
def test_loopback_detection(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_other_loopback_address_answers_to_itself(runs_dir: Path) -> None:
    s = Served("--runs-dir", str(runs_dir), "--host", "127.0.0.2")
    try:
        assert s.url.startswith("http://127.0.0.2:")
        assert httpx.get(s.url + "api/info").json()["training"] is True
        r = httpx.get(s.url + "api/info", headers={"host": "evil.example"})
        assert r.status_code == 400
    finally:
        s.stop()


def test_workers_answer_read_only(runs_dir: Path) -> None:
    """Several worker processes share the port; none trains (a job lives in one process)."""
    s = Served("--runs-dir", str(runs_dir), "--workers", "2")
    try:
        for _ in range(200):
            try:
                info = httpx.get(s.url + "api/info").json()
                break
            except httpx.TransportError:  # the workers are still starting
                time.sleep(0.05)
        assert info["training"] is False
        r = httpx.post(s.url + "api/predict", json={"test_index": 3, "include": []})
        assert r.status_code == 200 and r.json()["ok"]
        r = httpx.post(s.url + "api/train", json={})
        assert r.status_code == 403 and "worker processes" in r.json()["error"]
    finally:
        s.stop()


def test_workers_refuse_training(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "digitlens", "serve", "--port", "0", "--runs-dir",
                        str(tmp_path), "--workers", "2", "--allow-training"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--allow-training" in p.stderr


def test_live_socket_messages_are_capped_by_the_server(served: Served) -> None:
    """uvicorn itself refuses a live-socket message beyond the body limit (it closes the socket:
    1009, message too big) instead of buffering it; one just over the limit gets the JSON
    error and the socket goes on."""
    websockets = pytest.importorskip("websockets")
    from websockets.sync.client import connect

    from digitlens.http.validate import MAX_BODY
    url = "ws" + served.url[len("http"):] + "api/live"
    with connect(url, max_size=None) as ws:
        ws.send("x" * (MAX_BODY + 1))
        answer = ws.recv(timeout=30)
        assert isinstance(answer, str) and "too large" in answer
        def send_too_much() -> None:  # the close may already interrupt the send
            ws.send("x" * (MAX_BODY + 4096))
            ws.recv(timeout=30)
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            send_too_much()
    # without the cap the server would read it whole and answer "too large" instead; the close
    # can cut the client's send short, so its close frame is not always seen
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    with connect(url) as ws:  # the server goes on
        ws.send("{}")
        assert "give exactly one input" in str(ws.recv(timeout=30))


@pytest.mark.e2e
def test_serve_a_model_without_a_dataset(tmp_path: Path) -> None:
    """A model that records no dataset (an import) of 12×12 images: `serve --run` refuses it in
    one line instead of showing another run, and serves it with `--data-dir`."""
    from datasets_support import idx_folder
    from digitlens.nn.io import load_model, save_model

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "digitlens", *args], capture_output=True,
                              text=True, timeout=120)

    data = idx_folder(tmp_path / "bars")
    assert cli("train", "--data-dir", str(data), "--preset", "s1-single-layer", "--epochs", "2",
               "--out", str(tmp_path / "run")).returncode == 0
    bare = load_model(tmp_path / "run")
    del bare.meta["dataset"]
    model = save_model(bare, tmp_path / "bare.npz")
    p = cli("serve", "--port", "0", "--runs-dir", str(tmp_path / "none"), "--run", str(model))
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1
    assert "records no dataset" in p.stderr and "--data-dir" in p.stderr
    p = cli("serve", "--port", "0", "--data-dir", str(data))
    assert p.returncode == 2 and "--run" in p.stderr
    expected = cli("evaluate", str(model), "--data-dir", str(data), "--json")
    accuracy = json.loads(expected.stdout.strip().splitlines()[-1])["accuracy"]
    s = Served("--runs-dir", str(tmp_path / "none"), "--run", str(model), "--data-dir",
               str(data))
    try:
        (run,) = httpx.get(s.url + "api/runs").json()["runs"]
        assert run["name"] == "bare" and run["usable"] and run["input_shape"] == [12, 12]
        confusion = httpx.get(s.url + "api/confusion").json()
        assert confusion["accuracy"] == accuracy and confusion["n"] == 60
    finally:
        s.stop()
