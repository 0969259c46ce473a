"""Steps 2 and 3 of a run of the invoice-number sync (see `shared.accounting.invoices`): the header
changes for a page of booked invoices, and where the drafts that are not booked are in e-conomic
(flagging the ones that are nowhere). They ask e-conomic (`BookedApi`) but write nothing: the run
writes what they return."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.accounting.invoices_rules import (
    BookedDraft,
    Change,
    _book,
    _booked_number,
    _by_reference,
    _flag_missing,
    _found,
    _int,
    _invoice_first,
    _negative,
    _place,
    _recheck_due,
    _reference_of,
    _then,
    booked_record,
    draft_of,
    ours,
)
from shared.accounting.ports import BookedApi
from shared.export.documents import reference_of
from shared.invoicing.ledger import EXPORTED, DraftHeader

log = logging.getLogger("invoice_bridge.accounting")


@dataclass
class Located:
    """What `locate` found: the header changes, and the drafts in each list of the result."""

    changes: dict[int, Change] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    still_missing: list[int] = field(default_factory=list)
    found_again: list[int] = field(default_factory=list)
    upgraded: list[tuple[int, int]] = field(default_factory=list)


def bookings(
    tenant: str,
    economic: BookedApi,
    documents: Sequence[Mapping[str, Any]],
    headers: Mapping[int, DraftHeader],
    booked: dict[int, BookedDraft],
    notes: list[str],
    clock: Callable[[], datetime],
) -> dict[int, Change]:
    """The header changes for the booked invoices among `documents` that carry our references."""
    changes: dict[int, Change] = {}
    known = ours(headers)
    for doc in documents:
        ref = _reference_of(doc)
        invoice = _int(doc.get("bookedInvoiceNumber"))
        if invoice is None:
            continue
        if ref is None:
            number = _invoiced_order(doc, headers)
            if number is not None:
                ref = reference_of(headers[number])
                notes.append(
                    f"e-conomic booked invoice {invoice} has no reference but names order "
                    f"{headers[number].accounting.document_number}, draft {number}'s: recorded as its invoice; "
                    "check it in e-conomic"
                )
            else:
                continue
        number = known.get(ref)
        if number is None:
            stray = draft_of(tenant, ref)
            if stray is not None:
                header = headers.get(stray)
                notes.append(
                    f"e-conomic booked invoice {invoice} carries reference {ref}, but draft {stray} is "
                    f"{'unknown' if header is None else header.status}, not exported; nothing was recorded"
                )
            continue
        header = headers[number]
        now = clock()
        first = booked[number].invoice_number if number in booked else _booked_number(header)
        if first is None and _negative(doc):
            # A credit note seen first: its invoice may be below the watermark (a number chosen by
            # hand). Ask for every booked invoice with the reference and take the invoice itself.
            found = _invoice_first(economic.find_booked(ref)) or [doc]
            change: Change | None = None
            for each in found:
                change = _then(change, _book(booked_record(each, now)))
            record = booked_record(found[0], now)
            booked[number] = BookedDraft(number, record["invoiceNumber"], record.get("date"), record.get("netAmount"))
            assert change is not None
            changes[number] = _then(changes.get(number), change)
            continue
        record = booked_record(doc, now)
        if first is None:
            booked[number] = BookedDraft(number, invoice, record.get("date"), record.get("netAmount"))
        elif first != invoice:
            notes.append(
                f"draft {number} is booked as invoice {first}; e-conomic also booked invoice {invoice} "
                "with its reference (a credit note?): recorded under accounting.alsoBooked"
            )
        changes[number] = _then(changes.get(number), _book(record))
    return changes


def _invoiced_order(doc: Mapping[str, Any], headers: Mapping[int, DraftHeader]) -> int | None:
    """The exported order-type draft a booked invoice without `references.other` was made from, by the
    booked invoice's `orderNumber`; None when there is none.

    Code for both answers: e-conomic does not document whether an invoice made of an order keeps the
    order's `references.other` (e-conomic/slate@8abdb42 _orders.md), and its booked-invoice schema has no
    field naming the order (economic-schemas/invoices.booked.get.schema.json: no `orderNumber`), though
    issue 15 (item 12) says booked invoices carry `orderNumber`. If one does, it is used, and only for an
    invoice dated on or after the draft's export (order numbers are reused, like draft numbers)."""
    order = _int(doc.get("orderNumber"))
    when = doc.get("date")
    if order is None or not isinstance(when, str):
        return None
    for number, header in headers.items():
        accounting = header.accounting
        if (
            header.status == EXPORTED
            and accounting.document_type == "order"
            and accounting.document_number == order
            and str(accounting.invoice_date or "") <= when
        ):
            return number
    return None


