"""Benchmark: does a listing cost its page, or the tenant's history? (issue 18)

Two tenants against Azurite: one with 600 position notes in October 2026, one with the same 600 plus
9,600 from the two years before. For each: one page of 50 newest first (the connector's default
order, no filter), the October window (`DateTimeFrom`/`DateTimeTo`, page of 50), and the invoicing
run of October. Prints the median of each and the ratio big/small; the aim is every ratio <= 1.5.

    make bench                      # or: .venv/bin/python -m bench.listing --history 9600 --calls 9

Notes are loaded as the code before the index stored them (the record rows, 100 per transaction),
then `reindex` (the migration, `manage work reindex`) indexes them: its time is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.invoicing import BERLIN
from devhost.processes import run_azurite
from shared.connector.schemas import ListAssignmentsIn
from shared.container import TABLES, Container, build
from shared.invoicing.directory import Contract, Customer
from shared.invoicing.planning import Period
from shared.platform.keys import CONNECTOR_RIGHTS, Principal
from shared.repositories.work import to_entity
from shared.repositories.work_reindex import reindex
from shared.validation import validate
from shared.work import POSITION_NOTE, WorkRecord

OCTOBER = Period(2026, 10)
CUSTOMERS = 20
AIM = 1.5


def notes(tenant: str, count: int, start: datetime, days: int, seed: int) -> list[WorkRecord]:
    return [
        WorkRecord(
            tenant=tenant,
            record_id=str(uuid.UUID(int=(seed << 64) + i)),
            kind=POSITION_NOTE,
            key_id="bench",
            recorded_by="bench",
            created_at=datetime(2026, 11, 1, tzinfo=UTC),
            date_from=start + timedelta(minutes=(i * 37) % (days * 24 * 60)),
            date_to=start + timedelta(minutes=(i * 37) % (days * 24 * 60) + 20 + i % 90),
            hint=f"Bench note {i}",
            username=f"user{i % 25}",
            service_contract_id=101 + i % CUSTOMERS,
        )
        for i in range(count)
    ]


def load(container: Container, tenant: str, history: int) -> float:
    container.directory.import_entries(
        tenant,
        [(f"c{i}", Customer(i, f"Customer {i}", 10_000 + i, f"b{i}@example.com", "EUR")) for i in range(1, 21)]
        + [(f"k{i}", Contract(100 + i, i, f"P{i}", Decimal("95.00"), Decimal(15), 15)) for i in range(1, 21)],
    )
    october = OCTOBER.start(BERLIN)
    records = notes(tenant, 600, october, 30, 1)
    if history:
        records += notes(tenant, history, october - timedelta(days=730), 725, 2)
    table = container.storage.table(TABLES["work"])
    for i in range(0, len(records), 100):
        table.submit_transaction([("create", to_entity(r)) for r in records[i : i + 100]])
    started = time.perf_counter()
    report = reindex(table, tenant)
    assert report.indexed == len(records), report
    return time.perf_counter() - started


def median_ms(call: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def listing(body: dict[str, object]) -> ListAssignmentsIn:
    base = {"Skip": 0, "PageSize": 50, "OrderByAsc": False, "OrderColumns": 6, "TakeAll": False}
    return validate(ListAssignmentsIn, {**base, **body}, BERLIN)


def measure(container: Container, tenant: str, calls: int) -> dict[str, float]:
    who = Principal("bench", tenant, "bench", frozenset(CONNECTOR_RIGHTS), 100, 60)
    newest = listing({})
    window = listing(
        {
            "AdditionalSearchData": {
                "DateTimeFrom": OCTOBER.start(BERLIN).isoformat(),
                "DateTimeTo": OCTOBER.end(BERLIN).isoformat(),
            }
        }
    )
    first = container.connector.list_assignments(who, newest)
    assert len(first["Results"]) == 50
    assert first["Results"][0]["MinAssignmentTime"] >= "2026-10"
    assert container.connector.list_assignments(who, window)["Filtered"] == 600

    def invoicing_run() -> None:
        result = container.invoicing.run(tenant, OCTOBER)
        assert sum(d.totals.notes for d in result.drafts) == 600
        times.append(time.perf_counter() - started)
        for draft in result.drafts:  # release the notes for the next run (not timed)
            container.invoicing.delete(tenant, draft.number)

    times: list[float] = []
    for _ in range(max(3, calls // 2)):
        started = time.perf_counter()
        invoicing_run()
    return {
        "newest page of 50, no filter": median_ms(lambda: container.connector.list_assignments(who, newest), calls),
        "October window, page of 50": median_ms(lambda: container.connector.list_assignments(who, window), calls),
        "invoicing run of October": statistics.median(times) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=9600, help="notes before October in the big tenant")
    parser.add_argument("--calls", type=int, default=9, help="calls per figure (median)")
    args = parser.parse_args()
    with run_azurite() as azurite:
        env = {"AzureWebJobsStorage": azurite.connection_string, "TABLE_PREFIX": "b" + uuid.uuid4().hex[:8]}
        container = build(env)
        small, big = "bench-month", "bench-history"
        started = time.perf_counter()
        small_reindex = load(container, small, 0)
        big_reindex = load(container, big, args.history)
        print(f"loaded 600 and {600 + args.history} notes in {time.perf_counter() - started:.1f} s")
        print(f"reindex (migration): {small_reindex:.1f} s for 600 notes, {big_reindex:.1f} s for {600 + args.history}")
        a, b = measure(container, small, args.calls), measure(container, big, args.calls)
        print(
            f"{'median of ' + str(args.calls) + ' calls':<32} {'600 notes':>10} {600 + args.history:>7,} notes  ratio"
        )
        worst = 0.0
        for name in a:
            ratio = b[name] / a[name]
            worst = max(worst, ratio)
            print(f"{name:<32} {a[name]:>7.0f} ms {b[name]:>9.0f} ms  {ratio:5.2f}")
        print(f"aim: every ratio <= {AIM}: {'met' if worst <= AIM else 'NOT met'} (worst {worst:.2f})")


if __name__ == "__main__":
    main()
