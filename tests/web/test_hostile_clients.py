"""Hostile clients against the real ``digitlens serve`` (loopback only, bounded loops): slow and
silent connections are closed by the request deadline while others keep answering, a client
leaving mid-body is one log line, malformed requests get the JSON envelope, bad runs are listed
as unusable, and caches are filled once however many requests ask at the same time."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from digitlens.web.runs import Registry

from .conftest import Served
from .helpers import data_url

DEADLINE = 2.0  # the server's request deadline in these tests (DIGITLENS_REQUEST_TIMEOUT)


@pytest.fixture(scope="module")
def hostile_runs(served_runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The good runs plus two damaged ones: a model whose metadata says ``"dataset": "mnist"``
    and a run whose history holds a NaN."""
    import zipfile
    root = tmp_path_factory.mktemp("hostile") / "runs"
    shutil.copytree(served_runs, root)
    shutil.copytree(root / "small", root / "badmeta")
    path = root / "badmeta" / "model.npz"
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]))))
    buf = io.BytesIO()
    np.save(buf, np.array(json.dumps({**meta, "dataset": "mnist"})))
    members["meta.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    shutil.copytree(root / "small", root / "nanhistory")
    (root / "nanhistory" / "history.json").write_text('{"epochs": [{"epoch": 1, "loss": NaN}]}')
    return root


@pytest.fixture(scope="module")
def server(hostile_runs: Path) -> Iterator[Served]:
    old = os.environ.get("DIGITLENS_REQUEST_TIMEOUT")
    os.environ["DIGITLENS_REQUEST_TIMEOUT"] = str(DEADLINE)
    try:
        s = Served("--runs-dir", str(hostile_runs), "--run", str(hostile_runs / "small"))
    finally:
        if old is None:
            os.environ.pop("DIGITLENS_REQUEST_TIMEOUT")
        else:
            os.environ["DIGITLENS_REQUEST_TIMEOUT"] = old
    try:
        yield s
    finally:
        s.stop()


def address(url: str) -> tuple[str, int]:
    host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
    return host, int(port)


def raw(url: str, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(address(url), timeout=timeout) as s:
        s.sendall(data)
        chunks: list[bytes] = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


@pytest.mark.e2e
def test_negative_content_length_gets_the_json_envelope(server: Served) -> None:
    answer = raw(server.url, b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{}")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    doc = json.loads(body)
    assert doc["ok"] is False and "malformed HTTP request" in doc["error"]


def cut_png(cut: int) -> str:
    """A drawing's PNG data URL with its last ``cut`` bytes missing."""
    gray = np.zeros((56, 56), np.uint8)
    gray[10:46, 24:32] = 255
    raw = base64.b64decode(data_url(gray).split(",", 1)[1])
    return "data:image/png;base64," + base64.b64encode(raw[:-cut]).decode()


INK = {"net_input": [0.0] * 300 + [1.0] * 100 + [0.0] * 384}
# Loose ends of the second hostile round: each was once a 200 (or a null) and is a clear 400.
LOOSE_ENDS = [
    ("/api/map/near", {"activations": [1e308] * 16}, "numbers within ±1e+06"),
    ("/api/map/near", {"activations": [-1e300] + [0.0] * 15}, "numbers within ±1e+06"),
    ("/api/map/near", {"activations": [0.0] * 16, "k": "5"}, "'k' parameter must be an int"),
    ("/api/map/near", {"activations": [0.0] * 16, "layer": True}, "'layer' parameter must be"),
    ("/api/nudge", {**INK, "target": "3"}, "'target' parameter must be an int in 0..9. Got '3'"),
    ("/api/nudge", {**INK, "target": True}, "'target' parameter must be an int"),
    ("/api/nudge", {**INK, "target": 3.0}, "'target' parameter must be an int"),
    ("/api/attribute", {**INK, "target": "3"}, "'target' parameter must be an int"),
    ("/api/attribute", {**INK, "steps": "16"}, "'steps' parameter must be an int"),
    ("/api/attribute", {**INK, "target": "all", "steps": 32.0}, "'steps' parameter"),
    ("/api/dream", {"layer": "0", "neuron": 1}, "'layer' parameter must be an int"),
    ("/api/dream", {"layer": 0, "neuron": "1"}, "'neuron' parameter must be an int"),
    ("/api/dream", {"layer": 0, "neuron": 1, "seed": "7"}, "'seed' parameter must be an int"),
    ("/api/dream", {"layer": 0, "neuron": False}, "'neuron' parameter must be an int"),
    ("/api/neuron", {"layer": 0, "neuron": "2"}, "'neuron' parameter must be an int"),
    ("/api/ablate", {"knockout": {"0": ["1"]}}, "'knockout neuron' parameter must be an int"),
    ("/api/ablate", {"knockout": {"0": [True]}}, "'knockout neuron' parameter must be an int"),
    ("/api/predict", {"test_index": "3"}, "'test_index' parameter must be an int"),
    ("/api/predict", {"pixels": [0.0] * 784, "width": "28"}, "'width' parameter must be"),
    ("/api/predict", {"pixels": [0.0] * 784, "inspect": {"layer": "0", "neuron": 1}},
     "'layer' parameter must be an int"),
    ("/api/predict", {"image": cut_png(12)}, "a whole PNG (ending with its IEND chunk)"),
    ("/api/predict", {"image": cut_png(1)}, "a whole PNG"),
    ("/api/predict", {"image": cut_png(30)}, "a whole PNG"),
    ("/api/nudge", {"image": cut_png(12)}, "a whole PNG"),
    ("/api/attribute", {"net_input": [1e300] + [0.0] * 783}, "'net_input' parameter must be "
     "numbers in 0..1"),  # found by the fuzzer: a float32 overflow warning, then a 500
    ("/api/predict", {"pixels": [0.5] * 783 + [-1e300]}, "'pixels' parameter must be numbers"),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("path", "body", "message"), LOOSE_ENDS)
def test_loose_ends_are_a_clear_400(server: Served, path: str, body: dict[str, object],
                                    message: str) -> None:
    r = httpx.post(server.url + path.lstrip("/"), json={"run": "small", **body}, timeout=60)
    assert r.status_code == 400, r.text
    doc = r.json()
    assert doc["ok"] is False and message in doc["error"], doc


@pytest.mark.e2e
def test_a_whole_png_still_answers(server: Served) -> None:
    """The check refuses cut-off PNGs only: a whole one (the page's own kind) still answers."""
    whole = data_url(np.eye(56, dtype=np.uint8) * 255)
    r = httpx.post(server.url + "api/predict", json={"run": "small", "image": whole})
    assert r.status_code == 200 and r.json()["has_ink"] is True


@pytest.mark.e2e
@pytest.mark.parametrize("hosts", [(b"evil.example", b"127.0.0.1"),
                                   (b"127.0.0.1", b"evil.example"),
                                   (b"127.0.0.1", b"127.0.0.1")])
def test_two_host_headers_are_refused(server: Served, hosts: tuple[bytes, bytes]) -> None:
    answer = raw(server.url, b"GET /api/info HTTP/1.1\r\nHost: " + hosts[0] + b"\r\nHost: "
                 + hosts[1] + b"\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert json.loads(body) == {"ok": False,
                                "error": "a request has one Host header (got several)"}


@pytest.mark.e2e
def test_train_refuses_strings_for_numbers(server: Served) -> None:
    r = httpx.post(server.url + "api/train", json={"preset": "s1-single-layer", "epochs": "5",
                                                   "name": "x"})
    assert r.status_code == 400 and "'epochs' parameter must be an int" in r.json()["error"]


@pytest.mark.e2e
def test_bad_runs_are_listed_as_unusable(server: Served) -> None:
    r = httpx.get(server.url + "api/runs", timeout=60)
    assert r.status_code == 200, r.text
    rows = {row["name"]: row for row in r.json()["runs"]}
    assert rows["small"]["usable"] is True
    assert rows["badmeta"]["usable"] is False
    assert "metadata.dataset must be an object" in rows["badmeta"]["error"]
    assert rows["nanhistory"]["usable"] is False and "NaN" in rows["nanhistory"]["error"]
    one = httpx.get(server.url + "api/runs/badmeta")
    assert one.status_code == 400 and one.json()["ok"] is False
    for path in ("api/test?run=badmeta", "api/confusion?run=badmeta"):
        assert httpx.get(server.url + path).status_code == 400


@pytest.mark.e2e
def test_slow_and_silent_connections_are_closed(server: Served) -> None:
    """Idle, half-sent headers and half-sent bodies: all closed within the deadline (plus
    slack) while ordinary requests keep answering."""
    socks = []
    for i in range(150):
        s = socket.create_connection(address(server.url), timeout=30)
        if i % 3 == 1:
            s.sendall(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        elif i % 3 == 2:
            s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      b"application/json\r\nContent-Length: 1000\r\n\r\n{\"pixels\": [")
        socks.append(s)
    t0 = time.monotonic()
    for _ in range(5):
        assert httpx.get(server.url + "api/info", timeout=5).json()["ok"]
        time.sleep(0.2)
    closed = 0
    for s in socks:
        s.settimeout(max(0.1, DEADLINE + 8 - (time.monotonic() - t0)))
        try:
            data = s.recv(65536)
            closed += data == b"" or data.startswith(b"HTTP/1.1")
        except ConnectionResetError:
            closed += 1
        except TimeoutError:
            pass
        s.close()
    assert closed == len(socks)
    assert time.monotonic() - t0 < DEADLINE + 8
    assert httpx.get(server.url + "api/info", timeout=5).json()["ok"]


@pytest.mark.e2e
def test_clients_leaving_mid_body_leave_one_line_and_no_traceback(hostile_runs: Path) -> None:
    s = Served("--runs-dir", str(hostile_runs))
    try:
        for _ in range(20):
            with socket.create_connection(address(s.url), timeout=5) as c:
                c.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          b"application/json\r\nContent-Length: 5000\r\n\r\n{\"pixels\": [0,")
                time.sleep(0.02)
        time.sleep(0.5)
        assert httpx.get(s.url + "api/info").json()["ok"]
    finally:
        err = s.stop()
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "left during its request body" in line]
    assert 1 <= len(lines) <= 20, err


def test_caches_fill_once_however_many_ask(hostile_runs: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Single flight: 24 threads asking for the same cold layer run one test-set pass; two
    layers asked at once run at most HEAVY_AT_ONCE passes at a time."""
    from digitlens.web import runs as runs_module
    calls, running, peak = [], [0], [0]
    lock = threading.Lock()
    real = runs_module.layer_activations

    def counted(model, x):  # type: ignore[no-untyped-def]
        with lock:
            calls.append(len(x))
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        try:
            return real(model, x)
        finally:
            with lock:
                running[0] -= 1
    monkeypatch.setattr(runs_module, "layer_activations", counted)
    registry = Registry(hostile_runs)
    run = registry.get("small")
    out: list[tuple[int, np.ndarray]] = []
    threads = [threading.Thread(target=lambda i=i: out.append(
        (i % 3, registry.test_activations(run, i % 3)))) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [len(run.dataset.test_labels)] * 3  # one pass per layer asked
    assert peak[0] <= runs_module.HEAVY_AT_ONCE
    assert len(out) == 24
    for layer, acts in out:  # every asker got the one cached array, equal to a fresh pass
        assert acts is registry.test_activations(run, layer)
    fresh = real(run.model, run.model.as_input(run.dataset.test_images))[out[0][0]]
    np.testing.assert_array_equal(out[0][1], fresh)


def test_loaded_runs_are_bounded(served_runs: Path, tmp_path: Path) -> None:
    """A runs folder of 12 runs, each opened in turn (as a listing does): at most KEEP_RUNS
    stay loaded with their caches, the most recently used, and an evicted run loads again."""
    from digitlens.web import runs as runs_module
    root = tmp_path / "runs"
    for i in range(12):
        shutil.copytree(served_runs / "small", root / f"r{i:02d}",
                        ignore=shutil.ignore_patterns("snapshots", "checkpoint.npz"))
    registry = Registry(root)
    for i in range(12):
        registry.test_activations(registry.get(f"r{i:02d}"), 0)
    assert list(registry.loaded) == [f"r{i:02d}" for i in range(12 - runs_module.KEEP_RUNS, 12)]
    assert len(registry.datasets) <= runs_module.KEEP_DATASETS
    first = registry.get("r00")
    assert first.test_acts == {} and list(registry.loaded)[-1] == "r00"


API_SEEDS = [
    ("POST", "/api/predict", {"run": "small", "pixels": [0.0] * 784, "include": ["layers"]}),
    ("POST", "/api/predict", {"run": "small", "test_index": 3, "knockout": {"0": [1, 2]}}),
    ("POST", "/api/neuron", {"run": "small", "layer": 0, "neuron": 3, "test_index": 1}),
    ("POST", "/api/ablate", {"run": "small", "knockout": {"0": [1]}}),
    ("POST", "/api/train", {"preset": "s1-single-layer", "epochs": 1, "name": "fz"}),
    ("POST", "/api/dream", {"run": "small", "layer": 0, "neuron": 3, "seed": 1}),
    ("POST", "/api/nudge", {"run": "small", **INK, "target": 3}),
    ("POST", "/api/attribute", {"run": "small", **INK, "target": "all"}),
    ("POST", "/api/circuit", {"run": "small", **INK, "target": 3, "max_nodes": 5}),
    ("POST", "/api/patch", {"run": "small", **INK, "source_index": 2, "layer": 1,
                            "neurons": [0, 4]}),
    ("POST", "/api/map/near", {"run": "small", "layer": 1, "activations": [0.5] * 16, "k": 3}),
]


def no_constant(name: str) -> None:
    raise AssertionError(f"{name} in an answer")


def test_api_byte_mutation_fuzz(client: httpx.Client) -> None:
    """Seeded byte and structure mutations of real request bodies (and of query strings): every
    answer is the JSON envelope with a status below 500, and no answer holds NaN."""
    import fuzzing
    rng = np.random.default_rng(21)
    n = int(1500 * float(os.environ.get("DIGITLENS_FUZZ_SCALE", "1")))
    statuses: dict[int, int] = {}
    for i in range(n):
        method, path, body = API_SEEDS[i % len(API_SEEDS)]
        if path == "/api/train":  # structure only: never start real training jobs here
            doc = fuzzing.mutate_json(body, rng)
            data = json.dumps(doc).encode()
            if isinstance(doc, dict) and doc.get("epochs") == 1 and "preset" in doc:
                continue
        elif rng.random() < 0.5:
            data = json.dumps(fuzzing.mutate_json(body, rng)).encode()
        else:
            data = fuzzing.mutate(json.dumps(body).encode(), rng)
        headers = {"Content-Type": "application/json"}
        r = client.request(method, path, content=data, headers=headers)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (path, data[:200], r.text[:300])
        doc = json.loads(r.content, parse_constant=no_constant)  # no NaN/Infinity anywhere
        assert isinstance(doc, dict) and doc["ok"] is (r.status_code < 300)
    for query in ["run=%00", "label=-1", "offset=99999999999", "limit=abc", "run=" + "a" * 500,
                  "predicted=1e400", "misclassified=maybe"]:
        r = client.get("/api/test?" + query)
        assert r.status_code < 500 and r.json()["ok"] is False
    assert statuses.get(200, 0) > 0 and sum(statuses.values()) > n // 2
