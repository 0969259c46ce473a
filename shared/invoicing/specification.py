"""The specification of invoice drafts: the hours behind each draft, one row per position note it bills
(as the note was recorded: when, who, ticket, contract, minutes, pause, text; and how it was billed:
billable minutes, rate, amount, surcharge), plus the draft's other (manual) lines. Rendered as PDF
(`specification_pdf.py`) and CSV (`specification_csv.py`).

One read serves any number of drafts: the draft headers once, then the notes carrying any of their
numbers (and of the drafts merged into them), then, only for drafts that have some, their manual lines
(one query; the notes are never read twice). Only live drafts (open, exported, booked) have a
specification; at most `MAX_DRAFTS` drafts and `MAX_NOTES` notes per request, so an answer stays
bounded (a larger set is refused naming the field, never cut short silently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.errors import FieldError, NotFound, Rejected
from shared.invoicing.ledger import LIVE, BilledNote, DraftHeader, members, resolve_number, status_text
from shared.invoicing.planning import Line
from shared.invoicing.ports import Ledger
from shared.invoicing.service import InvoicingService

MAX_DRAFTS = 100
MAX_NOTES = 20_000
"""Notes in one specification: a CSV of 20,000 notes with 100-character texts is about 4 MB; with every
text at its limit (hint 1,000 characters, names 256) about 33 MB (bench/specification.py)."""


@dataclass(frozen=True)
class NoteRow:
    """One billed position note."""

    note_id: str
    start: datetime
    """In the tenant's zone."""
    end: datetime
    user: str
    ticket_id: int | None
    contract_id: int
    minutes: int
    """Worked: the span less the pause, whole minutes."""
    pause: int
    """Pause in whole minutes."""
    billable_minutes: int
    """What was billed: the worked minutes rounded up to the contract's increment."""
    rate: Decimal
    amount: Decimal
    """The time line's amount."""
    surcharge_percent: Decimal | None
    surcharge: Decimal | None
    product_number: str
    text: str
    """The note's hint (what was done)."""


@dataclass(frozen=True)
class OtherRow:
    """A line of the draft that bills no note (a manual line)."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    product_number: str


@dataclass(frozen=True)
class DraftSpecification:
    header: DraftHeader
    notes: tuple[NoteRow, ...]
    """By start, then note id."""
    other: tuple[OtherRow, ...] = ()

    @property
    def minutes(self) -> int:
        return sum(n.minutes for n in self.notes)

    @property
    def pause(self) -> int:
        return sum(n.pause for n in self.notes)

    @property
    def billable_minutes(self) -> int:
        return sum(n.billable_minutes for n in self.notes)


def note_row(note: BilledNote, tz: ZoneInfo) -> NoteRow:
    record, billing = note.record, note.billing
    assert billing is not None
    return NoteRow(
        note_id=record.record_id,
        start=record.date_from.astimezone(tz),
        end=record.date_to.astimezone(tz),
        user=record.user_name,
        ticket_id=record.ticket_id,
        contract_id=billing.contract_id,
        minutes=record.minutes,
        pause=record.pause_minutes,
        billable_minutes=billing.minutes,
        rate=billing.hourly_rate,
        amount=billing.amount,
        surcharge_percent=billing.surcharge_percent,
        surcharge=billing.surcharge,
        product_number=billing.product_number,
        text=record.hint or "",
    )


def other_row(line: Line) -> OtherRow:
    """A manual line as the specification lists it."""
    return OtherRow(
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        amount=line.amount,
        product_number=line.product_number,
    )


class Specifications:
    def __init__(self, ledger: Ledger, invoicing: InvoicingService, *, timezone: ZoneInfo) -> None:
        self._ledger = ledger
        self._invoicing = invoicing
        self._tz = timezone

    def read(self, tenant: str, numbers: Sequence[int], *, field: str) -> list[DraftSpecification]:
        """The specifications of these drafts, in the order asked (each once). `field` names the input in
        errors: `draftId` (one draft: 404 when it does not exist) or `draftIds` (422 for each draft that
        does not exist or is not live)."""
        wanted = list(dict.fromkeys(numbers))
        if not 1 <= len(wanted) <= MAX_DRAFTS:
            raise Rejected("Name 1 to 100 drafts.", [FieldError(field, f"must name 1 to {MAX_DRAFTS} drafts")])
        headers = self._invoicing.repair(tenant)
        if field == "draftId" and wanted[0] not in headers:
            raise NotFound(f"No invoice draft {wanted[0]}.", [FieldError(field, f"no draft {wanted[0]}")])
        errors = []
        for number in wanted:
            header = headers.get(number)
            if header is None:
                errors.append(FieldError(field, f"draft {number} does not exist"))
            elif header.status not in LIVE:
                errors.append(
                    FieldError(field, f"draft {number} is {status_text(header)}; only open, exported or booked drafts")
                )
        if errors:
            raise Rejected("Only live drafts (open, exported, booked) have a specification.", errors)
        numbers_carried = set().union(*(members(n, headers) for n in wanted))
        billed: dict[int, list[NoteRow]] = {n: [] for n in wanted}
        count = 0
        for note in self._ledger.notes_of(tenant, numbers_carried):
            if note.billing is None:
                continue
            live = resolve_number(note.billing.draft_number, headers)
            if live in billed:
                billed[live].append(note_row(note, self._tz))
                count += 1
        if count > MAX_NOTES:
            raise Rejected(
                f"The drafts bill {count:,} notes; a specification holds at most {MAX_NOTES:,}.",
                [FieldError(field, f"the drafts bill {count:,} notes, at most {MAX_NOTES:,}: ask for fewer drafts")],
            )
        other = self._other_lines(tenant, wanted, headers, billed)
        rows = count + sum(len(lines) for lines in other.values())
        if rows > MAX_NOTES:  # manual lines are rows too (a merge may gather many)
            raise Rejected(
                f"The drafts have {rows:,} notes and manual lines; a specification holds at most {MAX_NOTES:,}.",
                [FieldError(field, f"the drafts have {rows:,} notes and lines, at most {MAX_NOTES:,}: ask for fewer")],
            )
        return [
            DraftSpecification(
                headers[n], tuple(sorted(billed[n], key=lambda r: (r.start, r.note_id))), tuple(other.get(n, ()))
            )
            for n in wanted
        ]

    def _other_lines(
        self, tenant: str, wanted: list[int], headers: dict[int, DraftHeader], billed: dict[int, list[NoteRow]]
    ) -> dict[int, list[OtherRow]]:
        """Lines that bill no note (manual lines), read only for drafts whose totals count more lines
        than their notes make (a time line each, and a surcharge line for those with a surcharge)."""
        more = [
            n
            for n in wanted
            if headers[n].totals.lines > sum(1 + (row.surcharge is not None) for row in billed[n])
            or headers[n].totals.manual != 0
        ]
        if not more:
            return {}
        lines = self._invoicing.manual_lines_for(tenant, more, headers)  # the notes are read already
        return {n: [other_row(line) for line in lines[n]] for n in more}
