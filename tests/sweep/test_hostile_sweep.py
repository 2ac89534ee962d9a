"""Sweeps that refuse instead of hang: seeds and grids sized before they are expanded,
``--workers`` capped by the machine, a scheduler that accepts and never answers, ``--out`` at
things that are no folder, point names too long for a file system, and damaged sweep files
read through the loading boundary (a string accuracy answers 400 on the served chart)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digitlens.errors import ModelError, ParameterError
from digitlens.nn.presets import get_preset
from digitlens.sweep import grid as G
from digitlens.sweep import table as T

BIN = Path(sys.executable).parent
QUICK = ["--preset", "s3-machine-academy", "--grid", "hidden=8", "--epochs", "1",
         "--dataset", "mnist-sample"]


@pytest.mark.parametrize(("parse", "text"), [
    (G.parse_seeds, "0-99999999999"),
    (G.parse_seeds, "0-30000"),
    (G.parse_seeds, "0-5000,5001-10001"),
    (G.parse_seeds, ",".join(["1"] * 200_000)),
    (G.parse_grid, "lr=" + ",".join(f"0.{i}" for i in range(1, 30_000))),
    (G.parse_grid, "hidden=" + ",".join(["8"] * 200_000)),
])
def test_seeds_and_grids_are_sized_before_they_are_expanded(parse: Any, text: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ParameterError, match="at most 10,000"):
        parse(text)
    assert time.perf_counter() - t0 < 0.5  # 0-30000 took 2.9 s, 0-99999999999 never ended


def test_the_cap_itself_is_allowed_and_linear() -> None:
    t0 = time.perf_counter()
    assert G.parse_seeds("0-9999") == list(range(10_000))
    assert len(G.parse_grid("lr=" + ",".join(f"{i}e-5" for i in range(1, 10_001)))["lr"]) \
        == 10_000
    assert time.perf_counter() - t0 < 0.5
    for bad in ("1e3", "+1", "0x10", "١٢", "3-1", "1_000", "9" * 19):
        with pytest.raises(ParameterError, match="'seeds'"):
            G.parse_seeds(bad)


def long_settings(n: int) -> dict[str, G.Value]:
    grid = G.parse_grid("hidden=" + "x".join(["8"] * n) + ";lr=0.0123456789012345;"
                        "momentum=0.123456789012345;l2=0.000123456789012345;activation=tanh;"
                        "optimizer=momentum;schedule=cosine;batch_size=32;train_size=100")
    return {k: v[0] for k, v in grid.items()}


def test_point_names_always_fit_a_file_system(tmp_path: Path) -> None:
    short = G.Point({"hidden": 64}, 3)
    assert short.name == "hidden64-seed3"  # names that fit are as before
    names = {G.Point(long_settings(n), seed).name for n in (58, 59, 60) for seed in (0, 1)}
    assert len(names) == 6  # still one per point
    for name in names:
        assert len(name) <= G.MAX_NAME and name.endswith(("-seed0", "-seed1"))
        (tmp_path / name).mkdir()  # 300 characters before: ENAMETOOLONG
    assert G.Point(long_settings(60), 0).name == G.Point(long_settings(60), 0).name


def fake_sweep(folder: Path, accuracy: Any = 0.91) -> Path:
    """A sweep folder as ``digitlens sweep`` writes it, its one point done."""
    base = get_preset("s3-machine-academy").config
    pts = G.points(G.parse_grid("hidden=8,16"), [0], base)
    m = T.manifest("s3-machine-academy", base, "hidden=8,16", pts)
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps(m))
    rows = [T.row(folder, m, p) for p in m["points"]]
    for r, acc in zip(rows, (accuracy, 0.8), strict=True):
        r.update(status="done", test_accuracy=acc, best_test_accuracy=0.8, best_epoch=1)
    T.write_table(folder, rows, {"preset": m["preset"], "base": m["base"], "grids": m["grids"]})
    return folder


DAMAGE: dict[str, tuple[Any, str]] = {
    "accuracy as a string": (lambda d: d["points"][0].update(test_accuracy="0.9"),
                             "test_accuracy must be a number, not str"),
    "accuracy as a boolean": (lambda d: d["points"][0].update(test_accuracy=True),
                              "must be a number, not bool"),
    "seed as a string": (lambda d: d["points"][1].update(seed="0"), "seed must be an integer"),
    "settings nested": (lambda d: d["points"][0]["settings"].update(hidden=[8]),
                        "settings.hidden must be a number, a string or null, not list"),
    "status unknown": (lambda d: d["points"][0].update(status="great"), "status must be one of"),
    "points not a list": (lambda d: d.update(points={"a": 1}), "points must be a list"),
    "point missing": (lambda d: d["points"][0].pop("status"), "lacks 'status'"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_results_table_is_one_clear_error(case: str, tmp_path: Path) -> None:
    folder = fake_sweep(tmp_path / "grid")
    doc = json.loads((folder / "results.json").read_text())
    change, words = DAMAGE[case]
    change(doc)
    (folder / "results.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="results.json") as err:
        T.read_results(folder)
    assert words in str(err.value)


@pytest.mark.parametrize("raw", [b'{"points": [', b'{"points": [NaN]}', b"\xff\xfe",
                                 b"[" * 10_000 + b"]" * 10_000])
def test_unparsable_sweep_files_are_one_clear_error(raw: bytes, tmp_path: Path) -> None:
    folder = fake_sweep(tmp_path / "grid")
    for name in ("results.json", "sweep.json"):
        kept = (folder / name).read_bytes()
        (folder / name).write_bytes(raw)
        with pytest.raises(ModelError, match=name):
            T.read_results(folder) if name == "results.json" else T.read_manifest(folder)
        (folder / name).write_bytes(kept)
    (folder / "results.json").unlink()
    os.mkfifo(folder / "results.json")
    with pytest.raises(ModelError, match="FIFO"):
        T.read_results(folder)


def test_a_manifest_without_a_usable_config_is_one_clear_error(tmp_path: Path) -> None:
    folder = fake_sweep(tmp_path / "grid")
    m = json.loads((folder / "sweep.json").read_text())
    m["base"]["surprise"] = 1
    (folder / "sweep.json").write_text(json.dumps(m))
    m2 = T.read_manifest(folder)
    assert m2 is not None
    with pytest.raises(ModelError, match="no usable training config"):
        T.config_of(m2, m2["points"][0])


@pytest.mark.e2e
def test_the_served_chart_of_a_damaged_sweep_is_a_400(tmp_path: Path) -> None:
    """The explorer's app on a real uvicorn server over loopback."""
    import httpx
    import uvicorn

    from digitlens.web.app import create_app
    from digitlens.web.runs import Registry
    fake_sweep(tmp_path / "runs" / "good")
    fake_sweep(tmp_path / "runs" / "bad", accuracy="0.91")
    app = create_app(Registry(tmp_path / "runs"), allow_training=False,
                     allowed_hosts=["127.0.0.1"])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/api/sweeps/good/chart.png").status_code == 200
            r = c.get("/api/sweeps/bad/chart.png")
            assert r.status_code == 400 and r.json()["ok"] is False  # was a 500
            assert "test_accuracy must be a number, not str" in r.json()["error"]
            listed = {s["name"]: s for s in c.get("/api/sweeps").json()["sweeps"]}
            assert "must be a number" in listed["bad"]["error"] and listed["good"]["points"]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "digitlens"), "sweep", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def one_line(proc: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("digitlens: error: ")
    assert words in proc.stderr, proc.stderr


def test_out_that_is_no_folder_is_one_line_before_any_work(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("mine")
    os.mkfifo(tmp_path / "fifo")
    for out, words in ((plain, "is a file, not a folder"), (tmp_path / "fifo", "is a FIFO"),
                       (Path("/dev/null"), "is a character device"),
                       (plain / "below", "plain is not a folder"),
                       (Path("/proc/digitlens-sweep"), "cannot write there")):
        t0 = time.monotonic()
        one_line(cli(*QUICK, "--out", str(out)), 1, words)
        assert time.monotonic() - t0 < 30  # no cluster was started
    assert plain.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == \
        ["fifo", "plain"]


def test_sizes_are_refused_at_once(tmp_path: Path) -> None:
    out = tmp_path / "s"
    one_line(cli(*QUICK, "--out", str(out), "--seeds", "0-99999999999"), 2, "at most 10,000")
    one_line(cli(*QUICK, "--out", str(out), "--workers", "100000"), 2,
             "this machine's cores")
    for timeout in ("0", "inf", "nan", "1e9"):
        one_line(cli(*QUICK, "--out", str(out), "--timeout", timeout), 2, "'timeout'")
    assert not out.exists()


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server that accepts and never says a word."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield srv.getsockname()[1], held
    srv.close()
    for s in held:
        s.close()


def test_a_scheduler_that_never_answers_fails_within_the_timeout(
        silent_server: tuple[int, list[socket.socket]], tmp_path: Path) -> None:
    port, held = silent_server
    out = tmp_path / "s"
    t0 = time.monotonic()
    proc = cli(*QUICK, "--out", str(out), "--scheduler", f"tcp://127.0.0.1:{port}",
               "--timeout", "1")
    took = time.monotonic() - t0
    one_line(proc, 1, "did not answer")
    assert held and took < 20 and not out.exists()  # hung past any timeout before


def test_a_server_speaking_something_else_is_refused(tmp_path: Path) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def babble() -> None:
        try:
            conn = srv.accept()[0]
            conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n" * 64)
            time.sleep(5)
            conn.close()
        except OSError:
            return

    threading.Thread(target=babble, daemon=True).start()
    try:
        proc = cli(*QUICK, "--out", str(tmp_path / "s"), "--scheduler",
                   f"tcp://127.0.0.1:{srv.getsockname()[1]}", "--timeout", "2")
    finally:
        srv.close()
    one_line(proc, 1, "cannot reach the Dask scheduler")


@pytest.mark.e2e
def test_a_point_with_a_long_name_trains_into_a_short_folder(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    settings = long_settings(60)
    grid = ";".join(f"{k}={v}" for k, v in settings.items())
    old_name = "-".join([*(f"{k}{v}" for k, v in settings.items()), "seed0"])
    assert len(old_name) > 255  # what the folder was called before: ENAMETOOLONG
    out = tmp_path / "s"
    proc = cli("--preset", "s0-fingerprints", "--grid", grid, "--epochs", "1", "--dataset",
               "mnist-sample", "--workers", "1", "--out", str(out), "--json", timeout=180)
    assert proc.returncode == 0, proc.stderr
    point = json.loads(proc.stdout.splitlines()[-1])["points"][0]
    assert point["status"] == "done" and len(point["point"]) <= G.MAX_NAME
    assert (out / point["point"] / "model.npz").is_file()
    assert T.read_results(out)["points"][0]["status"] == "done"


def test_sweep_tables_fuzz(tmp_path: Path) -> None:
    import fuzzing_lessons
    folder = fake_sweep(tmp_path / "runs" / "grid")
    scale = float(os.environ.get("DIGITLENS_FUZZ_SCALE", "1"))
    tally = fuzzing_lessons.sweep_table_cases(max(1, int(800 * scale)), 23, folder)
    print(tally.line())
    assert tally.bad() == 0, "\n".join([tally.line(), *tally.failures])
    assert tally.counts["clean"] > 0 and tally.counts["ok"] > 0


def test_a_manifest_point_name_is_never_a_path(tmp_path: Path) -> None:
    folder = fake_sweep(tmp_path / "grid")
    m = json.loads((folder / "sweep.json").read_text())
    m["points"][0]["name"] = "../../outside"
    (folder / "sweep.json").write_text(json.dumps(m))
    with pytest.raises(ModelError, match="not the name its settings make"):
        T.read_manifest(folder)
