"""Booked invoice numbers back from e-conomic: export for real (Azurite, the e-conomic stand-in), book
in the stand-in as an accountant would, run the sync, and look at our drafts."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pypdf
import pytest

from shared.accounting.invoices import LEASE, InvoiceSync
from shared.accounting.invoices_rules import SyncResult
from shared.accounting.ports import SyncBusy
from shared.connector.schemas import ListAssignmentsIn
from shared.connector.service import ConnectorService
from shared.container import TABLES
from shared.errors import Denied, Rejected
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.ledger import BOOKED, EXPORTED, OPEN
from shared.invoicing.pdf import render
from shared.invoicing.schemas import draft_out
from shared.repositories.accounting import TableSyncStates
from shared.repositories.invoicing import TableLedger
from shared.repositories.work import TableWorkRepository
from shared.validation import validate
from standins.economic import EconomicStandin
from tests.support.export import World


class Crash(BaseException):
    """The process dies here: no `except Exception` runs, nothing is cleaned up."""


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def exported(env: dict[str, str], economic: EconomicStandin, *, customers: int = 3, **fields: Any) -> World:
    world = World(env, economic, customers=customers, notes=2)
    job = world.run(world.start(**fields)["jobId"])
    assert job.state == "succeeded", job.errors
    return world


def sync_of(world: World, *, page_size: int = 1000, clock: Callable[[], datetime] | None = None) -> InvoiceSync:
    """The sync the app builds, over the world's storage and e-conomic, with a page size and clock of the test's."""
    storage = world.container.storage
    return InvoiceSync(
        ledger=TableLedger(storage.table_ref(TABLES["work"])),
        states=TableSyncStates(storage.table_ref(TABLES["sync"])),
        economic=world.container.export._economic,  # type: ignore[arg-type]
        clock=clock or (lambda: datetime.now(UTC)),
        page_size=page_size,
    )


def each_page_takes(sync: InvoiceSync, clock: Clock, duration: timedelta) -> None:
    """Reading and recording a page of booked invoices moves the sync's clock on by `duration`."""

    def page_done(step: str) -> None:
        if step == "watermark":
            clock.now += duration

    sync.before_write = page_done


def number_of(world: World, draft: int) -> int:
    return int(world.headers()[draft].accounting["documentNumber"])


def booked_calls(economic: EconomicStandin) -> int:
    return economic.count("GET", "/invoices/booked")


# -- invoice numbers ----------------------------------------------------------------------------------


def test_a_booked_draft_shows_its_invoice_number_in_json_and_pdf(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=3)
    first, second, third = world.drafts
    booked_first = world.agreement.book(number_of(world, first))
    booked_second = world.agreement.book(number_of(world, second))

    result = world.container.invoice_sync.run(world.tenant)

    numbers = {b.draft: b.invoice_number for b in result.booked}
    assert numbers == {first: booked_first["bookedInvoiceNumber"], second: booked_second["bookedInvoiceNumber"]}
    assert (result.waiting, result.still_waiting, result.missing) == (3, 1, ())
    headers = world.headers()
    assert headers[first].status == BOOKED
    assert headers[third].status == EXPORTED
    booked = headers[first].accounting["booked"]
    assert booked["invoiceNumber"] == booked_first["bookedInvoiceNumber"]
    assert booked["netAmount"] == str(headers[first].totals.net)  # e-conomic's amounts, to the cent
    assert booked["date"] == booked_first["date"]
    json_first = draft_out(world.container.invoicing.get(world.tenant, first)).model_dump(mode="json")
    json_third = draft_out(world.container.invoicing.get(world.tenant, third)).model_dump(mode="json")
    assert (json_first["status"], json_first["invoiceNumber"]) == ("booked", booked_first["bookedInvoiceNumber"])
    assert json_first["lines"]  # a booked draft still shows its lines
    assert (json_third["status"], json_third["invoiceNumber"]) == ("exported", None)
    pdf = render(world.container.invoicing.open_draft(world.tenant, first), created=datetime.now(UTC))
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert f"Invoice {booked_first['bookedInvoiceNumber']} (draft {first})" in text
    unbooked = render(world.container.invoicing.open_draft(world.tenant, third), created=datetime.now(UTC))
    assert f"draft {third}" in "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(unbooked)).pages)


