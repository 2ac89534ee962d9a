"""Hostile clients against ``digitlens serve`` on loopback, measured: memory of 40 concurrent
cold ``/api/neuron`` requests on the default net (RSS sampled every 10 ms; goal: <= 500 MB
above a fresh server), 2,000 idle or half-sent connections (goal: all closed within 30 s while
ordinary requests keep answering), and the server log after slowloris and mid-body disconnects
(goal: 0 tracebacks).

The default net (the ``default`` preset's sizes, untrained: memory does not depend on the
weights) is served with the real MNIST test set when it is cached, else the embedded sample.

Usage: python benchmarks/bench_hostile_server.py [--connections 2000] [--requests 40]
"""

from __future__ import annotations

import argparse
import json
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_runs() -> tuple[Path, str]:
    from digitlens.data.sources import load_dataset
    from digitlens.nn.io import save_model
    from digitlens.nn.mlp import MLP
    from digitlens.nn.presets import get_preset
    c = get_preset("default").config
    try:
        ds = load_dataset("mnist", fetch=False, fallback=False)
        name = "mnist"
    except Exception:  # noqa: BLE001 - no cached MNIST: the sample still measures the paths
        name = "mnist-sample"
        ds = load_dataset(name)
    root = Path(tempfile.mkdtemp(prefix="bench-hostile-")) / "runs"
    model = MLP.create(c.layers, c.activation, c.output, c.cost, c.init, 0,
                       {"dataset": {"name": ds.name}, "class_names": list(ds.class_names)})
    save_model(model, root / "default" / "model.npz")
    return root, f"{model.describe()} on {name} ({len(ds.test_labels)} test digits)"


def start(root: Path, log: Path) -> tuple[subprocess.Popen[str], str, int]:
    err = log.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "digitlens", "serve", "--runs-dir", str(root),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    m = re.search(r"http://([\d.]+):(\d+)/", proc.stdout.readline())
    if not m:
        raise SystemExit("the server did not start")
    host, port = m.group(1), int(m.group(2))
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/api/info", timeout=5):  # noqa: S310
                break
        except OSError:
            time.sleep(0.05)
    return proc, host, port


def post(host: str, port: int, path: str, body: dict, timeout: float = 300) -> dict:
    req = urllib.request.Request(f"http://{host}:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310
        return json.loads(r.read())  # type: ignore[no-any-return]


def memory(proc: subprocess.Popen[str], host: str, port: int, n: int) -> None:
    fresh = rss_mb(proc.pid)
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(rss_mb(proc.pid))
            time.sleep(0.01)
    sampler = threading.Thread(target=sample)
    sampler.start()
    answers: list[bool] = []
    t0 = time.perf_counter()
    threads = [threading.Thread(target=lambda i=i: answers.append(post(
        host, port, "/api/neuron", {"run": "default", "layer": 0, "neuron": i % 64,
                                    "test_index": 0})["ok"])) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    peak, after = max(samples), rss_mb(proc.pid)
    print(f"{n} concurrent cold /api/neuron requests: {sum(answers)} answered in {seconds:.1f} s;"
          f" RSS fresh {fresh:.0f} MB, peak {peak:.0f} MB (+{peak - fresh:.0f} MB), after "
          f"{after:.0f} MB (+{after - fresh:.0f} MB)   goal: peak <= +500 MB")


def connections(host: str, port: int, n: int) -> None:
    sel = selectors.DefaultSelector()
    kinds = ["idle", "half headers", "half body"]
    t0 = time.monotonic()
    for i in range(n):
        s = socket.create_connection((host, port), timeout=10)
        if i % 3 == 1:
            s.sendall(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        elif i % 3 == 2:
            s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      b"application/json\r\nContent-Length: 100000\r\n\r\n{\"pixels\": [0,")
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, kinds[i % 3])
    opened = time.monotonic() - t0
    open_left, latencies, answered, asked = n, [], 0, 0
    next_probe = time.monotonic()
    last_close = 0.0
    while open_left and time.monotonic() - t0 < 60:
        if time.monotonic() >= next_probe:
            asked += 1
            q0 = time.perf_counter()
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/api/info",  # noqa: S310
                                            timeout=5) as r:
                    answered += json.loads(r.read())["ok"]
                latencies.append(time.perf_counter() - q0)
            except OSError:
                pass
            next_probe = time.monotonic() + 0.5
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                data = s.recv(65536)  # type: ignore[union-attr]
            except (ConnectionResetError, BlockingIOError):
                data = b""
            if not data or data.startswith(b"HTTP/"):
                sel.unregister(s)
                s.close()  # type: ignore[union-attr]
                open_left -= 1
                last_close = time.monotonic() - t0
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    print(f"{n} idle / half-header / half-body connections (opened in {opened:.1f} s): "
          f"{n - open_left} closed by the server, the last after {last_close:.1f} s; "
          f"{answered}/{asked} ordinary requests answered meanwhile, slowest "
          f"{1000 * max(latencies or [0]):.0f} ms   goal: all closed within 30 s")


def disconnects(host: str, port: int, n: int) -> None:
    for _ in range(n):
        with socket.create_connection((host, port), timeout=5) as c:
            c.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      b"application/json\r\nContent-Length: 5000\r\n\r\n{\"pixels\": [0,")
    time.sleep(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--disconnects", type=int, default=200)
    args = ap.parse_args()
    root, what = make_runs()
    log = root.parent / "server.log"
    print(f"serving {what}")
    proc, host, port = start(root, log)
    try:
        memory(proc, host, port, args.requests)
        connections(host, port, args.connections)
        disconnects(host, port, args.disconnects)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    left = sum("left during its request body" in line for line in text.splitlines())
    closed = sum("no complete request within" in line for line in text.splitlines())
    print(f"server log: {text.count('Traceback')} tracebacks; {closed} deadline closes and {left} "
          f"'left during its request body' lines (the {args.disconnects} mid-body disconnects "
          "and the half-sent bodies the deadline closed), one line each   goal: 0 tracebacks")


if __name__ == "__main__":
    main()
