"""Benchmark: an invoicing run over 10,000 position notes of 200 customers, against Azurite.

Loads the directory (200 customers, 200 contracts) and the notes straight into the tables (batch
transactions, not HTTP, to keep set-up fast), then runs invoicing for the month in-process and
prints wall time, storage round trips, notes per second and peak memory; then reads one draft and
renders its concept PDF.

    make bench                       # or: .venv/bin/python -m bench.invoicing --notes 10000 --customers 200

Peak memory: Python allocations during the run (tracemalloc, which slows the run a little; the wall
time is measured in a separate run without it), and the process's peak RSS (everything, Azure SDK
included). Azurite shares this machine's cores, so the figures are for comparing changes here.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from devhost.processes import run_azurite
from shared.container import TABLES, build
from shared.invoicing.directory import Contract, Customer
from shared.invoicing.pdf import render
from shared.invoicing.planning import Period
from shared.repositories.work import to_entity
from shared.timing import measure_round_trips
from shared.work import POSITION_NOTE, WorkRecord

BERLIN = ZoneInfo("Europe/Berlin")
PERIOD = Period(2026, 10)


def load(env: dict[str, str], tenant: str, notes: int, customers: int) -> None:
    container = build(env)
    container.directory.import_entries(
        tenant,
        [
            (f"c{i}", Customer(i, f"Customer {i}", 10_000 + i, f"billing{i}@example.com", "EUR"))
            for i in range(1, customers + 1)
        ]
        + [
            (f"k{i}", Contract(100 + i, i, f"P{i}", Decimal("95.00"), Decimal(15), 15)) for i in range(1, customers + 1)
        ],
    )
    table = container.storage.table(TABLES["work"])
    start = PERIOD.start(BERLIN)
    batch = []
    for i in range(notes):
        begin = start + timedelta(minutes=(i * 37) % (29 * 24 * 60))
        record = WorkRecord(
            tenant=tenant,
            record_id=str(uuid.uuid4()),
            kind=POSITION_NOTE,
            key_id="bench",
            recorded_by="bench",
            created_at=datetime.now(UTC),
            date_from=begin,
            date_to=begin + timedelta(minutes=20 + i % 90),
            pause=timedelta(minutes=i % 10),
            extra_charge=i % 7 == 0,
            hint=f"Bench note {i}",
            username=f"user{i % 25}",
            service_contract_id=100 + 1 + i % customers,
        )
        batch.append(("create", to_entity(record)))
        if len(batch) == 100:
            table.submit_transaction(batch)
            batch = []
    if batch:
        table.submit_transaction(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=200)
    args = parser.parse_args()

    with run_azurite() as azurite:
        env = {"AzureWebJobsStorage": azurite.connection_string, "TABLE_PREFIX": "b" + uuid.uuid4().hex[:8]}
        timed, traced = "bench-a", "bench-b"
        started = time.perf_counter()
        load(env, timed, args.notes, args.customers)
        load(env, traced, args.notes, args.customers)
        print(f"loaded 2 x {args.notes} notes, {args.customers} customers in {time.perf_counter() - started:.1f} s")
        invoicing = build(env).invoicing

        with measure_round_trips() as trips:
            started = time.perf_counter()
            result = invoicing.run(timed, PERIOD)
            wall = time.perf_counter() - started
        billed = sum(d.totals.notes for d in result.drafts)
        assert billed == args.notes, f"billed {billed} of {args.notes}"

        tracemalloc.start()
        invoicing.run(traced, PERIOD)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(f"invoicing run, {args.notes} notes, {args.customers} customers -> {len(result.drafts)} drafts")
        print(f"  wall time        {wall:8.2f} s   ({args.notes / wall:,.0f} notes/s)")
        print(f"  storage          {trips.count:8d} round trips, {trips.seconds:.2f} s")
        print(f"  peak Python heap {peak / 2**20:8.1f} MiB (tracemalloc, second run)")
        print(f"  peak RSS         {rss_mib:8.1f} MiB (whole process)")

        number = result.drafts[0].number
        with measure_round_trips() as trips:
            started = time.perf_counter()
            draft = invoicing.get(timed, number)
            read = time.perf_counter() - started
        started = time.perf_counter()
        pdf = render(draft, created=datetime.now(UTC))
        rendered = time.perf_counter() - started
        print(f"GET draft {number} ({len(draft.lines)} lines): {read * 1000:.0f} ms, {trips.count} round trips")
        print(f"concept PDF: {rendered * 1000:.0f} ms, {len(pdf) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
