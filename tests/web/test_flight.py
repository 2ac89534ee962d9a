"""Bounded work per server (``digitlens.web.flight``): concurrent identical requests share one
computation, different ones beyond the cap get a 503 with ``Retry-After``, kept results are
bounded, and a client that leaves does not cancel what others wait for. First the mechanism on
its own, then every expensive endpoint of a real uvicorn server, with its computations
counted."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from digitlens.http.statuses import status_of
from digitlens.web import ask, explore, maps, sweeps
from digitlens.web import downloads as downloads_module
from digitlens.web.app import create_app
from digitlens.web.flight import Busy, Flights
from digitlens.web.runs import Registry

from .conftest import ThreadServer


class Gate:
    """A computation that counts its calls and blocks until released."""

    def __init__(self, value: Any = "done") -> None:
        self.calls, self.value = 0, value
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, *_args: Any) -> Any:
        with self.lock:
            self.calls += 1
        assert self.release.wait(20), "never released"
        return self.value


def test_identical_keys_share_one_computation() -> None:
    flights, gate = Flights("test", running=1, waiting=0), Gate()
    with ThreadPoolExecutor(24) as pool:
        answers = [pool.submit(flights.call, "same", gate) for _ in range(24)]
        time.sleep(0.2)
        gate.release.set()
        assert [a.result(10) for a in answers] == ["done"] * 24
    assert gate.calls == 1 and flights.computed == 1
    assert flights.call("same", gate) == "done" and gate.calls == 2  # keep=0: nothing kept


def test_beyond_the_cap_is_busy_with_retry_after() -> None:
    flights, gate = Flights("test", running=2, waiting=3, retry_after=7), Gate()
    with ThreadPoolExecutor(8) as pool:
        admitted = [pool.submit(flights.call, i, gate) for i in range(5)]
        time.sleep(0.2)
        with pytest.raises(Busy) as refused:
            flights.call("sixth", gate)
        assert status_of(refused.value) == 503 and refused.value.retry_after == 7
        assert "busy with 5 test requests" in str(refused.value)
        assert gate.calls == 2  # two running, three waiting
        assert flights.submit(3, gate) is flights.pending[3]  # a waiting key is still joinable
        gate.release.set()
        assert [a.result(10) for a in admitted] == ["done"] * 5
    assert flights.call("sixth", gate) == "done"  # room again


def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    flights, calls = Flights("test", running=1, keep=4), []
    started = threading.Event()

    def broken() -> None:
        calls.append(1)
        started.set()
        time.sleep(0.2)
        raise ValueError("bad drawing")
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(flights.call, "k", broken)
        started.wait(5)
        others = [pool.submit(flights.call, "k", broken) for _ in range(3)]
        for f in [first, *others]:
            with pytest.raises(ValueError, match="bad drawing"):
                f.result(10)
    assert len(calls) == 1 and not flights.pending and not flights.done
    assert flights.call("k", lambda: 5) == 5  # the next ask computes again


def test_kept_results_are_bounded_by_count_and_bytes() -> None:
    flights = Flights("test", keep=3, budget=150, weigh=len)
    for i in range(5):
        flights.call(i, functools.partial(bytes, 10 * (i + 1)))
    assert list(flights.done) == [2, 3, 4]  # the last three: 30 + 40 + 50 bytes
    flights.call(0, lambda: b"y" * 90)
    assert list(flights.done) == [4, 0]  # 40 + 50 + 90 bytes > 150: oldest dropped first
    flights.call(0, lambda: b"never")  # kept: not computed again
    assert flights.computed == 6


def test_a_client_leaving_does_not_cancel_the_shared_computation() -> None:
    flights, gate = Flights("test", running=1), Gate()

    async def scenario() -> Any:
        leaver = asyncio.create_task(flights.run("k", gate))
        stayer = asyncio.create_task(flights.run("k", gate))
        await asyncio.sleep(0.1)
        leaver.cancel()
        await asyncio.sleep(0.05)
        gate.release.set()
        return await asyncio.wait_for(stayer, 10)
    assert asyncio.run(scenario()) == "done" and gate.calls == 1


# --- every expensive endpoint of a real server -------------------------------------------


@pytest.fixture(scope="module")
def app(served_runs: Path) -> Any:
    return create_app(Registry(served_runs), allow_training=False)


@pytest.fixture(scope="module")
def url(app: Any) -> Iterator[str]:
    with ThreadServer(app) as base:
        yield base


DRAWING = {"net_input": [0.0] * 300 + [1.0] * 100 + [0.0] * 384}
# kind: (method, path, body or query, the (module, name) its computation is looked up by)
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any], tuple[Any, str]]] = {
    "dream": ("POST", "/api/dream", {"run": "small", "layer": 0, "neuron": 1},
              (ask.HANDLERS, "dream")),
    "nudge": ("POST", "/api/nudge", {"run": "small", **DRAWING}, (ask.HANDLERS, "nudge")),
    "attribute": ("POST", "/api/attribute", {"run": "small", **DRAWING},
                  (ask.HANDLERS, "attribute")),
    "circuit": ("POST", "/api/circuit", {"run": "small", **DRAWING}, (ask.HANDLERS, "circuit")),
    "patch": ("POST", "/api/patch", {"run": "small", **DRAWING, "source_index": 1, "layer": 0},
              (ask.HANDLERS, "patch")),
    "map": ("GET", "/api/map", {"run": "small"}, (maps, "hidden_map")),
    "map/near": ("POST", "/api/map/near", {"run": "small", "activations": [0.5] * 16},
                 (maps, "near_digits")),
    "neuron": ("POST", "/api/neuron", {"run": "small", "layer": 0, "neuron": 2},
               (explore, "neuron")),
    "ablate": ("POST", "/api/ablate", {"run": "small", "knockout": {"0": [1]}},
               (explore, "ablate")),
    "file download": ("GET", "/api/runs/small/export/xlsx", {"digit": 3},
                      (downloads_module, "build")),
}


# the i-th of several requests of a kind that are all valid and all different
DISTINCT: dict[str, Callable[[dict[str, Any], int], dict[str, Any]]] = {
    "dream": lambda b, i: {**b, "seed": i + 100},
    "nudge": lambda b, i: {**b, "net_input": [0.0] * i + [1.0] * 100 + [0.0] * (684 - i)},
    "attribute": lambda b, i: {**b, "net_input": [0.0] * i + [1.0] * 100 + [0.0] * (684 - i)},
    "circuit": lambda b, i: {**b, "net_input": [0.0] * i + [1.0] * 100 + [0.0] * (684 - i)},
    "patch": lambda b, i: {**b, "source_index": i + 2},
    "map": lambda b, i: {**b, "layer": str(i % 2)},  # "?layer=01" would be layer 1 again
    "map/near": lambda b, i: {**b, "activations": [0.5] * 15 + [i / 10]},
    "neuron": lambda b, i: {**b, "neuron": i},
    "ablate": lambda b, i: {**b, "knockout": {"0": [i]}},
    "file download": lambda _b, i: {"digit": (0, 1, 2, 4, 5, 6, 7, 8, 9)[i]},  # 3 is kept
}


def ask_at_once(url: str, requests: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    def one(req: tuple[str, str, dict[str, Any]]) -> httpx.Response:
        method, path, body = req
        if method == "GET":
            return httpx.get(url + path, params=body, timeout=30)
        return httpx.post(url + path, json=body, timeout=30)
    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def count_asks(flights: Flights, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every key asked of ``flights`` (so a test releases a computation only once all its
    requests have joined it)."""
    asked: list[Any] = []
    real = flights.submit

    def submit(key: Any, compute: Callable[[], Any]) -> Any:
        asked.append(key)
        return real(key, compute)
    monkeypatch.setattr(flights, "submit", submit)
    return asked


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def patch(monkeypatch: pytest.MonkeyPatch, where: tuple[Any, str], gate: Gate) -> None:
    holder, name = where
    real: Callable[..., Any] = holder[name] if isinstance(holder, dict) else getattr(holder, name)

    def gated(*args: Any) -> Any:
        gate(*args)
        if holder is downloads_module:  # a workbook takes seconds: test_downloads builds
            return downloads_module.Download(b"built", "application/octet-stream", "f.xlsx")
        return real(*args)
    if isinstance(holder, dict):
        monkeypatch.setitem(holder, name, gated)
    else:
        monkeypatch.setattr(holder, name, gated)


