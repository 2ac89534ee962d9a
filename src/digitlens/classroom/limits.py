"""Submission limits: per device, per client address, and overall.

Each device id has a token bucket (``DEVICE_RATE`` drawings a second, bursts of
``DEVICE_BURST``). A device id is the page's own choice, so a client could invent a new one
per drawing: each client address therefore has two buckets of its own, one for its drawings
and one for the new device ids it brings. A class shares one address behind a school's NAT,
so the address limits are sized for ``phones`` phones behind it (default ``PHONES``, 40):
drawings at ``phones / 2`` a second (each phone one digit every two seconds, more than a
student draws) with bursts of ``2 × phones`` (everyone sending at the teacher's prompt at
once), and new device ids at ``phones`` a minute with bursts of ``2 × phones`` (every phone
opening the page, and reloading it). ``digitlens classroom --phones-per-address N`` sizes them
for a bigger class behind one address. The whole server has another bucket (``GLOBAL_RATE``)
and a cap on submissions in flight, so many addresses cannot stop it answering the class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import monotonic

from digitlens.http import statuses

DEVICE_RATE = 2.0
DEVICE_BURST = 2.0
PHONES = 40
GLOBAL_RATE = 400.0
GLOBAL_BURST = 400.0
MAX_IN_FLIGHT = 128
MAX_DEVICES = 20_000
MAX_ADDRESSES = 20_000
DASHBOARDS = 64  # teacher's pages open at once (server-sent events each)
EVENTS_KEPT = 2000  # a dashboard further behind than this is ended; it reconnects and reloads


class TooMany(statuses.TooMany):
    """This device, or this address, sends faster than the limit."""


class Busy(statuses.Unavailable):
    """The server as a whole is at its cap; the page tries again shortly."""


@dataclass
class Bucket:
    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = field(default_factory=monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def ready(self, now: float) -> bool:
        """Refill to ``now``; whether one token is there (nothing is taken)."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens >= 1.0

    def take(self, now: float) -> bool:
        if self.ready(now):
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Address:
    """One client address's two buckets: its drawings and the new device ids it brings."""

    drawings: Bucket
    new_devices: Bucket


class Limits:
    """Call ``enter(device, address)`` before handling a submission and ``leave()`` after it.
    Used from the event loop only (no lock needed)."""

    def __init__(self, device_rate: float = DEVICE_RATE, device_burst: float = DEVICE_BURST,
                 global_rate: float = GLOBAL_RATE, max_in_flight: int = MAX_IN_FLIGHT,
                 phones: int = PHONES) -> None:
        self.device_rate, self.device_burst = device_rate, device_burst
        self.phones = phones
        self.address_rate, self.address_burst = phones / 2, 2.0 * phones
        self.new_device_rate, self.new_device_burst = phones / 60, 2.0 * phones
        self.overall = Bucket(global_rate, max(global_rate, 1.0))
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.devices: dict[str, Bucket] = {}
        self.addresses: dict[str, Address] = {}

    def enter(self, device: str, address: str = "") -> None:
        now = monotonic()
        if self.in_flight >= self.max_in_flight:
            raise Busy("the class server is busy; try again in a moment")
        where = self.address(address, now)
        bucket = self.devices.get(device)
        # The cheap refusals come first and charge nothing: a refused drawing costs no token,
        # and one address's flood of 429s never spends the budget all addresses share.
        if bucket is None and not where.new_devices.ready(now):
            raise TooMany(f"too many new devices from this address (at most "
                          f"{self.new_device_burst:g} at once, then {self.phones:g} a "
                          "minute); the teacher can allow more with --phones-per-address")
        if not where.drawings.ready(now):
            raise TooMany(f"too many drawings from this address: at most "
                          f"{self.address_rate:g} a second for a class of {self.phones:g} "
                          "phones; the teacher can allow more with --phones-per-address")
        if bucket is not None and not bucket.ready(now):
            raise TooMany(f"this device sends too fast: at most {self.device_rate:g} drawings "
                          "a second")
        if bucket is None and len(self.devices) >= MAX_DEVICES:
            self.devices = self.pruned(self.devices, now)
            if len(self.devices) >= MAX_DEVICES:  # all active: refuse rather than grow
                raise Busy("the class server tracks too many devices; try again in a moment")
        if not self.overall.take(now):
            raise Busy("the class server is busy; try again in a moment")
        if bucket is None:
            where.new_devices.take(now)
            bucket = self.devices[device] = Bucket(self.device_rate, self.device_burst)
        bucket.take(now)
        where.drawings.take(now)
        self.in_flight += 1

    def address(self, address: str, now: float) -> Address:
        where = self.addresses.get(address)
        if where is None:
            if len(self.addresses) >= MAX_ADDRESSES:
                idle = max(self.address_burst / self.address_rate,
                           self.new_device_burst / self.new_device_rate)
                self.addresses = {k: a for k, a in self.addresses.items()
                                  if now - max(a.drawings.stamp, a.new_devices.stamp) < idle}
                if len(self.addresses) >= MAX_ADDRESSES:
                    raise Busy("the class server tracks too many addresses; try again in a "
                               "moment")
            where = self.addresses[address] = Address(
                Bucket(self.address_rate, self.address_burst),
                Bucket(self.new_device_rate, self.new_device_burst))
        return where

    def leave(self) -> None:
        self.in_flight -= 1

    def pruned(self, devices: dict[str, Bucket], now: float) -> dict[str, Bucket]:
        """Devices whose bucket is not yet full again (the others are as good as new)."""
        idle = self.device_burst / self.device_rate
        return {k: b for k, b in devices.items() if now - b.stamp < idle}
