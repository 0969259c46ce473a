"""Draft headers, the notes they bill, and the storage Protocol the invoicing service needs.

A note is billed iff it carries a draft number that resolves to a live draft: follow `merged_into`
from the number it carries until a draft that was not merged; that draft must be `open`, `exported`
or `booked`. A note pointing at a `void` or `deleted` draft is unbilled, whatever else it carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from shared.errors import FieldError
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.directory import Customer
from shared.invoicing.planning import Line, ManualLine, NoteBilling, Period
from shared.work import WorkRecord

Status = Literal["pending", "open", "exported", "booked", "void", "merged", "deleted"]
PENDING: Status = "pending"
"""Being written by a run: its notes are being linked. Voided by the next run once its lease is over."""
OPEN: Status = "open"
EXPORTED: Status = "exported"
"""In e-conomic as a draft invoice or order (`shared.export`), not booked yet."""
BOOKED: Status = "booked"
"""Booked in e-conomic: `accounting.booked` holds the invoice number, date and amounts
(`shared.accounting.invoices`)."""
VOID: Status = "void"
"""A run's draft that crashed (or lost every note to a concurrent run): its number is retired."""
MERGED: Status = "merged"
DELETED: Status = "deleted"
LIVE: frozenset[str] = frozenset({OPEN, EXPORTED, BOOKED})
STATUSES: tuple[Status, ...] = (PENDING, OPEN, EXPORTED, BOOKED, VOID, MERGED, DELETED)


@dataclass(frozen=True)
class Totals:
    minutes: int = 0
    time: Decimal = Decimal("0.00")
    surcharges: Decimal = Decimal("0.00")
    notes: int = 0
    lines: int = 0
    manual: Decimal = Decimal("0.00")
    """Sum of the manual lines."""

    @property
    def net(self) -> Decimal:
        return self.time + self.surcharges + self.manual

    @classmethod
    def of(cls, billings: Sequence[NoteBilling], manual: Sequence[ManualLine] = ()) -> Totals:
        """The totals of a draft's lines, to the cent: each line is rounded, then summed."""
        surcharges = [b.surcharge for b in billings if b.surcharge is not None]
        return cls(
            minutes=sum(b.minutes for b in billings),
            time=sum((b.amount for b in billings), Decimal("0.00")),
            surcharges=sum(surcharges, Decimal("0.00")),
            notes=len(billings),
            lines=len(billings) + len(surcharges) + len(manual),
            manual=sum((m.amount for m in manual), Decimal("0.00")),
        )


@dataclass(frozen=True)
class DraftHeader:
    tenant: str
    number: int
    status: Status
    customer: Customer
    """Snapshot at the time of the run: what the export sends, even if the directory changes."""
    period_from: Period
    period_to: Period
    created_at: datetime
    updated_at: datetime
    totals: Totals = Totals()
    merged_into: int | None = None
    merged_from: tuple[int, ...] = ()
    accounting: AccountingState = field(default_factory=AccountingState)
    """e-conomic's side: the export's document, then the sync's booked invoice or `missing` flag."""
    version: object | None = None
    """The stored row's ETag; writes are conditional on it. Also the draft's version on the wire
    (`ETag`/`If-Match`): every change of the draft or its lines rewrites the header."""
    origin: str | None = None
    """The idempotency generation of the request that created a manual draft: a retry finds it."""


@dataclass(frozen=True)
class Draft:
    header: DraftHeader
    lines: tuple[Line, ...]
    """Time and surcharge lines by date, then manual lines by number; empty for drafts that are not live."""

    @property
    def totals(self) -> Totals:
        return self.header.totals


@dataclass(frozen=True)
class BilledNote:
    """A position note as stored, with its billing snapshot (None: never linked or released)."""

    record: WorkRecord
    billing: NoteBilling | None
    version: object


@dataclass(frozen=True)
class Link:
    note: BilledNote
    billing: NoteBilling


@dataclass(frozen=True)
class Rebill:
    """Rewrite a billed note's billing (edited text or rate), or release it (None), if unchanged since read."""

    note: BilledNote
    billing: NoteBilling | None


@dataclass(frozen=True)
class PutLine:
    """Create a manual line (its `version` None) or replace it if unchanged since read."""

    line: ManualLine


@dataclass(frozen=True)
class DropLine:
    """Delete a manual line if unchanged since read."""

    line: ManualLine


Change = Rebill | PutLine | DropLine
"""One row an edit of a draft writes along with its header, in the same transaction."""


def resolve_number(number: int, headers: Mapping[int, DraftHeader]) -> int | None:
    """The live draft that a note carrying `number` is billed in, or None."""
    seen = 0
    current: int | None = number
    while current is not None and seen < 1000:
        header = headers.get(current)
        if header is None:
            return None
        if header.status == MERGED:
            current = header.merged_into
            seen += 1
            continue
        return current if header.status in LIVE else None
    return None


def invoice_number(h: DraftHeader) -> int | None:
    """e-conomic's booked invoice number of the draft, once the accounting sync has seen it booked."""
    booked = h.accounting.booked if h.status == BOOKED else None
    number = booked.get("invoiceNumber") if isinstance(booked, Mapping) else None
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def members(number: int, headers: Mapping[int, DraftHeader]) -> set[int]:
    """The draft numbers whose notes are billed in draft `number` (itself and what was merged into it)."""
    return {n for n in headers if resolve_number(n, headers) == number} | {number}


def taken(note: BilledNote, headers: dict[int, DraftHeader]) -> bool:
    if note.billing is None:
        return False
    header = headers.get(note.billing.draft_number)
    if header is None or header.status == PENDING:
        return True  # another run's, in flight
    return resolve_number(note.billing.draft_number, headers) is not None


def export_job_of(header: DraftHeader) -> str | None:
    """The e-conomic export job that holds this open draft, if one does (`shared.export`)."""
    job = header.accounting.export_job if header.status == OPEN else None
    return str(job) if job else None


def billed_in(
    number: int, notes: Sequence[BilledNote], headers: dict[int, DraftHeader]
) -> list[tuple[BilledNote, NoteBilling]]:
    """The notes (with their billing) that draft `number` bills, given the `headers`."""
    return [
        (n, n.billing)
        for n in notes
        if n.billing is not None and resolve_number(n.billing.draft_number, headers) == number
    ]


def manual_in(number: int, lines: Sequence[ManualLine], headers: dict[int, DraftHeader]) -> list[ManualLine]:
    """The manual lines that draft `number` bills, given the `headers` (the rule of `billed_in`)."""
    return [m for m in lines if resolve_number(m.draft_number, headers) == number]


def not_open(numbers: Sequence[int], headers: Mapping[int, DraftHeader], field: str) -> list[FieldError]:
    """One problem, named `field`, for each of `numbers` that is not an open draft among `headers`."""
    errors = []
    for number in numbers:
        header = headers.get(number)
        if header is None:
            errors.append(FieldError(field, f"draft {number} does not exist"))
        elif header.status != OPEN:
            errors.append(FieldError(field, f"draft {number} is {status_text(header)}, not open"))
    return errors


def status_text(header: DraftHeader) -> str:
    if header.status == MERGED and header.merged_into is not None:
        return f"merged into draft {header.merged_into}"
    return str(header.status)