@pytest.mark.e2e
@pytest.mark.parametrize("kind", list(ENDPOINTS))
def test_every_expensive_endpoint_shares_and_caps(url: str, app: Any, kind: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """16 identical cold requests: one computation, 16 answers equal; then, while it is held,
    different requests past the kind's cap: 503 with Retry-After, and the admitted ones
    answer once released."""
    method, path, body, where = ENDPOINTS[kind]
    if kind == "map":  # a run has as many maps as hidden layers (here 2): a cap of 1 to pass
        monkeypatch.setitem(app.state.api.flights, "map", Flights("map", 1, 0, keep=16))
    flights = (app.state.api.downloads.flights if kind == "file download"
               else app.state.api.flights[kind])
    flights.forget()
    gate = Gate()
    patch(monkeypatch, where, gate)
    asked = count_asks(flights, monkeypatch)
    with ThreadPoolExecutor(1) as waiter:
        same = waiter.submit(ask_at_once, url, [(method, path, body)] * 16)
        wait_for(lambda: len(asked) == 16, f"{len(asked)} of 16 requests arrived")
        gate.release.set()
        answers = same.result(60)
    assert [r.status_code for r in answers] == [200] * 16, answers[0].text
    assert gate.calls == 1
    if kind != "file download":
        assert all(r.json()["ok"] for r in answers)
        assert len({r.json().get("run") for r in answers}) == 1

    gate.release.clear()
    flights.forget()
    cap = flights.running + (flights.waiting or 0)
    distinct = [DISTINCT[kind](body, i) for i in range(cap + (1 if kind == "map" else 4))]
    with ThreadPoolExecutor(1) as waiter:
        held = waiter.submit(ask_at_once, url, [(method, path, d) for d in distinct[:cap]])
        wait_for(lambda: len(flights.pending) == cap, "the admitted requests never arrived")
        refused = ask_at_once(url, [(method, path, d) for d in distinct[cap:]])
        wait_for(lambda: gate.calls == 1 + flights.running, "the admitted ones never started")
        time.sleep(0.1)
        assert gate.calls == 1 + flights.running  # the rest wait in the queue
        gate.release.set()
        admitted = held.result(60)
    for r in refused:
        assert r.status_code == 503 and r.headers["retry-after"] == str(flights.retry_after)
        doc = r.json()
        assert doc["ok"] is False and "busy" in doc["error"], doc
    assert [r.status_code for r in admitted] == [200] * cap, [r.text[:200] for r in admitted]


@pytest.mark.e2e
def test_the_sweep_chart_is_one_flight(url: str, app: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(b"\x89PNG fake")
    monkeypatch.setattr(sweeps, "chart_png", gate)
    asked = count_asks(app.state.api.flights["sweep chart"], monkeypatch)
    with ThreadPoolExecutor(1) as waiter:
        same = waiter.submit(ask_at_once, url, [("GET", "/api/sweeps/s1/chart.png", {})] * 8)
        wait_for(lambda: len(asked) == 8, "the requests never arrived")
        gate.release.set()
        answers = same.result(60)
    assert [r.status_code for r in answers] == [200] * 8 and gate.calls == 1
    assert app.state.api.flights["sweep chart"].running == 1
