"""Properties of invoicing for random notes, contracts and pauses (hypothesis)."""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.invoicing.directory import Contract, Customer, Directory, Ticket
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.ledger import LIVE, Totals, resolve_number
from shared.invoicing.planning import Period, is_billable, lines_of, plan_run, resolve
from shared.invoicing.service import InvoicingService
from shared.work import ACTIVITY_RECORDING, POSITION_NOTE, WorkRecord
from tests.support.fakes import Crash, CrashingLedger, FakeClock, FakeDirectoryRepository, FakeLedger
from tests.support.invoicing import BERLIN, note

OCT = Period(2026, 10)
START = OCT.start(BERLIN) - timedelta(days=3)


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    n = draw(st.integers(1, 4))
    customers = {i: Customer(i, f"C{i}", 100 + i, f"c{i}@example.com", "EUR") for i in range(1, n + 1)}
    contracts = {}
    for k in range(draw(st.integers(1, 6))):
        contracts[10 + k] = Contract(
            10 + k,
            draw(st.integers(1, n)),
            f"P{k}",
            draw(st.decimals(Decimal(0), Decimal(500), places=2)),
            draw(st.decimals(Decimal(0), Decimal(50), places=2)),
            draw(st.sampled_from([1, 5, 6, 15, 30, 60])),
        )
    tickets = {}
    for t in range(draw(st.integers(0, 6))):
        contract = draw(st.sampled_from([None, *contracts]))
        customer = contracts[contract].customer_id if contract is not None else draw(st.integers(1, n))
        tickets[50 + t] = Ticket(50 + t, customer, contract)
    return Directory(customers, contracts, tickets)


@st.composite
def notes(draw: st.DrawFn, d: Directory) -> WorkRecord:
    start = START + timedelta(seconds=draw(st.integers(0, 40 * 86400)))
    seconds = draw(st.integers(60, 10 * 3600))
    pause = draw(st.integers(0, seconds - 1)) if draw(st.booleans()) else 0
    # Mostly ids the directory knows, sometimes unknown ones or none.
    contract = draw(st.sampled_from([*d.contracts, *d.contracts, None, None, 98]))
    ticket = draw(st.sampled_from([*d.tickets, None, 99]))
    return WorkRecord(
        tenant="acme",
        record_id=draw(st.uuids()).hex,
        kind=draw(st.sampled_from([POSITION_NOTE] * 5 + [ACTIVITY_RECORDING])),
        key_id="k",
        recorded_by="r",
        created_at=START,
        date_from=start.astimezone(UTC),
        date_to=(start + timedelta(seconds=seconds)).astimezone(UTC),
        pause=timedelta(seconds=pause),
        no_invoice=draw(st.integers(0, 4)) == 0,
        extra_charge=draw(st.booleans()),
        ticket_id=ticket,
        service_contract_id=contract,
    )


@st.composite
def scenarios(draw: st.DrawFn, max_notes: int = 40) -> tuple[Directory, list[WorkRecord]]:
    d = draw(directories())
    records = draw(st.lists(notes(d), min_size=8, max_size=max_notes, unique_by=lambda n: n.record_id))
    return d, records


