"""Edited and manual drafts through the e-conomic export and the accounting sync, exactly once: real
Table storage and queue (Azurite), the e-conomic stand-in over HTTP (every body validated against
e-conomic's published schemas, ../shared/reference/economic-schemas/invoices.drafts.post.schema.json)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared.adapters.economic import EconomicUnavailable
from shared.errors import Conflict, Rejected
from shared.invoicing.editing import LineChange, LineSpec, version_tag
from shared.invoicing.ledger import BOOKED, EXPORTED
from shared.invoicing.service import Draft
from standins.economic import EconomicStandin
from tests.integration.export.test_economic_export import fail_creates_from
from tests.support.export import OCT, World


def _lines(doc: dict[str, Any]) -> list[tuple[str, str, Decimal, Decimal]]:
    return [
        (
            line["product"]["productNumber"],
            line["description"],
            Decimal(str(line["quantity"])),
            Decimal(str(line["unitNetPrice"])),
        )
        for line in doc["lines"]
    ]


def _edit_and_add(world: World) -> tuple[int, int]:
    """Draft 1: its first time line at 1,000.00/h with a new text, its first surcharge dropped, 42.5 km of
    mileage added. A new manual draft for customer 2: a retainer and a credit. Their numbers."""
    editor, tenant = world.container.editing, world.tenant
    first = world.drafts[0]
    draft = world.container.invoicing.get(tenant, first)
    time = next(line for line in draft.lines if line.kind == "time")
    change = LineChange(
        frozenset({"description", "unitPrice"}), description="Edited consulting", unit_price=Decimal(1000)
    )
    draft = editor.change_line(tenant, first, [version_tag(draft.header)], time.line_id, change)
    surcharge = next(line for line in draft.lines if line.kind == "surcharge")
    draft = editor.delete_line(tenant, first, [version_tag(draft.header)], surcharge.line_id)
    mileage = LineSpec("KM", "Mileage", Decimal("42.5"), Decimal("3.51"), OCT)  # 149.175: 149.18
    editor.add_line(tenant, first, [version_tag(draft.header)], mileage)
    manual = editor.create(
        tenant,
        2,
        OCT,
        [
            LineSpec("2", "Support retainer", Decimal(1), Decimal("750.00")),
            LineSpec("2", "Credit: late visit", Decimal(-1), Decimal("99.90")),
        ],
        None,
    )
    return first, manual.header.number


def _check_documents(world: World, drafts: list[int]) -> dict[int, dict[str, Any]]:
    """Exactly one e-conomic document per draft, each with the draft's net amount to the cent."""
    documents = world.documents()
    references = sorted(d["references"]["other"] for d in documents.values())
    assert references == sorted(f"IB-{world.tenant}-{n}" for n in drafts)
    headers = world.headers()
    by_draft = {}
    for number in drafts:
        assert headers[number].status == EXPORTED
        doc = documents[headers[number].accounting["documentNumber"]]
        assert Decimal(str(doc["netAmount"])) == headers[number].totals.net
        by_draft[number] = doc
    return by_draft


def test_edited_and_manual_drafts_are_exported_once_each_across_a_redelivery_with_their_lines(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=2)
    edited, manual = _edit_and_add(world)
    drafts = [*world.drafts, manual]
    started = world.start()
    assert started["drafts"] == drafts
    text = world.message_for(started["jobId"])
    fail_creates_from(economic, 2)  # the first document is created, then e-conomic goes away

    with pytest.raises(EconomicUnavailable):
        world.run(started["jobId"], text=text)
    economic.clear_failures()
    # Held by the job until it ends: an edit now could change a draft whose document exists already.
    held: Draft = world.container.invoicing.get(world.tenant, manual)
    with pytest.raises(Conflict):
        world.container.editing.delete_line(world.tenant, manual, ["*"], held.lines[0].line_id)
    job = world.run(started["jobId"], text=text, dequeue_count=2)
    late = world.run(started["jobId"], text=text, dequeue_count=3)  # a duplicate delivery

    assert (job.state, late.state) == ("succeeded", "succeeded")
    docs = _check_documents(world, drafts)
    edited_lines = _lines(docs[edited])
    time = world.container.invoicing.get(world.tenant, edited).lines[0]
    assert (time.kind, time.unit_price) == ("time", Decimal(1000))
    assert edited_lines[0][1:] == ("Edited consulting", time.quantity, Decimal("1000.00"))  # hours x the new rate
    assert edited_lines[-1] == ("KM", "Mileage (October 2026) (42.5 x 3.51)", Decimal(1), Decimal("149.18"))
    assert not any(text.startswith("Surcharge") and "Work item 0" in text for _, text, _, _ in edited_lines)
    assert _lines(docs[manual]) == [
        ("2", "Support retainer", Decimal(1), Decimal("750.00")),
        ("2", "Credit: late visit", Decimal(-1), Decimal("99.90")),
    ]
    assert world.headers()[manual].totals.net == Decimal("650.10")
    with pytest.raises(Rejected):  # exported: no longer editable
        world.container.editing.add_line(world.tenant, manual, ["*"], LineSpec("1", "More", Decimal(1), Decimal(1)))

    booked = world.agreement.book(int(world.headers()[manual].accounting["documentNumber"]))
    result = world.container.invoice_sync.run(world.tenant)

    assert {b.draft: b.invoice_number for b in result.booked} == {manual: booked["bookedInvoiceNumber"]}
    header = world.headers()[manual]
    assert header.status == BOOKED
    assert header.accounting["booked"]["netAmount"] == "650.10"  # e-conomic's amount, to the cent
    again = world.container.invoice_sync.run(world.tenant)
    assert again.booked == ()  # recorded once


def test_a_grouped_export_keeps_manual_lines_as_lines_of_their_own(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=2)
    edited, manual = _edit_and_add(world)

    job = world.run(world.start(groupInvoiceLines=True)["jobId"])

    assert job.state == "succeeded"
    docs = _check_documents(world, [*world.drafts, manual])
    assert [text for _, text, _, _ in _lines(docs[manual])] == ["Support retainer", "Credit: late visit"]
    assert _lines(docs[edited])[-1][0] == "KM"


def test_a_manual_line_on_a_product_e_conomic_lacks_is_named_before_anything_is_created(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=1)
    world.container.editing.create(world.tenant, 1, OCT, [LineSpec("NOPE-9", "Gadget", Decimal(1), Decimal(5))], None)

    with pytest.raises(Rejected) as caught:
        world.start()

    assert {(e.field, e.message) for e in caught.value.errors} == {
        ("economic.product", "Product not found in e-conomic with product code: NOPE-9")
    }
    assert world.documents() == {}


def test_a_draft_whose_every_line_was_deleted_is_named_before_anything_is_created(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=2)
    emptied = world.drafts[0]
    editor, tenant = world.container.editing, world.tenant
    draft = world.container.invoicing.get(tenant, emptied)
    for line in [line for line in draft.lines if line.kind == "time"]:
        draft = editor.delete_line(tenant, emptied, [version_tag(draft.header)], line.line_id)
    assert draft.lines == ()

    with pytest.raises(Rejected) as caught:
        world.start()

    assert {(e.field, e.message) for e in caught.value.errors} == {
        ("lines", f"Invoice draft {emptied} has no lines: add a line, or delete the draft")
    }
    assert world.documents() == {}
    job = world.run(world.start(invoicesToOmit=[emptied])["jobId"])  # the others go once it is left out
    assert job.state == "succeeded", job.errors
    assert len(world.documents()) == len(world.drafts) - 1
