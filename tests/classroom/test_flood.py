"""One phone cannot flood the lesson: limits per client address as well as per device (a class
of 40 behind one NAT still draws freely), and the server's memory does not grow with the
drawings it has stored."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import httpx
import numpy as np
import pytest

from digitlens.classroom import limits as L
from digitlens.classroom.limits import Limits, TooMany
from digitlens.classroom.store import Drawing, Store, hardest
from digitlens.data.sources import Dataset

from .conftest import Classroom, submit


class Clock:
    """A stand-in for ``time.monotonic`` that the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.monotonic()  # buckets made before the patch start from it

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(L, "monotonic", c)
    return c


def accepted(lim: Limits, device: str, address: str) -> bool:
    try:
        lim.enter(device, address)
    except TooMany:
        return False
    lim.leave()
    return True


def test_a_class_of_40_behind_one_address_draws_freely(clock: Clock) -> None:
    """The documented case: 40 phones share one address; all open the page at once, everyone
    sends at the teacher's prompt, then each draws a digit every 3 seconds for 5 minutes."""
    lim = Limits()
    phones = [f"phone-{i:02d}" for i in range(40)]
    assert all(accepted(lim, p, "10.0.0.1") for p in phones)  # the prompt: all at once
    refused = 0
    for step in range(100):
        clock.now += 3.0 / 40  # one phone after another, each every 3 s
        refused += not accepted(lim, phones[step % 40], "10.0.0.1")
    for _ in range(300 * 40 // 3 - 100):
        clock.now += 3.0 / 40
        refused += not accepted(lim, phones[int(clock.now * 40 / 3) % 40], "10.0.0.1")
    assert refused == 0


def test_fresh_device_ids_from_one_address_are_held_back(clock: Clock) -> None:
    """A client inventing a device id per drawing, as fast as it can for 21 s (the attack
    that stored 1,642 drawings): now at most the new-device burst plus 40 a minute."""
    lim = Limits()
    stored = 0
    for i in range(21 * 100):
        clock.now += 0.01
        stored += accepted(lim, f"fresh-{i:06d}", "10.0.0.66")
    assert stored <= 2 * L.PHONES + 21 * L.PHONES / 60 + 1  # 80 + 14
    assert accepted(lim, "fresh-other", "10.0.0.67")  # another address is not held back
    with pytest.raises(TooMany, match="too many new devices from this address"):
        lim.enter("fresh-again", "10.0.0.66")


def test_one_address_with_many_known_devices_is_held_to_the_class_rate(clock: Clock) -> None:
    lim = Limits(phones=4)  # 2 drawings a second, bursts of 8, from one address
    devices = [f"dev-{i}" for i in range(8)]
    assert all(accepted(lim, d, "a") for d in devices)
    with pytest.raises(TooMany, match="too many drawings from this address"):
        lim.enter("dev-0", "a")
    n = 0
    for step in range(400):  # 20 s of four devices each trying 5 a second
        clock.now += 0.05
        n += accepted(lim, devices[step % 4], "a")
    assert 38 <= n <= 42  # the address's 2 a second, not the devices' 4 × 2


@pytest.mark.usefixtures("clock")
def test_a_refused_drawing_costs_no_token() -> None:
    lim = Limits(phones=4)
    assert accepted(lim, "dev-a", "a") and accepted(lim, "dev-a", "a")
    for _ in range(5):
        assert not accepted(lim, "dev-a", "a")  # the device's own limit
    for i in range(6):  # the address's burst of 8 is still there for the others
        assert accepted(lim, f"dev-{i}", "a")


def drawing(i: int) -> Drawing:
    pixels = np.random.default_rng(i).integers(0, 256, 784, np.uint8).tobytes()
    return Drawing(0, time.time(), f"dev-{i % 50:03d}", i % 10, (i * 7) % 10, None, 0.9,
                   0.3 + (i % 7) / 10, None, 28, 28, "run", pixels)


def test_the_store_does_not_keep_drawings_in_memory(tmp_path: Path) -> None:
    """3,000 drawings stored: the store's memory grows by less than a quarter of what holding
    them would take (each is 784 pixel bytes and a dozen fields); the dashboard's rows are
    bounded and agree with the reference rules applied to every row."""
    s = Store(tmp_path / "c.sqlite")
    try:
        for i in range(50):
            s.add(drawing(i)).result(5)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for start in range(50, 3050, 100):  # the test keeps none of them either
            for f in [s.add(drawing(i)) for i in range(start, start + 100)]:
                f.result(10)
        grown = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        assert grown < 3000 * 900 / 4, grown
        every = s.drawings()
        assert len(every) == 3050 and int(s.confusion().sum()) == 3050
        rows = s.dashboard(400, 24, 0.6, 8)
        ids = {d.id for d in rows}
        assert len(rows) <= 400 + 24 + 80
        assert {d.id for d in every[-400:]} <= ids
        assert {d.id for d in hardest(every)} <= ids
        for digit in range(10):
            assert {d.id for d in [e for e in every if e.label == digit][-8:]} <= ids
        gone = s.remove(every[-1].id)
        assert gone is not None and int(s.confusion().sum()) == 3049
        assert s.remove(every[-1].id) is None and s.n_devices() == 50
    finally:
        s.close()


@pytest.mark.e2e
def test_a_flood_of_fresh_device_ids_is_refused_by_the_server(trained_run: Path,
                                                              tmp_path: Path,
                                                              sample: Dataset) -> None:
    """The real server with a class of 4 behind an address: a client sending fresh device
    ids gets 429s after the burst of 8 new devices, and only those were stored."""
    import subprocess
    import sys
    db = tmp_path / "class.sqlite"
    c = Classroom(trained_run, db, extra=("--phones-per-address", "4"))
    try:
        codes = []
        with httpx.Client(base_url=c.base, timeout=10) as s:
            for i in range(30):
                r = submit(s, f"flood-{i:04d}", int(sample.test_labels[i]), sample.test_images[i])
                codes.append(r.status_code)
            assert codes.count(201) <= 9 and codes.count(429) >= 21
            assert "too many new devices from this address" in r.json()["error"]
            assert r.headers["Retry-After"] == "1"
            n = s.get("/api/class/summary", params={"token": c.token}).json()["n"]
            assert n == codes.count(201)
            status = s.get("/api/class/status").json()["limits"]
            assert status["address_drawings_per_second"] == 2
    finally:
        c.stop()
    proc = subprocess.run([sys.executable, "-m", "digitlens", "classroom", "--run",
                           str(trained_run), "--db", str(db), "--phones-per-address", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "'phones_per_address'" in proc.stderr


def test_one_address_flooding_leaves_the_shared_budget_to_the_others(clock: Clock) -> None:
    """Refusals charge nothing: a flood of 429s from one address (20,000 a second) does not
    spend the server-wide 400 a second that every address shares."""
    lim = Limits()
    for i in range(20_000):
        clock.now += 0.00005
        accepted(lim, f"fresh-{i:06d}", "10.0.0.66")
    assert all(accepted(lim, f"phone-{k:02d}", "10.0.0.1") for k in range(40))
