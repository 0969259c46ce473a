"""The throttle holds across processes and instances: in no window of `period` seconds are more than
`limit` calls admitted, and no call is refused while fewer than `limit` were admitted in its window."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import requests

from devhost.processes import run_devhost
from tests.support.app import NOTE, Client, KeyMaker
from tests.support.throttle_worker import hammer

LIMIT = 10
PERIOD = 1.0
PROCESSES = 4
THREADS = 3
DURATION = 3.5


def _windows(admitted_ms: list[int], limit: int, period_ms: int) -> Iterator[int]:
    """For each admission, how far the `limit`-th next admission is from it."""
    for i in range(len(admitted_ms) - limit):
        yield admitted_ms[i + limit] - admitted_ms[i]


def test_many_processes_never_admit_more_than_the_limit_in_any_window(app_env: dict[str, str]) -> None:
    key = "scale-" + uuid.uuid4().hex
    start_at = time.time() + 2.0  # spawned interpreters need a moment; then all start together
    stop_at = start_at + DURATION
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.starmap(
            hammer, [(app_env, key, LIMIT, PERIOD, start_at, stop_at, THREADS)] * PROCESSES, chunksize=1
        )
    decisions = [d for per_process in results for d in per_process]
    admitted = sorted(round(at * 1000) for at, ok in decisions if ok)
    refused = [round(at * 1000) for at, ok in decisions if not ok]

    assert len(refused) > len(admitted)  # the load really was over the limit
    # Strict: the (limit+1)-th admission after any admission is at least a full period later.
    assert min(_windows(admitted, LIMIT, round(PERIOD * 1000))) >= PERIOD * 1000
    # Never over-refusing: each refused call had `limit` admissions in the window before it.
    for t in refused:
        in_window = sum(1 for a in admitted if t - PERIOD * 1000 < a <= t)
        assert in_window >= LIMIT, f"call refused at {t} with only {in_window} admissions in its window"
    # And the budget was used: about `limit` per period over the run.
    assert len(admitted) >= LIMIT * int(DURATION / PERIOD)


def test_two_hosts_sharing_storage_share_one_budget(app_env: dict[str, str], make_key: KeyMaker) -> None:
    key = make_key(limit=20, period_seconds=60)
    with ExitStack() as stack:
        hosts = [stack.enter_context(run_devhost(env=app_env)) for _ in range(2)]
        clients = [Client(h.base_url, key) for h in hosts]

        def call(i: int) -> requests.Response:
            return clients[i % 2].post("CreateInvoicePositionNote", NOTE)

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = [r.status_code for r in pool.map(call, range(60))]

    assert statuses.count(200) == 20
    assert statuses.count(429) == 40
