"""Per-request accounting of time spent waiting on outside systems.

The storage adapter records every HTTP round trip here; the HTTP layer reports the total in a
`Server-Timing` header, so a caller (and `bench/`) can compare a request's latency with the storage
round trips it needed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RoundTrips:
    count: int = 0
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds


_current: ContextVar[RoundTrips | None] = ContextVar("storage_round_trips", default=None)


@contextmanager
def measure_round_trips() -> Iterator[RoundTrips]:
    trips = RoundTrips()
    token = _current.set(trips)
    try:
        yield trips
    finally:
        _current.reset(token)


def record_round_trip(seconds: float) -> None:
    trips = _current.get()
    if trips is not None:
        trips.add(seconds)


@contextmanager
def round_trip() -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        record_round_trip(time.perf_counter() - started)
