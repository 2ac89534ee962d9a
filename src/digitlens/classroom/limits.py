"""Submission limits: per device (not per IP address: a class often shares one) and overall.

Each device id has a token bucket (``DEVICE_RATE`` drawings a second, bursts of
``DEVICE_BURST``); the whole server has another (``GLOBAL_RATE``) and a cap on submissions in
flight, so a flood of invented device ids cannot stop it answering the class.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from digitlens.errors import DigitlensError

DEVICE_RATE = 2.0
DEVICE_BURST = 2.0
GLOBAL_RATE = 400.0
GLOBAL_BURST = 400.0
MAX_IN_FLIGHT = 128
MAX_DEVICES = 20_000


class TooMany(DigitlensError):
    """This device sends faster than the limit."""

    status = 429


class Busy(DigitlensError):
    """The server as a whole is at its cap; the page tries again shortly."""

    status = 503


@dataclass
class Bucket:
    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Limits:
    """Call ``enter(device)`` before handling a submission and ``leave()`` after it. Used from
    the event loop only (no lock needed)."""

    def __init__(self, device_rate: float = DEVICE_RATE, device_burst: float = DEVICE_BURST,
                 global_rate: float = GLOBAL_RATE, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.device_rate, self.device_burst = device_rate, device_burst
        self.overall = Bucket(global_rate, max(global_rate, 1.0))
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.devices: dict[str, Bucket] = {}

    def enter(self, device: str) -> None:
        now = time.monotonic()
        if self.in_flight >= self.max_in_flight or not self.overall.take(now):
            raise Busy("the class server is busy; try again in a moment")
        bucket = self.devices.get(device)
        if bucket is None:
            if len(self.devices) >= MAX_DEVICES:
                self.prune(now)
            bucket = self.devices[device] = Bucket(self.device_rate, self.device_burst)
        if not bucket.take(now):
            raise TooMany(f"this device sends too fast: at most {self.device_rate:g} drawings "
                          "a second")
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1

    def prune(self, now: float) -> None:
        """Forget devices whose bucket is full again (idle long enough to be as new)."""
        idle = self.device_burst / self.device_rate
        self.devices = {k: b for k, b in self.devices.items() if now - b.stamp < idle}
        if len(self.devices) >= MAX_DEVICES:  # all active: refuse newcomers rather than grow
            raise Busy("the class server tracks too many devices; try again in a moment")