def expected_minutes(n: WorkRecord, increment: int) -> int:
    worked = (n.date_to - n.date_from - n.pause).total_seconds()
    blocks = int(worked // (60 * increment)) + (worked % (60 * increment) > 0)
    return blocks * increment


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_every_billable_minute_is_in_exactly_one_line_and_totals_are_the_sum_of_lines(
    scenario: tuple[Directory, list[WorkRecord]],
) -> None:
    d, records = scenario
    plan = plan_run(records, d, OCT, BERLIN)

    placed = Counter(n.record_id for draft in plan.drafts for n, _ in draft.items)
    unresolved = Counter(u.note_id for u in plan.unresolved)
    for n in records:
        billable = is_billable(n, OCT, BERLIN)
        contract, _ = resolve(n, d)
        assert placed[n.record_id] == (1 if billable and contract else 0)
        assert unresolved[n.record_id] == (1 if billable and not contract else 0)
    assert len({draft.customer.customer_id for draft in plan.drafts}) == len(plan.drafts)
    for draft in plan.drafts:
        lines = [line for n, b in draft.items for line in lines_of(n, b, BERLIN)]
        time_lines = [line for line in lines if line.kind == "time"]
        assert Totals.of([b for _, b in draft.items]).net == sum((line.amount for line in lines), Decimal(0))
        assert len(time_lines) == len(draft.items)
        for n, billing in draft.items:
            contract, _ = resolve(n, d)
            assert contract is not None
            assert contract.customer_id == draft.customer.customer_id
            assert billing.minutes == expected_minutes(n, contract.rounding_minutes)
            worked = (n.date_to - n.date_from - n.pause).total_seconds() / 60
            assert worked <= billing.minutes < worked + contract.rounding_minutes
            assert billing.amount == (billing.minutes * contract.hourly_rate / 60).quantize(
                Decimal("0.01"), "ROUND_HALF_UP"
            )
            assert (billing.surcharge is not None) == (n.extra_charge and contract.surcharge_percent > 0)


def _ledger(records: list[WorkRecord], batch: int) -> FakeLedger:
    ledger = FakeLedger(max_transaction=batch)
    for n in records:
        ledger.add_note(n)
    return ledger


def _service(ledger: FakeLedger | CrashingLedger, d: Directory, clock: FakeClock) -> InvoicingService:
    repo = FakeDirectoryRepository()
    repo.put_many("acme", [*d.customers.values(), *d.contracts.values(), *d.tickets.values()])
    return InvoicingService(
        ledger, DirectoryService(repo), clock=clock.now, timezone=BERLIN, lease=timedelta(minutes=5)
    )


def _billed(ledger: FakeLedger) -> Counter[str]:
    headers = ledger.headers("acme")
    return Counter(
        n.record.record_id
        for n in ledger.all_notes("acme")
        if n.billing is not None and resolve_number(n.billing.draft_number, headers) is not None
    )


def _contents(invoicing: InvoicingService, numbers: list[int]) -> set[tuple[int, Decimal, frozenset[str]]]:
    drafts = [invoicing.get("acme", n) for n in numbers]
    return {(d.header.customer.customer_id, d.totals.net, frozenset(line.note_id for line in d.lines)) for d in drafts}


@settings(max_examples=100, deadline=None)
@given(scenarios(30), st.sampled_from([3, 100]))
def test_deleting_every_draft_then_running_again_gives_the_same_drafts(
    scenario: tuple[Directory, list[WorkRecord]], batch: int
) -> None:
    d, records = scenario
    ledger = _ledger(records, batch)
    clock = FakeClock(datetime(2026, 11, 2, tzinfo=UTC))
    invoicing = _service(ledger, d, clock)

    first = invoicing.run("acme", OCT)
    before = _contents(invoicing, [h.number for h in first.drafts])
    for h in first.drafts:
        invoicing.delete("acme", h.number)
    assert _billed(ledger) == Counter()
    second = invoicing.run("acme", OCT)

    assert _contents(invoicing, [h.number for h in second.drafts]) == before
    assert second.unresolved == first.unresolved
    assert not {h.number for h in first.drafts} & {h.number for h in second.drafts}
    for h in second.drafts:
        assert invoicing.get("acme", h.number).header.totals.net == sum(
            line.amount for line in invoicing.get("acme", h.number).lines
        )


@settings(max_examples=150, deadline=None)
@given(
    scenarios(25),
    st.integers(0, 8),
    st.sampled_from([2, 3, 100]),
)
def test_a_crash_between_any_two_writes_is_repaired_to_exactly_once(
    scenario: tuple[Directory, list[WorkRecord]], crash_at: int, batch: int
) -> None:
    d, records = scenario
    ledger = _ledger(records, batch)
    clock = FakeClock(datetime(2026, 11, 2, tzinfo=UTC))
    with contextlib.suppress(Crash):
        _service(CrashingLedger(ledger, crash_at), d, clock).run("acme", OCT)
    clock.advance(timedelta(minutes=6))
    invoicing = _service(ledger, d, clock)

    invoicing.run("acme", OCT)

    expected = {n.record_id for n in records if is_billable(n, OCT, BERLIN) and resolve(n, d)[0] is not None}
    assert _billed(ledger) == Counter(expected)
    for number, header in ledger.headers("acme").items():
        if header.status in LIVE:
            draft = invoicing.get("acme", number)
            assert draft.totals.net == sum(line.amount for line in draft.lines)
            assert draft.totals.notes == len({line.note_id for line in draft.lines})


def test_a_crash_before_each_write_of_a_run_is_repaired_to_exactly_once() -> None:
    """Every write of a run in turn, for drafts that fit one transaction and drafts that do not."""
    d = Directory(
        {i: Customer(i, f"C{i}", 100 + i, f"c{i}@example.com", "EUR") for i in (1, 2, 3)},
        {10 + i: Contract(10 + i, i, f"P{i}", Decimal("80.00"), Decimal(10), 15) for i in (1, 2, 3)},
    )
    records = [
        note(start=OCT.start(BERLIN) + timedelta(hours=h), minutes=20 + h, service_contract_id=11 + h % 3)
        for h in range(12)
    ]
    for batch in (3, 100):
        total_writes = None
        crash_at = 0
        while total_writes is None or crash_at <= total_writes:
            ledger = _ledger(records, batch)
            clock = FakeClock(datetime(2026, 11, 2, tzinfo=UTC))
            crashing = CrashingLedger(ledger, crash_at)
            try:
                _service(crashing, d, clock).run("acme", OCT)
                total_writes = crashing.writes
            except Crash:
                pass
            clock.advance(timedelta(minutes=6))
            invoicing = _service(ledger, d, clock)
            invoicing.run("acme", OCT)

            assert _billed(ledger) == Counter(n.record_id for n in records), (batch, crash_at)
            live = [h for h in ledger.headers("acme").values() if h.status in LIVE]
            assert sorted(h.customer.customer_id for h in live) == [1, 2, 3]
            assert sum(h.totals.notes for h in live) == len(records)
            crash_at += 1
