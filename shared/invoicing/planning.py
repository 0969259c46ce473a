"""Pure invoicing rules: periods, pricing, and which notes become which lines of which draft.

Nothing here touches storage, so the rules can be checked exhaustively (tests/unit/test_invoicing_properties.py).

Rules
- A period is a calendar month in the tenant's zone (`DEFAULT_TIMEZONE`). A note belongs to the
  month in which it *starts* (its `dateFrom`, in that zone): a note from 31 Oct 22:00 to 1 Nov 02:00
  is October's, whole, and can never fall between two months.
- Billable: position notes with `noInvoice` false. Activity recordings are not billed here.
- Customer: through `serviceContractID` when the note has one, else through `ticketID` (the
  ticket's contract prices it). Anything missing on the way leaves the note unresolved, with why.
- Minutes: (dateTo - dateFrom) - pause, measured in UTC, rounded *up* to the contract's rounding
  increment (a started increment is billed: 61 minutes with a 15-minute increment bill as 75).
- Amount: minutes / 60 x hourly rate, rounded half-up to cents, per line.
- Surcharge (`extraCharge` notes, contract percent > 0): its own line, the time line's amount x
  percent / 100, rounded half-up to cents. A 0 % contract adds no line.
- Manual lines (`ManualLine`: supplies, fixed fees) are added by hand to open drafts: quantity x
  unit price, each with at most 2 decimals, rounded half-up to cents.
- Edits of a note's lines keep the note linked: a new hourly rate reprices the time line (and its
  surcharge, by the same rules); a new text replaces the generated one.
- A draft's total is the sum of its lines.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from shared.invoicing.directory import Contract, Customer, Directory
from shared.work import POSITION_NOTE, WorkRecord, hours

CENT = Decimal("0.01")
_PERIOD = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not (2000 <= self.year <= 2099 and 1 <= self.month <= 12):
            raise ValueError("must be a month YYYY-MM between 2000-01 and 2099-12")

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.fullmatch(text.strip())
        if not match:
            raise ValueError("must be a month written YYYY-MM, e.g. 2026-10")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: datetime, tz: ZoneInfo) -> Period:
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def start(self, tz: ZoneInfo) -> datetime:
        """Local midnight of the first day, as an aware UTC datetime."""
        return datetime(self.year, self.month, 1, tzinfo=tz).astimezone(UTC)

    def end(self, tz: ZoneInfo) -> datetime:
        """Exclusive: the start of the next month (for 2099-12 that is in 2100, a month no Period is)."""
        following = datetime(self.year + self.month // 12, self.month % 12 + 1, 1, tzinfo=tz)
        return following.astimezone(UTC)


def billable_minutes(note: WorkRecord, rounding_minutes: int) -> int:
    """Span minus pause, rounded up to a multiple of the increment (0 if there is nothing to bill)."""
    seconds = int(note.worked.total_seconds())
    if seconds <= 0:
        return 0
    step = 60 * max(1, rounding_minutes)
    return -(-seconds // step) * max(1, rounding_minutes)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def time_amount(minutes: int, hourly_rate: Decimal) -> Decimal:
    return money(Decimal(minutes) * hourly_rate / 60)


def surcharge_amount(amount: Decimal, percent: Decimal) -> Decimal:
    return money(amount * percent / 100)


@dataclass(frozen=True)
class NoteBilling:
    """What a billed note carries: the draft it is in and the price it was billed at (a snapshot, so a
    later change of the contract does not change a draft)."""

    draft_number: int
    customer_id: int
    contract_id: int
    product_number: str
    hourly_rate: Decimal
    minutes: int
    amount: Decimal
    surcharge_percent: Decimal | None = None
    surcharge: Decimal | None = None
    description: str | None = None
    """The time line's text as edited (None: generated from the note)."""
    surcharge_description: str | None = None
    """The surcharge line's text as edited (None: generated)."""

    def repriced(self, hourly_rate: Decimal) -> NoteBilling:
        """The same note at another hourly rate: amount and surcharge follow by the rules above."""
        amount = time_amount(self.minutes, hourly_rate)
        surcharge = surcharge_amount(amount, self.surcharge_percent) if self.surcharge_percent is not None else None
        return replace(self, hourly_rate=hourly_rate, amount=amount, surcharge=surcharge)


