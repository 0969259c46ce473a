"""Runs in a separate process: hammers one connection's throttle and reports every decision."""

from __future__ import annotations

import random
import threading
import time

from shared.container import TABLES, build
from shared.platform.throttle import SlidingWindowLimiter
from shared.repositories.throttle import TableWindowStore


def hammer(
    env: dict[str, str], key: str, limit: int, period: float, start_at: float, stop_at: float, threads: int
) -> list[tuple[float, bool]]:
    limiter = SlidingWindowLimiter(TableWindowStore(build(env).storage.table_ref(TABLES["throttle"])))
    decisions: list[tuple[float, bool]] = []
    lock = threading.Lock()

    def run() -> None:
        while time.time() < start_at:
            time.sleep(0.001)
        while time.time() < stop_at:
            decision = limiter.admit(key, limit, period)
            with lock:
                decisions.append((decision.at, decision.admitted))
            time.sleep(random.uniform(0, 0.004))

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return decisions
