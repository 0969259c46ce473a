"""The records and pure rules of the invoice-number sync (`shared.accounting.invoices`): what a run
reports, which references are ours, what we keep of a booked invoice, and how each finding changes a
draft's header (booked, found again, flagged missing). No I/O: every function works on values it is given."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.export.documents import REFERENCE_PREFIX, reference_of
from shared.invoicing.ledger import BOOKED, EXPORTED, DraftHeader

RECHECK_MISSING = timedelta(hours=24)
"""How often a flagged draft is looked up by its reference again (each lookup is up to four requests;
the listings, read every run anyway, still show a document that turns up as a draft)."""
CENT = Decimal("0.01")
_NUMBER = re.compile(r"[1-9][0-9]{0,17}", re.ASCII)


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookedDraft:
    draft: int
    invoice_number: int
    date: str | None
    net_amount: str | None


@dataclass(frozen=True)
class SyncResult:
    tenant: str
    trigger: str
    started_at: datetime
    finished_at: datetime
    waiting: int
    """Exported drafts not booked yet when the run started."""
    booked: tuple[BookedDraft, ...] = ()
    missing: tuple[int, ...] = ()
    """Drafts newly flagged: deleted in e-conomic without being booked."""
    still_missing: tuple[int, ...] = ()
    found_again: tuple[int, ...] = ()
    upgraded: tuple[tuple[int, int], ...] = ()
    """(draft, e-conomic invoice draft number) of orders newly seen upgraded to an invoice draft."""
    still_waiting: int = 0
    pages: int = 0
    watermark_before: int | None = None
    watermark_after: int | None = None
    notes: tuple[str, ...] = ()
    """Things a person should look at (a second booked invoice with our reference, ...)."""
    complete: bool = True
    """False: the run stopped at its time limit after a page; what it read is recorded, the next run
    continues from there (and only a complete run looks for drafts deleted in e-conomic)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "trigger": self.trigger,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat(),
            "waiting": self.waiting,
            "booked": [
                {"draftId": b.draft, "invoiceNumber": b.invoice_number, "date": b.date, "netAmount": b.net_amount}
                for b in self.booked
            ],
            "missing": list(self.missing),
            "stillMissing": list(self.still_missing),
            "foundAgain": list(self.found_again),
            "upgraded": [{"draftId": d, "draftInvoiceNumber": n} for d, n in self.upgraded],
            "stillWaiting": self.still_waiting,
            "pages": self.pages,
            "watermarkBefore": self.watermark_before,
            "watermarkAfter": self.watermark_after,
            "notes": list(self.notes),
            "complete": self.complete,
        }


# -- rules -----------------------------------------------------------------------------------------

Change = Callable[[DraftHeader], DraftHeader | None]
"""A header's new value given its current one (None: leave it)."""


def draft_of(tenant: str, ref: str | None) -> int | None:
    """The tenant's draft number in a document's `references.other` (`IB-<tenant>-17` -> 17); None if
    it is not the tenant's. Drafts exported before references named the tenant are matched through
    `ours` (their `IB-17` alone could be another tenant's)."""
    prefix = f"{REFERENCE_PREFIX}{tenant}-"
    if not ref or not ref.startswith(prefix) or not _NUMBER.fullmatch(ref[len(prefix) :]):
        return None
    return int(ref[len(prefix) :])


def ours(headers: Mapping[int, DraftHeader]) -> dict[str, int]:
    """The references of the drafts that have a document in e-conomic (exported or booked), to their numbers."""
    return {reference_of(h): n for n, h in headers.items() if h.status in (EXPORTED, BOOKED)}