def price(note: WorkRecord, contract: Contract, draft_number: int = 0) -> NoteBilling:
    minutes = billable_minutes(note, contract.rounding_minutes)
    amount = time_amount(minutes, contract.hourly_rate)
    with_surcharge = note.extra_charge and contract.surcharge_percent > 0
    return NoteBilling(
        draft_number=draft_number,
        customer_id=contract.customer_id,
        contract_id=contract.contract_id,
        product_number=contract.product_number,
        hourly_rate=contract.hourly_rate,
        minutes=minutes,
        amount=amount,
        surcharge_percent=contract.surcharge_percent if with_surcharge else None,
        surcharge=surcharge_amount(amount, contract.surcharge_percent) if with_surcharge else None,
    )


LineKind = Literal["time", "surcharge", "manual"]


@dataclass(frozen=True)
class Line:
    kind: LineKind
    note_id: str
    date: date
    """The note's start date in the tenant's zone."""
    ticket_id: int | None
    user: str
    hint: str
    minutes: int
    hours: Decimal
    rate: Decimal
    """Hourly rate (time lines) or percent (surcharge lines)."""
    amount: Decimal
    product_number: str
    contract_id: int | None
    """None on manual lines."""
    description: str
    line_id: str = ""
    """Stable within the draft: `time:<noteId>`, `surcharge:<noteId>` or `manual:<n>`."""
    quantity: Decimal = Decimal(0)
    """Hours (time lines), 1 (surcharge lines), or the manual line's quantity."""
    unit_price: Decimal = Decimal(0)
    """Hourly rate (time lines), the amount (surcharge lines), or the manual line's unit price."""
    period: Period | None = None
    """The note's month, or the manual line's optional period."""
    edited: bool = False
    """A note line whose text was changed by hand (`description` is that text, not generated)."""


@dataclass(frozen=True)
class ManualLine:
    """A line added by hand (not from a note). It carries the number of the draft it was added to and,
    like a note, belongs to whatever live draft that number resolves to (merges included)."""

    number: int
    """Per tenant, never reused: the `<n>` of `manual:<n>`."""
    draft_number: int
    product_number: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    period: Period | None
    created_at: datetime
    version: object | None = None

    @property
    def amount(self) -> Decimal:
        return money(self.quantity * self.unit_price) + 0  # + 0: a zero is 0.00, never -0.00

    def line(self, tz: ZoneInfo) -> Line:
        return Line(
            "manual",
            "",
            self.created_at.astimezone(tz).date(),
            None,
            "",
            "",
            0,
            Decimal(0),
            self.unit_price,
            self.amount,
            self.product_number,
            None,
            self.description,
            f"manual:{self.number}",
            self.quantity,
            self.unit_price,
            self.period,
        )


def lines_of(note: WorkRecord, billing: NoteBilling, tz: ZoneInfo) -> list[Line]:
    day = note.date_from.astimezone(tz).date()
    month = Period(day.year, day.month) if 2000 <= day.year <= 2099 else None
    hint = note.hint or ""
    ticket = f"Ticket {note.ticket_id}: " if note.ticket_id is not None else ""
    base = f"{day.isoformat()} {note.user_name}: {ticket}{hint}".strip().rstrip(":")
    lines = [
        Line(
            "time",
            note.record_id,
            day,
            note.ticket_id,
            note.user_name,
            hint,
            billing.minutes,
            hours(billing.minutes),
            billing.hourly_rate,
            billing.amount,
            billing.product_number,
            billing.contract_id,
            billing.description or base,
            f"time:{note.record_id}",
            hours(billing.minutes),
            billing.hourly_rate,
            month,
            billing.description is not None,
        )
    ]
    if billing.surcharge is not None and billing.surcharge_percent is not None:
        lines.append(
            Line(
                "surcharge",
                note.record_id,
                day,
                note.ticket_id,
                note.user_name,
                hint,
                0,
                Decimal(0),
                billing.surcharge_percent,
                billing.surcharge,
                billing.product_number,
                billing.contract_id,
                billing.surcharge_description or f"Surcharge {billing.surcharge_percent.normalize():f} % on {base}",
                f"surcharge:{note.record_id}",
                Decimal(1),
                billing.surcharge,
                month,
                billing.surcharge_description is not None,
            )
        )
    return lines