def locate(
    tenant: str,
    economic: BookedApi,
    still: Mapping[int, DraftHeader],
    headers: Mapping[int, DraftHeader],
    booked: dict[int, BookedDraft],
    notes: list[str],
    clock: Callable[[], datetime],
) -> Located:
    """Where the drafts that are not booked are in e-conomic; flags the ones that are nowhere.

    Documents move one way: order draft -> sent order -> invoice draft -> booked invoice (or are
    deleted). The listings are read in that order, and a draft missing from them is looked up by its
    reference in that order too (listings are paged, and a page can shift while it is read), so a
    document that moves while we look is seen in its next place, never nowhere."""
    orders: dict[str, int] = {}
    if any(h.accounting.document_type == "order" for h in still.values()):
        orders = _by_reference([*economic.list_drafts("order"), *economic.sent_orders()], "orderNumber")
    invoice_drafts = _by_reference(economic.list_drafts("draftInvoice"), "draftInvoiceNumber")
    located = Located()
    now = clock()
    for number, header in sorted(still.items()):
        ref = reference_of(header)
        kind = str(header.accounting.document_type or "draftInvoice")
        flagged = "missing" in header.accounting
        place = _place(ref, kind, orders, invoice_drafts)
        if place is None and flagged and not _recheck_due(header, now):
            located.still_missing.append(number)  # looked up by its reference less than a day ago
            continue
        place = place or search(economic, ref, kind)
        if place is not None and place[0] != "booked" and isinstance(place[1], int):
            upgraded_to = place[1] if kind == "order" and place[0] == "draftInvoice" else None
            if upgraded_to is not None and (header.accounting.upgraded_to or {}).get("documentNumber") != upgraded_to:
                located.upgraded.append((number, upgraded_to))
            if flagged:
                located.found_again.append(number)
            located.changes[number] = _found(upgraded_to)
            continue
        found = _invoice_first(place[1]) if place is not None and isinstance(place[1], list) else []
        if found:  # booked while we read, or under a number below the watermark
            record = booked_record(found[0], now)
            booked[number] = BookedDraft(number, record["invoiceNumber"], record.get("date"), record.get("netAmount"))
            change: Change | None = None
            for each in found:
                change = _then(change, _book(booked_record(each, now)))
            assert change is not None
            located.changes[number] = change
            continue
        document = f"{'order' if kind == 'order' else 'draft invoice'} {header.accounting.document_number}"
        reason = (
            f"e-conomic has neither {document} nor a booked invoice with reference {ref}: "
            "it was deleted there without being booked"
        )
        if kind == "order":
            # e-conomic does not document whether an invoice made of an order keeps references.other
            # (e-conomic/slate@8abdb42 _orders.md), so say what a person must check before reopening.
            reason = (
                f"e-conomic has neither {document} (as an order, sent or archived order) nor an invoice draft "
                f"or booked invoice with reference {ref}: it was deleted there, or invoiced under another "
                "reference; check e-conomic's invoices for this order before reopening the draft"
            )
        if flagged:
            located.still_missing.append(number)
        else:
            located.missing.append(number)
            log.warning("Accounting sync of %s: draft %d: %s", tenant, number, reason)
        located.changes[number] = _flag_missing(now, reason)
    return located


def search(economic: BookedApi, ref: str, kind: str) -> tuple[str, int | list[dict[str, Any]]] | None:
    """Where the document with this reference is now, asked place by place in the direction documents
    move: (place, its number), or ("booked", the booked invoices); None when it is nowhere."""
    if kind == "order":
        for doc in economic.find_drafts("order", ref):
            return "order", _int(doc.get("orderNumber")) or 0
        for doc in economic.find_sent_orders(ref):
            return "order", _int(doc.get("orderNumber")) or 0
    for doc in economic.find_drafts("draftInvoice", ref):
        return "draftInvoice", _int(doc.get("draftInvoiceNumber")) or 0
    found = economic.find_booked(ref)
    if found:
        return "booked", found
    if kind == "order":
        # A sent order upgraded to an invoice draft is archived (e-conomic/slate@8abdb42 _orders.md,
        # upgrade-instructions), as is one deleted once sent (Tech Talk, "Orders are now available on the
        # REST API"): either way not proof of a deletion, and the invoice may not carry our reference
        # (undocumented). Asked last: the invoice draft or booked invoice, if found, says more.
        for doc in economic.find_archived_orders(ref):
            return "archived", _int(doc.get("orderNumber")) or 0
    return None
