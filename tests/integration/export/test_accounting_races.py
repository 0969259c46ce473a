"""The accounting sync while accountants work in e-conomic at the same moment, and its edges: documents
that move while the sync reads, credit notes, malformed answers, tenants exported before the sync
existed, an operator's typo. Each docstring says what went wrong before the fix."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.accounting.invoices import InvoiceSync
from shared.container import TABLES
from shared.errors import AccountingUnusable
from shared.invoicing.ledger import BOOKED, EXPORTED
from shared.repositories.accounting import TableSyncStates
from shared.repositories.invoicing import TableLedger
from standins.economic import EconomicStandin
from tests.support.export import World


def exported(env: dict[str, str], economic: EconomicStandin, *, customers: int = 1, **fields: Any) -> World:
    world = World(env, economic, customers=customers, notes=2)
    job = world.run(world.start(**fields)["jobId"])
    assert job.state == "succeeded", job.errors
    return world


class Hooked:
    """The real client, with `after[method]` called once that method has answered: what an accountant
    does in e-conomic's web app at that moment."""

    def __init__(self, inner: Any, after: dict[str, Callable[[], None]]) -> None:
        self._inner = inner
        self._after = after

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        hook = self._after.get(name)
        if hook is None or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            answer = attribute(*args, **kwargs)
            if args and name == "list_drafts" and args[0] != "draftInvoice":
                return answer
            self._after.pop(name)()
            return answer

        return call


def sync_of(world: World, after: dict[str, Callable[[], None]] | None = None) -> InvoiceSync:
    storage = world.container.storage
    connect: Any = world.container.export._economic
    return InvoiceSync(
        ledger=TableLedger(storage.table_ref(TABLES["work"])),
        states=TableSyncStates(storage.table_ref(TABLES["sync"])),
        economic=lambda tenant: Hooked(connect(tenant), after or {}),
        clock=lambda: datetime.now(UTC),
    )


def number_of(world: World, draft: int) -> int:
    return int(world.headers()[draft].accounting["documentNumber"])


