"""Benchmark: CreateInvoicePositionNote through the local host against Azurite.

Prints, per concurrency level: requests per second, client-observed p50/p95 latency, the p50 of
the Table storage round trips the handler itself needed (from its `Server-Timing` header), the
handler's own p50, and the ratios. Then the p50 of GetServiceAssignmentsDispatcher (one page of 50)
for tenants of growing size, since a listing reads the tenant's whole partition. Last, the import
time of `function_app` (cold start).

    make bench                      # or: .venv/bin/python -m bench.connector --requests 600

Each concurrent client is its own connection (API key), as separate Logic Apps would be. All
processes (Azurite, host, load generator) share this machine's cores, so the figures are a lower
bound for a real deployment, useful for comparing changes on the same machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from devhost.processes import run_azurite, run_devhost
from shared.container import TABLES, build

REPO = Path(__file__).resolve().parent.parent
NOTE = {
    "dateFrom": "2024-05-02T08:00:00",
    "dateTo": "2024-05-02T10:30:00",
    "pause": "00:15",
    "noInvoice": False,
    "extraCharge": False,
    "hint": "Benchmark",
    "username": "bench",
    "ticketID": 4711,
}
_TIMING = re.compile(r"(\w+);dur=([\d.]+)")


@dataclass
class Sample:
    latency_ms: float
    storage_ms: float
    handler_ms: float
    round_trips: int


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def one_call(session: requests.Session, url: str, key: str) -> Sample:
    started = time.perf_counter()
    response = session.post(url, params={"apikey": key}, json=NOTE, timeout=60)
    latency = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"unexpected {response.status_code}: {response.text[:200]}")
    durations = server_timing(response)
    trips = int(re.search(r"(\d+) round trips", response.headers["Server-Timing"]).group(1))  # type: ignore[union-attr]
    return Sample(latency, durations["storage"], durations["total"], trips)


def server_timing(response: requests.Response) -> dict[str, float]:
    """The durations (ms) of the app's `Server-Timing` header: `storage` and `total`."""
    return {name: float(value) for name, value in _TIMING.findall(response.headers["Server-Timing"])}


def run_level(base_url: str, keys: list[str], concurrency: int, total: int) -> tuple[float, list[Sample]]:
    url = f"{base_url}/ApiInvoice/CreateInvoicePositionNote"
    local = threading.local()
    counter = iter(range(total))
    lock = threading.Lock()

    def worker(index: int) -> list[Sample]:
        local.session = requests.Session()
        samples: list[Sample] = []
        while True:
            with lock:
                if next(counter, None) is None:
                    return samples
            samples.append(one_call(local.session, url, keys[index]))

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(worker, range(concurrency)))
    elapsed = time.perf_counter() - started
    return elapsed, [s for per_worker in results for s in per_worker]


def listing(base_url: str, app_env: dict[str, str], sizes: list[int], calls: int = 20) -> None:
    from datetime import UTC, datetime, timedelta

    from shared.repositories.work import TableWorkRepository
    from shared.work import POSITION_NOTE, WorkRecord

    container = build(app_env)
    work = TableWorkRepository(container.storage.table_ref(TABLES["work"]))
    keys = container.keys
    start = datetime(2024, 5, 1, 8, tzinfo=UTC)
    print("GetServiceAssignmentsDispatcher, one page of 50, newest first")
    print(f"{'records':>8} {'p50 ms':>8} {'storage p50':>12}")
    for size in sizes:
        key_record, key = keys.create(f"list-{size}", limit=10_000, period_seconds=60)
        records = [
            WorkRecord(
                tenant=key_record.tenant,
                record_id=str(uuid.uuid4()),
                kind=POSITION_NOTE,
                key_id=key_record.key_id,
                recorded_by="bench",
                created_at=datetime.now(UTC),
                date_from=start + timedelta(minutes=i),
                date_to=start + timedelta(minutes=i + 45),
                hint=f"note {i}",
            )
            for i in range(size)
        ]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(work.add, records))
        session = requests.Session()
        url = f"{base_url}/ApiInvoice/GetServiceAssignmentsDispatcher"
        body = {"Skip": 0, "PageSize": 50, "OrderByAsc": False, "OrderColumns": 6, "TakeAll": False}
        latencies, storage_times = [], []
        for _ in range(calls):
            started = time.perf_counter()
            response = session.post(url, params={"apikey": key}, json=body, timeout=120)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            storage_times.append(server_timing(response)["storage"])
        storage_p50 = percentile(storage_times, 50)
        print(f"{size:>8} {percentile(latencies, 50):>8.1f} {storage_p50:>12.1f}")


def import_time_ms(runs: int = 5) -> float:
    code = "import time; t = time.perf_counter(); import function_app; print((time.perf_counter() - t) * 1000)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--list-sizes", default="100,1000,5000", help="tenant sizes for the listing figures")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    with run_azurite() as azurite:
        env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "TABLE_PREFIX": "b" + uuid.uuid4().hex[:8],
            "API_KEY_PEPPER": "bench-only-pepper-0123456789abcdef-not-a-secret",
        }
        keys_service = build(env).keys
        keys = [keys_service.create(f"bench-{i}", limit=10_000, period_seconds=60)[1] for i in range(max(levels))]
        with run_devhost(env=env) as host:
            run_level(host.base_url, keys, max(levels), 100)  # warm-up: tables, key cache, connections
            print(f"CreateInvoicePositionNote via local host + Azurite, {args.requests} requests per level")
            header = (
                f"{'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'storage p50':>12} "
                f"{'handler p50':>12} {'trips':>5} {'client/storage':>15} {'handler/storage':>16}"
            )
            print(header)
            for level in levels:
                elapsed, samples = run_level(host.base_url, keys, level, args.requests)
                p50 = percentile([s.latency_ms for s in samples], 50)
                p95 = percentile([s.latency_ms for s in samples], 95)
                storage = percentile([s.storage_ms for s in samples], 50)
                handler = percentile([s.handler_ms for s in samples], 50)
                trips = statistics.median(s.round_trips for s in samples)
                print(
                    f"{level:>4} {len(samples) / elapsed:>8.1f} {p50:>8.2f} {p95:>8.2f} {storage:>12.2f} "
                    f"{handler:>12.2f} {trips:>5.0f} {p50 / storage:>15.2f} {handler / storage:>16.2f}"
                )
            listing(host.base_url, env, [int(n) for n in args.list_sizes.split(",") if n])
    print(f"import function_app: {import_time_ms():.0f} ms (median of 5 fresh interpreters)")


if __name__ == "__main__":
    main()
