"""Per-connection throttling that holds across every process and instance.

The rule is strict in both directions:
- in no window of `period` seconds are more than `limit` calls admitted, however many processes
  admit them at once;
- a caller whose calls stay within `limit` per `period` is never refused.

A fixed-window counter breaks the first rule (2 x limit around a window edge) and a token bucket
breaks it too (a full bucket plus its refill). What satisfies both is a sliding-window log: the
admission times of the last `period`, kept in one record per connection. A call is admitted when
fewer than `limit` admissions lie in (now - period, now]. The record is updated with optimistic
concurrency (ETag): two processes that read the same log cannot both append to it, the loser reads
again and decides on fresh data.

Admission times are whole milliseconds from the deciding process's clock, kept monotonic in the
log, so an instance whose clock lags cannot slip an admission in before the newest one recorded.
Integer arithmetic keeps the rule exact on the recorded times.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Decision:
    admitted: bool
    limit: int
    remaining: int
    retry_after: float
    """Seconds until a call would be admitted (0 when admitted)."""
    at: float
    """The admission time recorded in the log (the refusal time when refused)."""

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class Contended(RuntimeError):
    """The log kept changing under us; the caller should answer 503 and let the client retry."""


class WindowStore(Protocol):
    def load(self, key: str) -> tuple[list[int], object | None]:
        """Admission times in ms (ascending) and a version token; (`[]`, None) when there is no log."""
        ...

    def save(self, key: str, stamps: list[int], version: object | None) -> object | None:
        """Writes the log if it is still at `version` (None: create it) and returns the new version;
        None when someone else wrote first."""
        ...


class SlidingWindowLimiter:
    def __init__(
        self,
        store: WindowStore,
        *,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 60,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_attempts = max_attempts
        self._sleep = sleep
        # The log and version this process last wrote per key. Trying the conditional save against
        # it first saves a read whenever no other process wrote since (one instance per connection
        # is the usual case); if another did, the save fails on the ETag and we read. A stale copy
        # can only miss admissions, never hold extra ones, so it is never used to refuse a call.
        self._last: dict[str, tuple[list[int], object]] = {}
        self._last_lock = threading.Lock()

    def admit(self, key: str, limit: int, period: float) -> Decision:
        period_ms = round(period * 1000)
        with self._last_lock:
            remembered = self._last.pop(key, None)
        for attempt in range(self._max_attempts):
            if remembered is not None:
                (stamps, version), fresh = remembered, False
                remembered = None
            else:
                (stamps, version), fresh = self._store.load(key), True
            now = math.ceil(self._clock() * 1000)
            live = [t for t in stamps if t > now - period_ms]
            if len(live) >= limit:
                if not fresh:
                    continue  # decide refusals (and Retry-After) on what is stored, not on our copy
                # The call fits once enough of the oldest admissions have left the window.
                opens_at = live[len(live) - limit] + period_ms
                return Decision(False, limit, 0, max(opens_at - now, 1) / 1000, now / 1000)
            at = max(now, live[-1]) if live else now
            written = self._store.save(key, [*live, at], version)
            if written is not None:
                with self._last_lock:
                    self._last[key] = ([*live, at], written)
                return Decision(True, limit, limit - len(live) - 1, 0.0, at / 1000)
            if not fresh:
                continue  # our copy was stale: read and decide again, no back-off needed
            # Lost the race: back off a little (jittered, growing) and decide again on fresh data.
            self._sleep(random.uniform(0, min(0.05, 0.002 * (attempt + 1))))
        raise Contended(f"throttle state for {key} is too contended")