@dataclass(frozen=True)
class Unresolved:
    note_id: str
    field: str
    reason: str


@dataclass(frozen=True)
class DraftPlan:
    customer: Customer
    period: Period
    items: tuple[tuple[WorkRecord, NoteBilling], ...]
    """Notes in start order, each with its price (draft number still 0)."""


@dataclass(frozen=True)
class RunPlan:
    drafts: tuple[DraftPlan, ...]
    """One per customer, in customer id order."""
    unresolved: tuple[Unresolved, ...]


def is_billable(note: WorkRecord, period: Period, tz: ZoneInfo) -> bool:
    return note.kind == POSITION_NOTE and not note.no_invoice and Period.containing(note.date_from, tz) == period


def resolve(note: WorkRecord, directory: Directory) -> tuple[Contract | None, Unresolved | None]:
    def fail(field: str, reason: str) -> tuple[None, Unresolved]:
        return None, Unresolved(note.record_id, field, reason)

    if note.service_contract_id is not None:
        contract = directory.contracts.get(note.service_contract_id)
        if contract is None:
            return fail("serviceContractID", f"service contract {note.service_contract_id} is not in the directory")
    elif note.ticket_id is not None:
        ticket = directory.tickets.get(note.ticket_id)
        if ticket is None:
            return fail("ticketID", f"ticket {note.ticket_id} is not in the directory")
        if ticket.contract_id is None:
            return fail("ticketID", f"ticket {note.ticket_id} has no service contract to price it")
        contract = directory.contracts.get(ticket.contract_id)
        if contract is None:
            return fail("ticketID", f"ticket {note.ticket_id}'s service contract {ticket.contract_id} is missing")
    else:
        return fail("serviceContractID", "the note has neither a serviceContractID nor a ticketID")
    if contract.customer_id not in directory.customers:
        return fail(
            "serviceContractID", f"customer {contract.customer_id} of contract {contract.contract_id} is missing"
        )
    return contract, None


def plan_run(notes: Iterable[WorkRecord], directory: Directory, period: Period, tz: ZoneInfo) -> RunPlan:
    """Drafts for the billable notes of `period` among `notes` (which must be unbilled ones), one per
    customer, and the billable notes that could not be resolved to a customer and a price."""
    per_customer: dict[int, list[tuple[WorkRecord, NoteBilling]]] = defaultdict(list)
    unresolved: list[Unresolved] = []
    for note in sorted(notes, key=lambda n: (n.date_from.astimezone(UTC), n.record_id)):
        if not is_billable(note, period, tz):
            continue
        contract, problem = resolve(note, directory)
        if contract is None:
            assert problem is not None
            unresolved.append(problem)
            continue
        per_customer[contract.customer_id].append((note, price(note, contract)))
    drafts = tuple(
        DraftPlan(directory.customers[customer_id], period, tuple(items))
        for customer_id, items in sorted(per_customer.items())
    )
    return RunPlan(drafts, tuple(unresolved))


def default_period(now: datetime, tz: ZoneInfo) -> Period:
    """The month before the one `now` falls in (in the tenant's zone)."""
    return Period.containing(now, tz).previous()
