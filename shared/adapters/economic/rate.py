"""The client's own view of e-conomic's rate budget (the token bucket per agreement).

e-conomic charges every call tokens and reports the bucket on every answer (`X-RateLimiting:
token-limit-10000-per-60-seconds: <used>/<limit>`, `X-CallCost`). `Pacer` keeps a conservative view
of it, shared by every thread of one client, and spaces calls at the refill rate once the used share
would pass `1 - reserve`."""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger("invoice_bridge.economic")

_RATE = re.compile(r"token-limit-(\d+)-per-(\d+)-seconds\s*:\s*(\d+)\s*/\s*(\d+)", re.IGNORECASE)


@dataclass
class _BucketView:
    limit: int
    window: int
    used: float  # estimated tokens used as of `at`, our own calls in flight included
    at: float


class Pacer:
    """The client's view of e-conomic's token buckets, shared by every thread of one client.

    Before each call: if the estimated used tokens plus this call's cost would pass `limit * (1 -
    reserve)`, the call waits until refill makes room (the waits of concurrent callers queue up, one
    cost's refill apart). The estimate errs high: after an answer it is the `used` reported plus every
    call of ours still in flight (those the answer may not have counted yet), and it only ever
    decreases by refill (`limit / window` per second)."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None], reserve: float) -> None:
        if not 0 <= reserve < 1:
            raise ValueError("reserve must be at least 0 and below 1")
        self._clock, self._sleep, self._reserve = clock, sleep, reserve
        self._lock = threading.Lock()
        self._buckets: dict[tuple[int, int], _BucketView] = {}
        self._inflight: dict[int, float] = {}
        self._tickets = itertools.count()
        self._cost = 1
        self.waited = 0.0
        """Seconds spent waiting for the budget, in total (for tests and metrics)."""

    def before(self) -> int:
        with self._lock:
            ticket = next(self._tickets)
            now = self._clock()
            wait = 0.0
            for bucket in self._buckets.values():
                rate = bucket.limit / bucket.window
                used = max(0.0, bucket.used - (now - bucket.at) * rate)
                ceiling = bucket.limit * (1 - self._reserve)
                if used + self._cost > ceiling:
                    wait = max(wait, (used + self._cost - ceiling) / rate)
                bucket.used, bucket.at = used + self._cost, now
            self._inflight[ticket] = now + wait
            if wait > 0:
                self.waited += wait
        if wait > 0:
            log.info("e-conomic: close to the agreement's rate budget, waiting %.2f s", wait)
            self._sleep(wait)
        return ticket

    def after(self, ticket: int, headers: Mapping[str, str] | None) -> None:
        with self._lock:
            self._inflight.pop(ticket, None)
            if headers is None:
                return
            cost = headers.get("X-CallCost", "")
            if cost.isdigit() and int(cost) > 0:
                self._cost = int(cost)
            reported = _RATE.findall(headers.get("X-RateLimiting", ""))
            if not reported:
                return
            now = self._clock()
            pending = len(self._inflight) * self._cost
            for limit_text, window_text, used_text, _ in reported:
                limit, window = int(limit_text), int(window_text)
                if limit <= 0 or window <= 0:
                    continue
                self._buckets[(limit, window)] = _BucketView(limit, window, float(used_text) + pending, now)

    def exhausted(self) -> None:
        """A 429 from the bucket: count it as full."""
        with self._lock:
            now = self._clock()
            for bucket in self._buckets.values():
                bucket.used, bucket.at = float(bucket.limit), now
