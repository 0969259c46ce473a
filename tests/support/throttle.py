"""Helpers shared by the throttle tests: a hand-driven clock and the sliding-window checks."""

from __future__ import annotations

import bisect
import threading

from shared.platform.throttle import Decision


class SecondsClock:
    """Unix seconds that move only when the test moves them. Tests use values that are exact in
    binary (multiples of 1/8 s), so that `t * 1000` is an exact whole number of milliseconds."""

    def __init__(self, start: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.t = start

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def set(self, t: float) -> None:
        with self._lock:
            self.t = t


def no_sleep(_seconds: float) -> None:
    return None


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def admitted_ms(decisions: list[Decision]) -> list[int]:
    return sorted(ms(d.at) for d in decisions if d.admitted)


def most_in_any_window(stamps: list[int], period_ms: int) -> int:
    """The largest number of stamps inside any half-open window (t - period, t]."""
    ordered = sorted(stamps)
    best = 0
    for end in ordered:
        # The fullest windows end at a stamp; count the stamps in (end - period, end].
        first = bisect.bisect_right(ordered, end - period_ms)
        last = bisect.bisect_right(ordered, end)
        best = max(best, last - first)
    return best


def admitted_in_window_ending(stamps: list[int], end_ms: int, period_ms: int) -> int:
    return sum(1 for s in stamps if end_ms - period_ms < s <= end_ms)