def booked_record(doc: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What we keep of a booked invoice: number, date, due date, currency and amounts (decimal strings)."""
    record: dict[str, Any] = {"invoiceNumber": _int(doc.get("bookedInvoiceNumber"))}
    for key in ("date", "dueDate", "currency"):
        if isinstance(doc.get(key), str):
            record[key] = doc[key]
    for key in ("netAmount", "vatAmount", "grossAmount"):
        amount = _decimal(doc.get(key))
        if amount is not None:
            record[key] = str(amount)
    record["recordedAt"] = now.isoformat()
    return record


def _book(record: Mapping[str, Any]) -> Change:
    number = record["invoiceNumber"]

    def change(header: DraftHeader) -> DraftHeader | None:
        accounting = header.accounting.changed(missing=None)
        current = accounting.booked
        if header.status == EXPORTED or (header.status == BOOKED and current is None):
            return replace(header, status=BOOKED, accounting=accounting.changed(booked=dict(record)))
        if header.status != BOOKED or current is None or current.get("invoiceNumber") == number:
            return None
        others = accounting.also_booked
        if any(o.get("invoiceNumber") == number for o in others):
            return None
        return replace(header, accounting=accounting.changed(also_booked=(*others, dict(record))))

    return change


def _found(upgraded_to: int | None) -> Change:
    def change(header: DraftHeader) -> DraftHeader | None:
        if header.status != EXPORTED:
            return None
        accounting = header.accounting.changed(missing=None)
        if upgraded_to is not None:
            accounting = accounting.changed(upgraded_to={"documentType": "draftInvoice", "documentNumber": upgraded_to})
        return replace(header, accounting=accounting)

    return change


def _flag_missing(now: datetime, reason: str) -> Change:
    """Flags the draft (or, flagged already, records when it was last looked for)."""

    def change(header: DraftHeader) -> DraftHeader | None:
        if header.status != EXPORTED:
            return None
        earlier = header.accounting.missing
        if isinstance(earlier, Mapping):
            missing = {**earlier, "checkedAt": now.isoformat()}
        else:
            missing = {"since": now.isoformat(), "reason": reason, "checkedAt": now.isoformat()}
        return replace(header, accounting=header.accounting.changed(missing=missing))

    return change


def _recheck_due(header: DraftHeader, now: datetime) -> bool:
    missing = header.accounting.missing
    last = (missing.get("checkedAt") or missing.get("since")) if isinstance(missing, Mapping) else None
    try:
        return last is None or now - datetime.fromisoformat(str(last)) >= RECHECK_MISSING
    except (TypeError, ValueError):
        return True


def _then(first: Change | None, second: Change) -> Change:
    if first is None:
        return second

    def change(header: DraftHeader) -> DraftHeader | None:
        middle = first(header) or header
        return second(middle) or (middle if middle is not header else None)

    return change


def _place(
    ref: str, kind: str, orders: Mapping[str, int], invoice_drafts: Mapping[str, int]
) -> tuple[str, int | list[dict[str, Any]]] | None:
    if kind == "order" and ref in orders:
        return "order", orders[ref]
    if ref in invoice_drafts:
        return "draftInvoice", invoice_drafts[ref]
    return None


def _negative(doc: Mapping[str, Any]) -> bool:
    amount = _decimal(doc.get("grossAmount"))
    if amount is None:
        amount = _decimal(doc.get("netAmount"))
    return amount is not None and amount < 0


def _invoice_first(documents: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Booked invoices with one reference, the invoice itself first: the lowest number that is not a
    credit (negative) note, then the rest by number."""
    numbered = [d for d in documents if _int(d.get("bookedInvoiceNumber")) is not None]
    return sorted(numbered, key=lambda d: (_negative(d), _int(d.get("bookedInvoiceNumber")) or 0))


def _booked_number(header: DraftHeader) -> int | None:
    booked = header.accounting.booked
    return _int(booked.get("invoiceNumber")) if isinstance(booked, Mapping) else None


def _oldest_invoice_date(headers: Iterable[DraftHeader]) -> date:
    dates = []
    for header in headers:
        text = header.accounting.invoice_date or str(header.accounting.exported_at or "")[:10]
        try:
            dates.append(date.fromisoformat(str(text)))
        except ValueError:
            dates.append(header.created_at.date())
    return min(dates)


def _by_reference(documents: Sequence[Mapping[str, Any]], number_field: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for doc in documents:
        ref = _reference_of(doc)
        number = _int(doc.get(number_field))
        if ref is not None and number is not None:
            found.setdefault(ref, number)
    return found


def _reference_of(doc: Mapping[str, Any]) -> str | None:
    value = (doc.get("references") or {}).get("other")
    return str(value) if value is not None else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        return None
    try:
        return Decimal(value).quantize(CENT)
    except (InvalidOperation, ValueError):
        return None
