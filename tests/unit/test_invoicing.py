"""Invoicing rules and the service over in-memory repositories: what a user sees in drafts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.errors import Conflict, Invalid, Rejected
from shared.invoicing.directory import Contract, Customer, Entry, Ticket
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.ledger import DELETED, MERGED, OPEN, VOID
from shared.invoicing.planning import Period, plan_run
from shared.invoicing.schemas import CustomerIn
from shared.invoicing.service import DraftFilter, InvoicingService
from shared.validation import validate
from shared.work import ACTIVITY_RECORDING
from tests.support.fakes import Crash, CrashingLedger, FakeClock, FakeDirectoryRepository, FakeLedger
from tests.support.invoicing import BERLIN, directory, note

OCT = Period(2026, 10)


def test_minutes_round_up_to_the_increment_and_amounts_half_up_to_cents() -> None:
    d = directory(rate="100.00", rounding=15)
    n = note(minutes=61, ticket_id=1001)

    plan = plan_run([n], d, OCT, BERLIN)

    ((_, billing),) = plan.drafts[0].items
    assert billing.minutes == 75
    assert billing.amount == Decimal("125.00")
    one_minute = plan_run([note(minutes=1, ticket_id=1001)], directory(rate="0.50", rounding=1), OCT, BERLIN)
    assert one_minute.drafts[0].items[0][1].amount == Decimal("0.01")  # 0.008333 -> 0.01, half-up


def test_pause_is_deducted_before_rounding() -> None:
    plan = plan_run([note(minutes=150, pause=15, ticket_id=1001)], directory(rounding=15), OCT, BERLIN)

    assert plan.drafts[0].items[0][1].minutes == 135


def test_surcharge_is_its_own_amount_rounded_per_line() -> None:
    d = directory(rate="90.00", percent="12.5", rounding=1)

    plan = plan_run([note(minutes=7, ticket_id=1001, extra_charge=True)], d, OCT, BERLIN)

    billing = plan.drafts[0].items[0][1]
    assert billing.amount == Decimal("10.50")
    assert billing.surcharge == Decimal("1.31")  # 1.3125 -> 1.31


def test_a_note_across_midnight_at_month_end_belongs_to_the_month_it_starts_in() -> None:
    late = note(start=datetime(2026, 10, 31, 22, 0, tzinfo=BERLIN), minutes=240, ticket_id=1001)

    assert plan_run([late], directory(), OCT, BERLIN).drafts[0].items[0][0] == late
    assert plan_run([late], directory(), Period(2026, 11), BERLIN).drafts == ()


def test_month_is_taken_in_the_default_zone_not_utc() -> None:
    # 1 Nov 00:30 in Berlin is still 31 Oct in UTC: it is November's.
    early = note(start=datetime(2026, 11, 1, 0, 30, tzinfo=BERLIN), ticket_id=1001)

    assert plan_run([early], directory(), OCT, BERLIN).drafts == ()
    assert len(plan_run([early], directory(), Period(2026, 11), BERLIN).drafts) == 1


def test_unresolvable_notes_are_reported_with_the_reason() -> None:
    notes = [
        note(service_contract_id=999),
        note(ticket_id=888),
        note(ticket_id=2001),
        note(),
    ]

    plan = plan_run(notes, directory(), OCT, BERLIN)

    assert plan.drafts == ()
    reasons = {u.note_id: (u.field, u.reason) for u in plan.unresolved}
    assert reasons[notes[0].record_id] == ("serviceContractID", "service contract 999 is not in the directory")
    assert reasons[notes[1].record_id] == ("ticketID", "ticket 888 is not in the directory")
    assert reasons[notes[2].record_id] == ("ticketID", "ticket 2001 has no service contract to price it")
    assert "neither" in reasons[notes[3].record_id][1]


def test_no_invoice_notes_and_activity_recordings_are_not_billed() -> None:
    notes = [note(ticket_id=1001, no_invoice=True), note(ticket_id=1001, kind=ACTIVITY_RECORDING)]

    assert plan_run(notes, directory(), OCT, BERLIN) == plan_run([], directory(), OCT, BERLIN)


def test_period_parsing_and_default() -> None:
    assert Period.parse("2026-01").previous() == Period(2025, 12)
    assert Period(2026, 12).next() == Period(2027, 1)
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse("2026-13")
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse("Oct 2026")


# -- the service --------------------------------------------------------------------------------


def service(ledger: FakeLedger | CrashingLedger, clock: FakeClock, customers: int = 2) -> InvoicingService:
    repo = FakeDirectoryRepository()
    d = directory(customers)
    repo.put_many("acme", [*d.customers.values(), *d.contracts.values(), *d.tickets.values()])
    return InvoicingService(
        ledger, DirectoryService(repo), clock=clock.now, timezone=BERLIN, lease=timedelta(minutes=5)
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))


def test_a_run_makes_one_draft_per_customer_for_the_previous_month_by_default(clock: FakeClock) -> None:
    ledger = FakeLedger()
    for n in [
        note(ticket_id=1001),
        note(ticket_id=1001, minutes=30),
        note(service_contract_id=102),
        note(ticket_id=1002),
    ]:
        ledger.add_note(n)
    ledger.add_note(note(ticket_id=1001, start=datetime(2026, 11, 2, 8, tzinfo=BERLIN)))  # November: not yet
    invoicing = service(ledger, clock)

    result = invoicing.run("acme")

    assert result.period == OCT
    assert [(d.number, d.customer.customer_id, d.totals.notes) for d in result.drafts] == [(1, 1, 2), (2, 2, 2)]
    assert result.drafts[0].totals.net == Decimal("135.00")  # 60 + 30 minutes at 90.00
    again = invoicing.run("acme")
    assert again.drafts == ()  # everything of October is billed


def test_a_draft_has_its_lines_and_totals_equal_their_sum(clock: FakeClock) -> None:
    ledger = FakeLedger()
    ledger.add_note(note(ticket_id=1001, minutes=50, extra_charge=True, hint="Night shift", username="Łukasz"))
    ledger.add_note(note(ticket_id=1001, minutes=10, start=datetime(2026, 10, 1, 7, tzinfo=BERLIN)))
    invoicing = service(ledger, clock)
    invoicing.run("acme", OCT)

    draft = invoicing.get("acme", 1)

    assert [(line.kind, line.date.isoformat(), line.minutes) for line in draft.lines] == [
        ("time", "2026-10-01", 15),
        ("time", "2026-10-05", 60),
        ("surcharge", "2026-10-05", 0),
    ]
    assert draft.lines[1].user == "Łukasz"
    assert draft.lines[2].amount == Decimal("22.50")  # 25 % of 90.00
    assert draft.totals.net == sum(line.amount for line in draft.lines) == Decimal("135.00")


def test_delete_releases_the_notes_and_the_number_is_never_reused(clock: FakeClock) -> None:
    ledger = FakeLedger()
    ledger.add_note(note(ticket_id=1001))
    invoicing = service(ledger, clock)
    invoicing.run("acme", OCT)

    header, released = invoicing.delete("acme", 1)
    rerun = invoicing.run("acme", OCT)

    assert header.status == DELETED
    assert released == 1
    assert [d.number for d in rerun.drafts] == [2]
    assert invoicing.get("acme", 1).header.status == DELETED
    with pytest.raises(Rejected):
        invoicing.delete("acme", 1)


def test_merge_keeps_the_lowest_number_and_covers_both_periods(clock: FakeClock) -> None:
    ledger = FakeLedger()
    ledger.add_note(note(ticket_id=1001))
    ledger.add_note(note(ticket_id=1001, start=datetime(2026, 9, 10, 9, tzinfo=BERLIN)))
    ledger.add_note(note(ticket_id=1002))
    invoicing = service(ledger, clock)
    invoicing.run("acme", OCT)  # 1: customer 1, 2: customer 2
    invoicing.run("acme", Period(2026, 9))  # 3: customer 1

    merged = invoicing.merge("acme", [3, 1])

    assert merged.header.number == 1
    assert (str(merged.header.period_from), str(merged.header.period_to)) == ("2026-09", "2026-10")
    assert merged.totals.notes == 2
    assert len(merged.lines) == 2
    assert invoicing.get("acme", 3).header.status == MERGED
    assert [h.number for h in invoicing.list("acme", DraftFilter())] == [1, 2]
    # Deleting the merged draft releases both months' notes.
    invoicing.delete("acme", 1)
    assert {d.customer.customer_id for d in invoicing.run("acme", Period(2026, 9)).drafts} == {1}


def test_merge_refuses_other_customers_and_drafts_that_are_not_open(clock: FakeClock) -> None:
    ledger = FakeLedger()
    ledger.add_note(note(ticket_id=1001))
    ledger.add_note(note(ticket_id=1002))
    invoicing = service(ledger, clock)
    invoicing.run("acme", OCT)

    with pytest.raises(Rejected) as different:
        invoicing.merge("acme", [1, 2])
    invoicing.delete("acme", 2)
    with pytest.raises(Rejected) as deleted:
        invoicing.merge("acme", [1, 2])
    with pytest.raises(Rejected) as single:
        invoicing.merge("acme", [1, 1])

    assert "different customers" in different.value.errors[0].message
    assert deleted.value.errors[0].message == "draft 2 is deleted, not open"
    assert single.value.errors[0].field == "draftIds"


def test_a_crashed_run_holds_its_notes_until_the_lease_is_over_then_they_are_billed_once(clock: FakeClock) -> None:
    ledger = FakeLedger(max_transaction=3)  # forces the pending -> link -> open path
    for minutes in (10, 20, 30, 40):
        ledger.add_note(note(ticket_id=1001, minutes=minutes))
    crashing = CrashingLedger(ledger, after=3)  # reserve, pending header, link ... crash before "open"
    with pytest.raises(Crash):
        service(crashing, clock).run("acme", OCT)
    invoicing = service(ledger, clock)

    assert invoicing.run("acme", OCT).drafts == ()  # the crashed run may still be alive
    clock.advance(timedelta(minutes=6))
    result = invoicing.run("acme", OCT)

    assert invoicing.get("acme", 1).header.status == VOID
    assert [(d.number, d.totals.notes) for d in result.drafts] == [(2, 4)]


def test_a_note_taken_by_a_concurrent_run_is_dropped_not_billed_twice(clock: FakeClock) -> None:
    ledger = FakeLedger()
    notes = [note(ticket_id=1001, minutes=m) for m in (10, 20)]
    for n in notes:
        ledger.add_note(n)
    invoicing = service(ledger, clock)
    stale = ledger.notes_starting("acme", OCT.start(BERLIN), OCT.end(BERLIN))

    first = invoicing.run("acme", OCT)
    # A second run that read the notes before the first linked them:
    original = ledger.notes_starting
    ledger.notes_starting = lambda *_: stale  # type: ignore[method-assign]
    second = invoicing.run("acme", OCT)
    ledger.notes_starting = original  # type: ignore[method-assign]

    assert first.drafts[0].totals.notes == 2
    assert second.drafts == ()
    assert second.skipped == 2
    assert invoicing.get("acme", 2).header.status == VOID


def test_directory_refuses_missing_references_and_deleting_what_is_referenced() -> None:
    svc = DirectoryService(FakeDirectoryRepository())
    svc.put("acme", Customer(1, "Acme", 77, "a@example.com", "EUR"))

    with pytest.raises(Rejected) as missing:
        svc.put("acme", Ticket(5, 2, 9))
    svc.put("acme", Contract(9, 1, "P", Decimal(80)))
    svc.put("acme", Ticket(5, 1, 9))
    with pytest.raises(Conflict) as referenced:
        svc.delete("acme", Customer, 1, drafted_customers=set())

    assert [(e.field, e.message) for e in missing.value.errors] == [
        ("customerId", "customer 2 does not exist"),
        ("contractId", "service contract 9 does not exist"),
    ]
    assert "service contract 9, ticket 5" in referenced.value.message


def test_import_checks_every_row_against_the_directory_after_the_import() -> None:
    repo = FakeDirectoryRepository()
    svc = DirectoryService(repo)
    rows: list[tuple[str, Entry]] = [
        ("tickets[0]", Ticket(5, 1, 9)),
        ("contracts[0]", Contract(9, 1, "P", Decimal(80))),
        ("customers[0]", Customer(1, "Acme", 77, "a@example.com", "EUR")),
        ("tickets[1]", Ticket(6, 3, None)),
    ]

    problems = svc.import_entries("acme", rows)

    assert problems == ["tickets[1]: customerId customer 3 does not exist"]
    assert repo.load("acme").customers == {}
    assert svc.import_entries("acme", rows[:3]) == []
    assert set(repo.load("acme").tickets) == {5}


def test_open_drafts_of_a_status_filter(clock: FakeClock) -> None:
    ledger = FakeLedger()
    ledger.add_note(note(ticket_id=1001))
    invoicing = service(ledger, clock)
    invoicing.run("acme", OCT)

    assert [h.status for h in invoicing.list("acme", DraftFilter(status=OPEN))] == [OPEN]
    assert invoicing.list("acme", DraftFilter(period=Period(2026, 9))) == []


@pytest.mark.parametrize(
    ("name", "rule"),
    [("x" * 257, "at most 256 characters"), ("Acme\x07 GmbH", "control characters"), ("   ", "non-empty")],
)
def test_a_customer_name_follows_the_text_rules(name: str, rule: str) -> None:
    body = {"customerId": 1, "name": name, "accountingSystemId": 5001, "billingEmail": "a@b.example", "currency": "EUR"}

    with pytest.raises(Invalid) as caught:
        validate(CustomerIn, body, BERLIN)

    assert [(e.field, rule in e.message) for e in caught.value.errors] == [("name", True)]


def test_a_customer_name_is_kept_without_surrounding_blanks() -> None:
    body = {
        "customerId": 1,
        "name": " Acme ",
        "accountingSystemId": 5001,
        "billingEmail": "a@b.example",
        "currency": "EUR",
    }

    assert validate(CustomerIn, body, BERLIN).name == "Acme"
