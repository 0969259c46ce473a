"""e-conomic's rate limit: a token bucket per agreement, refilled continuously; what the
`X-RateLimiting` header reports."""

from __future__ import annotations

import math
from collections.abc import Callable


class _Bucket:
    """e-conomic's token bucket: `limit` tokens, refilled continuously over `window` seconds."""

    def __init__(self, limit: int, window: int, clock: Callable[[], float]) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self.tokens = float(limit)
        self.at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(float(self.limit), self.tokens + (now - self.at) * self.limit / self.window)
        self.at = now

    def take(self, cost: int) -> float | None:
        """Takes `cost` tokens; None when taken, else the seconds until they would be there."""
        self._refill()
        if self.tokens >= cost:
            self.tokens -= cost
            return None
        return (cost - self.tokens) * self.window / self.limit

    @property
    def used(self) -> int:
        self._refill()
        return max(0, math.ceil(self.limit - self.tokens - 1e-9))

    def header(self) -> str:
        return f"token-limit-{self.limit}-per-{self.window}-seconds: {self.used}/{self.limit}"
