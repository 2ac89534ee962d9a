"""``digitlens sweep`` end to end: subprocess CLI on a real Dask LocalCluster and on
``dask scheduler`` / ``dask worker`` processes on loopback; kill -9 of the command, a worker
killed mid-sweep, a diverging point, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
# S0's net with wider layers on the embedded sample: a point takes about a second, long
# enough to kill something mid-way
GRID = ["--preset", "s0-fingerprints", "--grid", "hidden=128,256", "--seeds", "0,1",
        "--epochs", "8", "--dataset", "mnist-sample"]


@pytest.fixture(scope="module", autouse=True)
def need_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail("distributed is required for the sweep tests in CI")
        pytest.skip("distributed not installed (pip install 'digitlens[cluster]')")


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "digitlens"), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def sweep(out: Path, workers: int = 2) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = cli("sweep", *GRID, "--out", str(out), "--workers", str(workers), "--json")
    result = json.loads(proc.stdout.splitlines()[-1]) if proc.stdout.strip() else {}
    return proc, result


def numbers(folder: Path) -> dict[str, Any]:
    """Each point's per-epoch numbers and final weights (everything but timings)."""
    out = {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        hist = json.loads((d / "history.json").read_text())["epochs"]
        with np.load(d / "model.npz") as z:
            weights = {k: z[k].tobytes() for k in z.files if k != "meta"}
        out[d.name] = ([(h["test_accuracy"], h["loss"], h["test_loss"]) for h in hist], weights)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The grid run once, uninterrupted, on a local cluster."""
    out = tmp_path_factory.mktemp("ref") / "sweep"
    proc, result = sweep(out)
    assert proc.returncode == 0, proc.stderr
    assert [p["status"] for p in result["points"]] == ["done"] * 4
    return out


def test_local_cluster_sweep_writes_runs_and_table(reference: Path, tmp_path: Path) -> None:
    results = json.loads((reference / "results.json").read_text())
    rows = {r["point"]: r for r in results["points"]}
    assert set(rows) == {f"hidden{h}-seed{s}" for h in (128, 256) for s in (0, 1)}
    r = rows["hidden256-seed1"]
    hist = json.loads((reference / "hidden256-seed1" / "history.json").read_text())["epochs"]
    assert r["test_accuracy"] == hist[-1]["test_accuracy"] and r["epochs"] == 8
    assert r["best_test_accuracy"] == max(h["test_accuracy"] for h in hist)
    assert r["params"] == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert all(h["threads"] == 1 for h in hist)
    csv = (reference / "results.csv").read_text().splitlines()
    assert csv[0].startswith("hidden,point,seed,status,test_accuracy") and len(csv) == 5
    # the same point trained alone by `digitlens train` is bit-identical
    alone = tmp_path / "alone"
    proc = cli("train", "--preset", "s0-fingerprints", "--layers", "784-256-256-10", "--seed",
               "1", "--epochs", "8", "--dataset", "mnist-sample", "--threads", "1", "--out",
               str(alone))
    assert proc.returncode == 0, proc.stderr
    assert numbers(tmp_path)["alone"] == numbers(reference)["hidden256-seed1"]
    # every run view works on a point
    png = tmp_path / "w.png"
    proc = cli("render", "weights", "--run", str(reference / "hidden128-seed0"), "--out", str(png))
    assert proc.returncode == 0 and png.stat().st_size > 1000, proc.stderr
    proc = cli("render", "sweep", "--sweep", str(reference), "--x", "hidden", "--out", str(png),
               "--json")
    data = json.loads(proc.stdout.splitlines()[-1])["data"]
    accs = [rows[f"hidden128-seed{s}"]["test_accuracy"] for s in (0, 1)]
    assert data["groups"][0]["mean"][0] == pytest.approx(np.mean(accs))  # float64 both


def test_finished_sweep_is_not_recomputed(reference: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in reference.glob("*/model.npz")}
    proc, result = sweep(reference)
    assert proc.returncode == 0, proc.stderr
    assert "to train" not in proc.stderr and result["seconds"] < 5
    assert {p: p.stat().st_mtime_ns for p in reference.glob("*/model.npz")} == before


def test_kill_9_of_the_sweep_then_resume_is_bit_identical(reference: Path,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    cmd = [str(BIN / "digitlens"), "sweep", *GRID, "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(len(json.loads(h.read_text())["epochs"]) >= 2
                             for h in out.glob("*/history.json")), 120)
    finally:
        proc.kill()
        proc.wait()
    partial = json.loads((out / "results.json").read_text())
    assert any(r["status"] == "pending" for r in partial["points"])
    again, result = sweep(out)
    assert again.returncode == 0, again.stderr
    assert re.search(r"sweep: [1-4] of 4 points to train", again.stderr), again.stderr
    assert numbers(out) == numbers(reference)


def test_extend_adds_points_and_keeps_the_finished_ones(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(reference, out)
    before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/model.npz")}
    args = ["sweep", "--preset", "s0-fingerprints", "--grid", "hidden=32", "--seeds", "0",
            "--epochs", "8", "--dataset", "mnist-sample", "--out", str(out), "--workers", "1",
            "--json"]
    refused = cli(*args)
    assert refused.returncode == 1 and "--extend" in refused.stderr
    proc = cli(*args, "--extend")
    assert proc.returncode == 0, proc.stderr
    assert "1 of 5 points to train" in proc.stderr
    points = json.loads(proc.stdout.splitlines()[-1])["points"]
    assert [p["point"] for p in points][-1] == "hidden32-seed0" and len(points) == 5
    assert all(p["status"] == "done" for p in points)
    after = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/model.npz")}
    assert {k: after[k] for k in before} == before
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["grids"] == ["hidden=128,256", "hidden=32"]


def test_failing_point_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    proc = cli("sweep", "--preset", "s0-fingerprints", "--grid",
               "optimizer=sgd;lr=0.05,1e30;hidden=8", "--epochs", "2", "--dataset",
               "mnist-sample", "--out", str(out), "--workers", "1", "--json")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("digitlens: error: 1 of 2 sweep")
    rows = {p["settings"]["lr"]: p for p in json.loads(proc.stdout.splitlines()[-1])["points"]}
    assert rows[0.05]["status"] == "done" and rows[0.05]["test_accuracy"] > 0.3
    assert rows[1e30]["status"] == "failed" and "diverged" in rows[1e30]["error"]
    table = json.loads((out / "results.json").read_text())["points"]
    assert [r["status"] for r in table] == ["done", "failed"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def test_scheduler_and_worker_processes_same_numbers_and_a_killed_worker(
        reference: Path, tmp_path: Path) -> None:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                               str(port), "--no-dashboard"], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(lambda: socket_open(port), 60)
        out = tmp_path / "sweep"
        proc = cli("sweep", *GRID, "--out", str(out), "--scheduler", address, "--timeout", "2")
        assert proc.returncode == 1 and "has no workers" in proc.stderr, proc.stderr
        assert not out.exists()
        for _ in range(2):
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
                 "--no-dashboard", "--host", "127.0.0.1"], env=env, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        cmd = [str(BIN / "digitlens"), "sweep", *GRID, "--out", str(out), "--scheduler",
               address, "--json"]
        sweep_proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
        wait_for(lambda: any(len(json.loads(h.read_text())["epochs"]) >= 1
                             for h in out.glob("*/history.json")), 120)
        os.killpg(procs[1].pid, signal.SIGKILL)  # one worker (and its nanny) dies mid-sweep
        mid = json.loads((out / "results.json").read_text())["points"]
        assert any(p["status"] == "pending" for p in mid)
        stdout, stderr = sweep_proc.communicate(timeout=180)
        assert sweep_proc.returncode == 0, stderr
        result = json.loads(stdout.splitlines()[-1])
        assert [p["status"] for p in result["points"]] == ["done"] * 4
        assert numbers(out) == numbers(reference)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def socket_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "sweep"
    for grid, code, words in (("neurons=8", 2, "unknown grid key 'neurons'"),
                              ("hidden=big", 2, "'grid hidden' parameter"),
                              ("", 2, "at least one"),
                              ("lr=0.1", 2, None)):
        args = ["sweep", "--preset", "s3-machine-academy", "--out", str(out)]
        args += ["--grid", grid] + (["--seeds", "x"] if grid == "lr=0.1" else [])
        proc = cli(*args)
        assert proc.returncode == code, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert words is None or words in proc.stderr
        assert not out.exists()
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    proc = cli("sweep", *GRID, "--out", str(out), "--scheduler", f"tcp://127.0.0.1:{port}",
               "--timeout", "2")
    assert proc.returncode == 1 and time.monotonic() - t0 < 30
    assert proc.stderr.startswith("digitlens: error: cannot reach the Dask scheduler")
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()
    # another grid into the reference folder: refused, nothing changed
    before = (reference / "sweep.json").read_text()
    proc = cli("sweep", "--preset", "s0-fingerprints", "--grid", "hidden=12", "--epochs", "6",
               "--dataset", "mnist-sample", "--out", str(reference))
    assert proc.returncode == 1 and "--extend" in proc.stderr
    assert (reference / "sweep.json").read_text() == before


def test_report_section_shows_the_chart_and_every_point(reference: Path, tmp_path: Path) -> None:
    from digitlens.data.sources import load_sample
    from digitlens.render.report import ReportPage
    from digitlens.render.sweep import sweep_section
    from digitlens.sweep.table import read_results
    results = read_results(reference)
    html = sweep_section(ReportPage(tmp_path, load_sample(), lambda _s: None), results)
    assert (tmp_path / "sweep.png").stat().st_size > 5000
    assert html.count("<tr>") == 1 + len(results["points"])
    best = results["points"][0]["best_test_accuracy"]
    assert f"{best:.2%}" in html
    proc = cli("report", "--help")
    assert "--sweep" in proc.stdout


def test_a_sweep_of_lenets(tmp_path: Path) -> None:
    """LeNet-5 points on a local Dask cluster: each run folder holds the convolutional network
    its row describes (its parameters counted with the convolutions), scored as evaluate does."""
    from digitlens.analysis.metrics import evaluate_model
    from digitlens.data.sources import load_sample
    from digitlens.nn.cnn import CNN
    from digitlens.nn.io import load_network
    out = tmp_path / "lenets"
    done = subprocess.run([sys.executable, "-m", "digitlens", "sweep", "--preset", "lenet5",
                           "--grid", "lr=0.001,0.002", "--epochs", "1", "--dataset",
                           "mnist-sample", "--out", str(out), "--workers", "2", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = json.loads((out / "results.json").read_text())["points"]
    assert [r["status"] for r in rows] == ["done", "done"]
    ds = load_sample()
    for r in rows:
        model = load_network(Path(r["run_dir"]))
        assert isinstance(model, CNN) and r["params"] == model.params.size == 61_706
        assert r["test_accuracy"] == evaluate_model(model, ds.test_images,
                                                    ds.test_labels).accuracy