def test_an_order_upgraded_while_the_sync_lists_documents_is_not_flagged_deleted(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """invoices.py `_locate`: invoice drafts are listed before orders. An order upgraded to an invoice
    draft between those two reads is in neither list, nor booked, so the sync flags a live document as
    'deleted in e-conomic without being booked' -- and the flag is what allows `reopen`, i.e. exporting
    the same work a second time."""
    world = exported(env, economic, documentType="order")
    (draft,) = world.drafts
    order = number_of(world, draft)

    def upgrade() -> None:
        world.agreement.upgrade_order(order)

    sync = sync_of(world, after={"list_drafts": upgrade})

    result = sync.run(world.tenant)

    assert result.missing == ()
    assert "missing" not in world.headers()[draft].accounting


def test_a_draft_on_the_second_page_of_invoice_drafts_is_not_flagged_when_an_earlier_one_goes(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """invoices.py `_locate` / economic.py `list_drafts`: every invoice draft of the agreement is listed
    with `skippages`. When a draft on page 1 is booked (or deleted) while page 2 is being asked for, every
    later draft moves up one place and the first of page 2 is on neither page: ours is then 'nowhere',
    not booked either, and flagged deleted although it sits untouched in e-conomic."""
    world = World(env, economic, customers=1, notes=2)
    for n in range(1, 1001):  # other people's drafts: ours becomes 1001, the first of page 2
        world.agreement.invoice_drafts[n] = {"draftInvoiceNumber": n, "references": {"other": f"XYZ-{n}"}}
    job = world.run(world.start()["jobId"])
    assert job.state == "succeeded", job.errors
    (draft,) = world.drafts
    assert number_of(world, draft) == 1001
    client: Any = world.container.export._economic(world.tenant)
    original = client.get

    def get(path: str, params: Any = None) -> Any:
        answer = original(path, params)
        if path == "/invoices/drafts" and params and params.get("skippages") == 0:
            world.agreement.invoice_drafts.pop(5, None)  # an accountant books/deletes another draft now
        return answer

    client.get = get
    sync = sync_of(world)

    result = sync.run(world.tenant)

    assert world.headers()[draft].status == EXPORTED
    assert result.missing == ()
    assert "missing" not in world.headers()[draft].accounting


def test_a_malformed_answer_from_e_conomic_is_a_clear_502_not_a_500(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """invoices.py `_as_api_error`: only EconomicRejected/NotFound/Auth/Unavailable are mapped. An answer
    e-conomic (or a proxy in front of it) gives with 200 but no `collection` raises the adapter's base
    `EconomicError` (economic.py `pages`), which is no DomainError: the HTTP caller gets a bare 500."""
    world = exported(env, economic)
    economic.fail_next(200, body={"message": "Down for maintenance"}, path_contains="/invoices/booked")
    sync = sync_of(world)

    with pytest.raises(AccountingUnusable) as caught:
        sync.run(world.tenant)

    assert "collection" in caught.value.message


def test_a_credit_note_seen_before_its_invoice_is_not_recorded_as_the_drafts_invoice(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """invoices.py `_bookings`: the first booked invoice with a draft's reference that the pages show
    becomes `accounting.booked`. When the invoice itself was booked below the watermark (a number
    chosen by hand, which the docstring says happens) and then credited, only the credit note is above
    the watermark: the draft is recorded as booked with the credit note's number and negative amounts,
    and the real invoice number is never recorded (the reference look-up that would find it runs only
    for drafts that are still `exported`)."""
    world = exported(env, economic)
    (draft,) = world.drafts
    sync = sync_of(world)
    world.agreement.add_booked(30000, references={"other": "XYZ"})
    assert sync.run(world.tenant).watermark_after == 30000
    invoice = world.agreement.book(number_of(world, draft), number=100)
    world.agreement.add_booked(
        30001,
        references={"other": f"IB-{world.tenant}-{draft}"},
        netAmount=-invoice["netAmount"],
        vatAmount=-invoice["vatAmount"],
        grossAmount=-invoice["grossAmount"],
    )

    result = sync.run(world.tenant)

    header = world.headers()[draft]
    assert header.status == BOOKED
    assert header.accounting["booked"]["invoiceNumber"] == 100, header.accounting["booked"]
    assert [(b.draft, b.invoice_number) for b in result.booked] == [(draft, 100)]


def test_drafts_exported_before_the_sync_existed_are_picked_up_by_the_timer(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """invoices.py `run_all` only visits tenants with an `AccountingSync` row, and only the export's
    `before_run` hook (`watch`) creates one. A tenant whose drafts were exported before this release
    (or whose row creation failed) is never visited by the hourly timer until it exports again: its
    booked drafts never get their invoice numbers."""
    world = World(env, economic, customers=1, notes=2)
    world.container.export.before_run = lambda tenant: None  # an export made before the sync was deployed
    job = world.run(world.start()["jobId"])
    assert job.state == "succeeded", job.errors
    (draft,) = world.drafts
    world.agreement.book(number_of(world, draft))

    outcome = world.container.invoice_sync.run_all(trigger="timer")

    assert world.tenant in outcome
    assert world.headers()[draft].status == BOOKED


def test_an_operator_syncing_a_tenant_that_does_not_exist_gets_a_404_and_nothing_is_stored(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """routes.py `sync_invoices` / invoices.py `_acquire`: the reseller field is not checked against
    the known tenants. A typo by an operator answers 200 ("0 waiting") and creates an `AccountingSync`
    row, so the timer visits the phantom tenant every hour and GET .../sync answers 200 for it."""
    from types import SimpleNamespace

    from shared.accounting.routes import sync_invoices
    from shared.accounting.schemas import SyncIn
    from shared.errors import NotFound

    world = World(env, economic, customers=1, notes=1)
    phantom = "no-such-" + world.tenant
    services: Any = SimpleNamespace(
        invoice_sync=world.container.invoice_sync,
        now=lambda: datetime.now(UTC),
        tenant_exists=lambda t: t == world.tenant,
    )
    call: Any = SimpleNamespace(principal=world.principal("reseller", "operator"), data=SyncIn(reseller=phantom))

    try:
        response = sync_invoices(services, call)
    except NotFound:
        pass
    else:
        raise AssertionError(f"answered {response.status} for an unknown tenant")
    finally:
        assert phantom not in world.container.invoice_sync._states.tenants()
