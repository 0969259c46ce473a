"""The invoicing ledger against a real Table storage (Azurite): two runs at once never bill a note
twice, and a run that dies between any two storage writes is repaired to exactly-once."""

from __future__ import annotations

import functools
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from azure.data.tables import TableClient

from shared.container import TABLES, build
from shared.invoicing.directory import Contract, Customer
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.ledger import LIVE, resolve_number
from shared.invoicing.planning import Period
from shared.invoicing.service import InvoicingService
from shared.repositories.billing import TableDirectoryRepository
from shared.repositories.invoicing import TableLedger
from shared.repositories.work import TableWorkRepository, to_entity
from shared.work import WorkRecord
from tests.support.fakes import FakeClock
from tests.support.invoicing import BERLIN, note

OCT = Period(2026, 10)


class Crash(Exception):
    pass


class CrashingTable:
    """A `TableClient` that dies instead of performing write number `after` (reads pass through)."""

    WRITES = frozenset({"create_entity", "update_entity", "upsert_entity", "delete_entity", "submit_transaction"})

    def __init__(self, inner: TableClient, after: int) -> None:
        self._inner = inner
        self._after = after
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self.WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            if self.writes == self._after:
                raise Crash(name)
            self.writes += 1
            return attr(*args, **kwargs)

        return write


class Setup:
    def __init__(self, env: dict[str, str], customers: int, notes_per_customer: int) -> None:
        self.container = build(env)
        self.tenant = "st-" + uuid.uuid4().hex[:10]
        self.work_table = self.container.storage.table_ref(TABLES["work"])
        self.directory_repo = TableDirectoryRepository(self.container.storage.table_ref(TABLES["billing"]))
        self.directory_repo.put_many(
            self.tenant,
            [Customer(i, f"C{i}", 100 + i, f"c{i}@example.com", "EUR") for i in range(1, customers + 1)]
            + [Contract(10 + i, i, f"P{i}", Decimal("75.50"), Decimal(10), 6) for i in range(1, customers + 1)],
        )
        work = TableWorkRepository(self.work_table)
        self.notes: list[WorkRecord] = []
        start = OCT.start(BERLIN)
        for i in range(customers * notes_per_customer):
            record = note(
                self.tenant,
                start + timedelta(hours=i),
                minutes=17 + i % 50,
                service_contract_id=11 + i % customers,
                extra_charge=i % 3 == 0,
            )
            work.add(record)
            self.notes.append(record)

    def service(
        self, clock: Callable[[], datetime], *, max_transaction: int = 100, table: Callable[[], Any] | None = None
    ) -> InvoicingService:
        ledger = TableLedger(table or self.work_table, max_transaction=max_transaction)
        return InvoicingService(
            ledger,
            DirectoryService(self.directory_repo),
            clock=clock,
            timezone=BERLIN,
            lease=timedelta(minutes=5),
        )

    def billed(self) -> Counter[str]:
        ledger = TableLedger(self.work_table)
        headers = ledger.headers(self.tenant)
        notes = ledger.notes_starting(self.tenant, OCT.start(BERLIN), OCT.end(BERLIN))
        return Counter(
            n.record.record_id
            for n in notes
            if n.billing is not None and resolve_number(n.billing.draft_number, headers) is not None
        )

    def check_exactly_once(self, invoicing: InvoicingService) -> None:
        assert self.billed() == Counter(n.record_id for n in self.notes)
        live = [h for h in TableLedger(self.work_table).headers(self.tenant).values() if h.status in LIVE]
        assert sum(h.totals.notes for h in live) == len(self.notes)
        for header in live:
            draft = invoicing.get(self.tenant, header.number)
            assert draft.totals.net == sum(line.amount for line in draft.lines)
            assert draft.totals.notes == len({line.note_id for line in draft.lines})


@pytest.mark.parametrize("max_transaction", [100, 7])
def test_two_runs_at_once_bill_every_note_exactly_once(app_env: dict[str, str], max_transaction: int) -> None:
    setup = Setup(app_env, customers=3, notes_per_customer=40)
    clock = FakeClock(datetime(2026, 11, 2, tzinfo=UTC))
    start = threading.Barrier(2)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        service = setup.service(clock.now, max_transaction=max_transaction)
        start.wait()
        try:
            results.append(service.run(setup.tenant, OCT))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert sum(len(r.drafts) for r in results) >= 3
    setup.check_exactly_once(setup.service(clock.now))


@pytest.mark.parametrize("max_transaction", [100, 4])
def test_a_crash_before_any_storage_write_is_repaired_by_the_next_run(
    app_env: dict[str, str], max_transaction: int
) -> None:
    crash_at = 0
    total: int | None = None
    while total is None or crash_at <= total:
        setup = Setup(app_env, customers=2, notes_per_customer=5)
        clock = FakeClock(datetime(2026, 11, 2, tzinfo=UTC))
        table = CrashingTable(setup.work_table(), crash_at)
        crashing = setup.service(
            clock.now, max_transaction=max_transaction, table=functools.partial(lambda t: t, table)
        )
        try:
            crashing.run(setup.tenant, OCT)
            total = table.writes
        except Crash:
            pass
        clock.advance(timedelta(minutes=6))
        invoicing = setup.service(clock.now, max_transaction=max_transaction)

        invoicing.run(setup.tenant, OCT)

        setup.check_exactly_once(invoicing)
        crash_at += 1
    assert total is not None
    assert total >= (2 if max_transaction == 100 else 8)


def test_a_draft_of_more_than_a_thousand_notes_is_made_read_and_deleted(app_env: dict[str, str]) -> None:
    setup = Setup(app_env, customers=1, notes_per_customer=0)
    table = setup.work_table()
    start = OCT.start(BERLIN)
    records = [
        note(
            setup.tenant, start + timedelta(minutes=30 * i), minutes=25, service_contract_id=11, extra_charge=i % 2 == 0
        )
        for i in range(1050)
    ]
    for i in range(0, len(records), 100):
        table.submit_transaction([("create", to_entity(r)) for r in records[i : i + 100]])
    setup.notes = records
    clock = FakeClock(datetime(2026, 11, 2, tzinfo=UTC))
    invoicing = setup.service(clock.now)

    [header] = invoicing.run(setup.tenant, OCT).drafts
    draft = invoicing.get(setup.tenant, header.number)

    assert header.totals.notes == 1050
    assert len(draft.lines) == 1050 + 525
    assert (
        draft.totals.net
        == sum(line.amount for line in draft.lines)
        == Decimal("1050") * Decimal("37.75") + 525 * Decimal("3.78")
    )
    setup.check_exactly_once(invoicing)
    _, released = invoicing.delete(setup.tenant, header.number)
    assert released == 1050
    assert setup.billed() == Counter()
    assert all(n.billing is None for n in TableLedger(setup.work_table).notes_of(setup.tenant, {header.number}))