def test_the_connector_listing_shows_a_booked_note_as_invoiced_with_its_number(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=2)
    first, second = world.drafts
    booked = world.agreement.book(number_of(world, first))["bookedInvoiceNumber"]
    world.container.invoice_sync.run(world.tenant)

    storage = world.container.storage
    connector = ConnectorService(
        TableWorkRepository(storage.table_ref(TABLES["work"])),
        clock=lambda: datetime.now(UTC),
        drafts=world.container.invoicing.live_resolver,
    )
    listing = connector.list_assignments(
        world.principal(), validate(ListAssignmentsIn, {"TakeAll": True}, world.container.settings.default_timezone)
    )
    seen = {(i["Status"], i["InvoiceDraftNumber"], i.get("InvoiceNumber")) for i in listing["Results"]}
    assert seen == {("Invoiced", first, booked), ("Drafted", second, None)}


def test_two_tenants_on_one_agreement_never_take_each_others_documents(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    first = exported(env, economic, customers=2)
    second = World(env, economic, customers=2, notes=2, agreement=first.agreement)
    assert set(first.drafts) == set(second.drafts)  # each tenant numbers its drafts from 1
    job = second.run(second.start()["jobId"])
    assert job.state == "succeeded", job.errors

    documents = first.documents()
    assert len(documents) == len(first.drafts) + len(second.drafts)  # nothing adopted across tenants
    for world in (first, second):
        for number, header in world.headers().items():
            doc = documents[int(header.accounting["documentNumber"])]
            assert doc["references"]["other"] == f"IB-{world.tenant}-{number}"

    draft = second.drafts[0]
    booked = first.agreement.book(number_of(second, draft))["bookedInvoiceNumber"]
    mine, theirs = first.container.invoice_sync.run(first.tenant), second.container.invoice_sync.run(second.tenant)
    assert (mine.booked, mine.missing, mine.still_waiting) == ((), (), len(first.drafts))
    assert [(b.draft, b.invoice_number) for b in theirs.booked] == [(draft, booked)]
    assert first.headers()[draft].status == EXPORTED
    assert second.headers()[draft].status == BOOKED


def test_drafts_exported_before_references_named_the_tenant_are_still_followed(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """Drafts exported with `IB-<draft>` (no `accounting.reference`): booked ones get their number, the
    others are found where they are, not flagged as deleted."""
    world = exported(env, economic, customers=2)
    ledger = TableLedger(world.container.storage.table_ref(TABLES["work"]))
    for number, header in world.headers().items():
        old = {k: v for k, v in header.accounting.items() if k != "reference"}
        assert ledger.put_header(replace(header, accounting=AccountingState.of(old)), header.version) is not None
        world.documents()[number_of(world, number)]["references"]["other"] = f"IB-{number}"
    first, second = world.drafts
    booked = world.agreement.book(number_of(world, first))["bookedInvoiceNumber"]

    result = world.container.invoice_sync.run(world.tenant)

    assert [(b.draft, b.invoice_number) for b in result.booked] == [(first, booked)]
    assert (result.missing, result.still_waiting) == ((), 1)
    assert "missing" not in world.headers()[second].accounting


def test_a_second_run_asks_only_for_what_was_booked_since_and_changes_nothing(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=5)
    for other in range(3):  # invoices of someone else, booked on the same agreement
        world.agreement.add_booked(20001 + other, references={"other": f"XYZ-{other}"})
    for draft in world.drafts[:4]:
        world.agreement.book(number_of(world, draft))
    sync = sync_of(world, page_size=2)

    before = booked_calls(economic)
    first = sync.run(world.tenant)
    pages_read = booked_calls(economic) - before

    assert first.pages == pages_read == 4  # 7 booked invoices, 2 a page
    assert sorted(b.draft for b in first.booked) == world.drafts[:4]
    highest = max(world.agreement.booked_invoices)
    assert first.watermark_after == highest
    assert sync.state(world.tenant).watermark == highest
    versions = {n: h.version for n, h in world.headers().items()}

    second = sync.run(world.tenant)

    assert (second.pages, second.booked, second.watermark_before) == (0, (), highest)
    assert {n: h.version for n, h in world.headers().items()} == versions  # not one write
    last = world.drafts[4]
    booked_last = world.agreement.book(number_of(world, last))
    third = sync.run(world.tenant)
    assert [(b.draft, b.invoice_number) for b in third.booked] == [(last, booked_last["bookedInvoiceNumber"])]
    assert third.pages == 1


def test_a_run_stops_reading_at_its_time_limit_keeps_what_it_read_and_the_next_run_continues(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=5)
    for draft in world.drafts[:4]:
        world.agreement.book(number_of(world, draft))
    gone = world.drafts[4]
    del world.agreement.invoice_drafts[number_of(world, gone)]
    clock = Clock()
    sync = sync_of(world, page_size=1, clock=clock)

    each_page_takes(sync, clock, timedelta(minutes=1))
    before = booked_calls(economic)

    cut = sync.run(world.tenant, time_limit=timedelta(seconds=150))

    assert (cut.complete, cut.pages, booked_calls(economic) - before) == (False, 3, 3)  # no page read in vain
    assert sorted(b.draft for b in cut.booked) == world.drafts[:3]
    assert cut.missing == ()  # its booking may be on a page not read yet: not flagged
    assert sync.state(world.tenant).last_result["complete"] is False
    headers = world.headers()
    assert [headers[n].status for n in world.drafts] == [BOOKED, BOOKED, BOOKED, EXPORTED, EXPORTED]

    rest = sync.run(world.tenant)

    assert (rest.complete, [b.draft for b in rest.booked], rest.missing) == (True, [world.drafts[3]], (gone,))


def test_a_run_whose_time_runs_out_on_the_last_page_is_still_complete(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=2)
    booked, gone = world.drafts
    world.agreement.book(number_of(world, booked))
    del world.agreement.invoice_drafts[number_of(world, gone)]
    clock = Clock()
    sync = sync_of(world, clock=clock)

    each_page_takes(sync, clock, timedelta(minutes=5))

    result = sync.run(world.tenant, time_limit=timedelta(seconds=120))

    assert (result.complete, [b.draft for b in result.booked], result.missing) == (True, [booked], (gone,))


def test_the_first_run_reads_booked_invoices_from_a_month_before_the_oldest_export(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=1)
    world.agreement.add_booked(15000, date="2020-01-31", references={"other": "OLD"})
    world.agreement.book(number_of(world, world.drafts[0]))

    result = world.container.invoice_sync.run(world.tenant)

    assert len(result.booked) == 1
    (query,) = [s.query for s in economic.log if s.path == "/invoices/booked"][-1:]
    assert "date$gte:2026-10-01" in str(query)  # invoice date 2026-11-01 less a month


def test_a_crash_between_reading_and_writing_loses_nothing(env: dict[str, str], economic: EconomicStandin) -> None:
    world = exported(env, economic, customers=2)
    for draft in world.drafts:
        world.agreement.book(number_of(world, draft))
    clock = Clock()
    sync = sync_of(world, clock=clock)

    def crash(step: str) -> None:
        if step == "headers":
            raise Crash

    sync.before_write = crash
    with pytest.raises(Crash):
        sync.run(world.tenant)
    assert all(h.status == EXPORTED for n, h in world.headers().items() if n in world.drafts)
    assert sync.state(world.tenant).watermark is None
    sync.before_write = lambda step: None
    with pytest.raises(SyncBusy):  # the dead run's lease still holds
        sync.run(world.tenant)

    clock.now += LEASE + timedelta(seconds=1)
    result = sync.run(world.tenant)

    assert sorted(b.draft for b in result.booked) == world.drafts
    assert all(world.headers()[n].status == BOOKED for n in world.drafts)


def test_a_crash_after_writing_before_the_watermark_applies_nothing_twice(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=3)
    for draft in world.drafts:
        world.agreement.book(number_of(world, draft))
    clock = Clock()
    sync = sync_of(world, page_size=2, clock=clock)
    first_page = world.drafts[:2]

    def crash(step: str) -> None:
        if step == "watermark":
            raise Crash

    sync.before_write = crash
    with pytest.raises(Crash):  # page 1's drafts are written, its watermark is not
        sync.run(world.tenant)
    headers = world.headers()
    assert [headers[n].status for n in world.drafts] == [BOOKED, BOOKED, EXPORTED]
    booked_once = {n: headers[n].accounting["booked"] for n in first_page}
    assert sync.state(world.tenant).watermark is None
    sync.before_write = lambda step: None
    clock.now += LEASE + timedelta(seconds=1)

    again = sync.run(world.tenant)

    assert again.pages == 2  # page 1 is read again ...
    assert [b.draft for b in again.booked] == world.drafts[2:]  # ... and only the rest is new
    headers = world.headers()
    assert {n: headers[n].accounting["booked"] for n in first_page} == booked_once
    assert all("alsoBooked" not in headers[n].accounting for n in world.drafts)
    assert again.watermark_after == max(world.agreement.booked_invoices)


def test_a_draft_deleted_in_e_conomic_without_booking_is_flagged_not_reset(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=2)
    gone, kept = world.drafts
    del world.agreement.invoice_drafts[number_of(world, gone)]

    result = world.container.invoice_sync.run(world.tenant)

    assert (result.missing, result.still_waiting) == ((gone,), 2)
    header = world.headers()[gone]
    assert header.status == EXPORTED  # not reset: its notes stay billed until a person decides
    assert "without being booked" in header.accounting["missing"]["reason"]
    assert "missing" not in world.headers()[kept].accounting
    since = header.accounting["missing"]["since"]

    again = world.container.invoice_sync.run(world.tenant)

    assert (again.missing, again.still_missing) == ((), (gone,))
    assert world.headers()[gone].accounting["missing"]["since"] == since


def test_a_flagged_draft_is_looked_up_by_its_reference_once_a_day_not_every_run(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=2)
    gone, _ = world.drafts
    del world.agreement.invoice_drafts[number_of(world, gone)]
    clock = Clock()
    sync = sync_of(world, clock=clock)
    assert sync.run(world.tenant).missing == (gone,)

    def lookups() -> int:
        return sum(1 for s in economic.log if "references.other" in s.query.get("filter", ""))

    before = lookups()
    clock.now += timedelta(hours=1)
    hourly = sync.run(world.tenant)
    assert (hourly.still_missing, lookups() - before) == ((gone,), 0)

    clock.now += timedelta(hours=24)
    daily = sync.run(world.tenant)
    assert daily.still_missing == (gone,)
    assert lookups() - before == 2  # draft invoices, booked invoices
    missing = world.headers()[gone].accounting["missing"]
    assert missing["checkedAt"] == clock.now.isoformat()

    booked = world.agreement.add_booked(5, references={"other": f"IB-{world.tenant}-{gone}"})  # by hand, low
    clock.now += timedelta(hours=25)
    found = sync.run(world.tenant)
    assert [(b.draft, b.invoice_number) for b in found.booked] == [(gone, booked["bookedInvoiceNumber"])]


def test_a_draft_booked_while_the_sync_read_is_found_by_its_reference(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=1)
    (draft,) = world.drafts
    sync = sync_of(world)
    sync.run(world.tenant)  # sets the watermark (nothing booked yet)
    # Booked with a number below the watermark (chosen by hand), so only the reference finds it.
    world.agreement.add_booked(30000, references={"other": "XYZ"})
    assert sync.run(world.tenant).watermark_after == 30000
    low = world.agreement.book(number_of(world, draft), number=100)

    result = sync.run(world.tenant)

    assert [(b.draft, b.invoice_number) for b in result.booked] == [(draft, low["bookedInvoiceNumber"])]
    assert result.missing == ()


def test_orders_are_followed_through_sending_and_their_upgrade_to_an_invoice(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=3, documentType="order")
    sent, upgraded, booked = world.drafts
    world.agreement.send_order(number_of(world, sent))
    invoice = world.agreement.upgrade_order(number_of(world, upgraded))
    later = world.agreement.upgrade_order(number_of(world, booked))
    booked_invoice = world.agreement.book(later["draftInvoiceNumber"])

    result = world.container.invoice_sync.run(world.tenant)

    assert [(b.draft, b.invoice_number) for b in result.booked] == [(booked, booked_invoice["bookedInvoiceNumber"])]
    assert result.missing == ()
    assert result.upgraded == ((upgraded, invoice["draftInvoiceNumber"]),)
    headers = world.headers()
    assert headers[sent].status == EXPORTED
    assert "missing" not in headers[sent].accounting
    assert headers[upgraded].accounting["upgradedTo"]["documentNumber"] == invoice["draftInvoiceNumber"]
    assert headers[booked].status == BOOKED


def test_the_export_puts_the_tenant_on_the_timer_and_the_timer_runs_every_such_tenant(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=1)
    world.agreement.book(number_of(world, world.drafts[0]))

    assert world.tenant in world.container.invoice_sync._states.tenants()
    outcome = world.container.invoice_sync.run_all(trigger="timer")

    assert outcome[world.tenant] == "1 booked, 0 missing"
    state = world.container.invoice_sync.state(world.tenant)
    assert state.last_result["trigger"] == "timer"
    assert state.last_error is None
    assert state.running_until is None


def test_a_tenant_without_exported_drafts_costs_no_call_to_e_conomic(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=1, notes=1)
    before = len(economic.log)

    result: SyncResult = world.container.invoice_sync.run(world.tenant)

    assert result.waiting == 0
    assert len(economic.log) == before


def test_refused_tokens_are_a_403_and_recorded_on_the_state(env: dict[str, str], economic: EconomicStandin) -> None:
    world = exported(env, economic, customers=1)
    economic.revoke(world.agreement.grant_token)

    with pytest.raises(Denied) as caught:
        world.container.invoice_sync.run(world.tenant)

    assert caught.value.code == "economic"
    assert world.agreement.grant_token not in caught.value.message
    state = world.container.invoice_sync.state(world.tenant)
    assert state.last_error
    assert state.running_until is None


def test_a_flagged_draft_can_be_reopened_and_exported_again_and_no_other_can(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = exported(env, economic, customers=2)
    gone, kept = world.drafts
    old_document = number_of(world, gone)
    del world.agreement.invoice_drafts[old_document]
    world.container.invoice_sync.run(world.tenant)
    with pytest.raises(Rejected) as refused:
        world.container.invoicing.reopen(world.tenant, kept)
    assert "accounting.missing" in refused.value.errors[0].message

    reopened = world.container.invoicing.reopen(world.tenant, gone)

    assert reopened.header.status == OPEN
    assert reopened.lines  # its notes are still billed in it
    assert reopened.header.accounting["reopened"]["documentNumber"] == old_document
    job = world.run(world.start()["jobId"])
    assert job.state == "succeeded"
    assert [d.draft for d in job.documents] == [gone]
    again = world.container.invoice_sync.run(world.tenant)
    assert (again.missing, again.still_missing, again.still_waiting) == ((), (), 2)


def test_the_timer_takes_the_longest_unsynced_tenant_first_and_postpones_past_its_budget(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    own_tables = {**env, "TABLE_PREFIX": "t" + uuid.uuid4().hex[:10]}  # only this test's tenants are watched
    first, second = exported(own_tables, economic, customers=1), exported(own_tables, economic, customers=1)
    worlds = {first.tenant: first, second.tenant: second}
    clock = Clock()
    sync = InvoiceSync(
        ledger=TableLedger(first.container.storage.table_ref(TABLES["work"])),
        states=TableSyncStates(first.container.storage.table_ref(TABLES["sync"])),
        economic=lambda tenant: worlds[tenant].container.export._economic(tenant),  # type: ignore[arg-type,return-value]
        clock=clock,
        budget=timedelta(0),  # time is up after the first tenant
    )
    sync.run(first.tenant)  # the first tenant was synced lately, the second never
    clock.now += timedelta(seconds=1)

    outcome = sync.run_all()

    assert list(outcome.items()) == [
        (second.tenant, "0 booked, 0 missing"),
        (first.tenant, "postponed: the timer's time is up; it runs first next time"),
    ]
    assert sync.state(second.tenant).last_run_at == clock.now


def test_the_timers_run_stops_reading_at_its_time_limit_and_says_so(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    own_tables = {**env, "TABLE_PREFIX": "t" + uuid.uuid4().hex[:10]}  # only this test's tenant is watched
    world = exported(own_tables, economic, customers=3)
    for draft in world.drafts:
        world.agreement.book(number_of(world, draft))
    clock = Clock()
    sync = InvoiceSync(
        ledger=TableLedger(world.container.storage.table_ref(TABLES["work"])),
        states=TableSyncStates(world.container.storage.table_ref(TABLES["sync"])),
        economic=world.container.export._economic,  # type: ignore[arg-type]
        clock=clock,
        page_size=1,
        limit=timedelta(minutes=9),
    )

    each_page_takes(sync, clock, timedelta(minutes=5))

    outcome = sync.run_all()

    assert outcome == {world.tenant: "2 booked, 0 missing; stopped at the time limit, the next run continues"}
    clock.now += timedelta(hours=1)
    assert sync.run_all() == {world.tenant: "1 booked, 0 missing"}
