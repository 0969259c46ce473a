"""Recorded work: activity recordings and position notes of a tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, NamedTuple

Kind = Literal["ActivityRecording", "PositionNote"]
ACTIVITY_RECORDING: Kind = "ActivityRecording"
POSITION_NOTE: Kind = "PositionNote"


class BilledIn(NamedTuple):
    """Where a billed note stands: the live invoice draft it is in, and e-conomic's invoice number
    once that draft has been booked (None before)."""

    draft: int
    invoice_number: int | None = None


def hours(minutes: int) -> Decimal:
    """Minutes as hours, rounded half-up to hundredths."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _whole_minutes(span: timedelta) -> int:
    """Whole seconds of `span` as minutes, rounded half-up."""
    seconds = Decimal(int(span.total_seconds()))
    return int((seconds / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class WorkRecord:
    tenant: str
    record_id: str
    kind: Kind
    key_id: str
    """The connection that recorded it."""
    recorded_by: str
    created_at: datetime
    date_from: datetime
    """Aware, in the offset the caller gave (or the default zone's)."""
    date_to: datetime
    pause: timedelta = timedelta(0)
    no_invoice: bool = False
    extra_charge: bool = False
    quantity: Decimal | None = None
    book_text: str | None = None
    note_text: str | None = None
    hint: str | None = None
    username: str | None = None
    ticket_id: int | None = None
    ticket_position_id: int | None = None
    service_contract_id: int | None = None
    project_id: int | None = None
    project_phase_id: int | None = None
    project_phase_task_id: int | None = None
    draft_number: int | None = None
    """The invoice draft number the note was last linked to (see `shared.invoicing.ledger` for when
    that means billed); None when it never was or was released."""

    @property
    def worked(self) -> timedelta:
        # In UTC: elapsed time, whatever offsets or zones the two ends carry.
        return self.date_to.astimezone(UTC) - self.date_from.astimezone(UTC) - self.pause

    @property
    def minutes(self) -> int:
        """Worked minutes (span less pause), rounded half-up to whole minutes."""
        return _whole_minutes(self.worked)

    @property
    def pause_minutes(self) -> int:
        return _whole_minutes(self.pause)

    @property
    def hours(self) -> Decimal:
        return hours(self.minutes)

    @property
    def user_name(self) -> str:
        return self.username or self.recorded_by


@dataclass(frozen=True)
class WorkQuery:
    """What the store can filter on; free-text search and ordering happen in the service."""

    kinds: frozenset[Kind] = frozenset({ACTIVITY_RECORDING, POSITION_NOTE})
    starts_at_or_after: datetime | None = None
    ends_at_or_before: datetime | None = None
    ticket_id: int | None = None
    service_contract_id: int | None = None
    project_id: int | None = None
    no_invoice: bool | None = None

    @property
    def unfiltered(self) -> bool:
        return self == WorkQuery()


@dataclass(frozen=True)
class IndexEntry:
    """What the listing orders, filters and adds up by, copied from a record when it is written. A
    record never changes these after it is written (invoicing only adds and removes its `DraftNumber`
    and `Bill*` columns), so the copy cannot go stale."""

    record_id: str
    kind: Kind
    key_id: str
    created_at: datetime
    date_from: datetime
    date_to: datetime
    minutes: int
    no_invoice: bool
    user_name: str
    ticket_id: int | None = None
    service_contract_id: int | None = None
    project_id: int | None = None

    @staticmethod
    def of(r: WorkRecord) -> IndexEntry:
        return IndexEntry(
            record_id=r.record_id,
            kind=r.kind,
            key_id=r.key_id,
            created_at=r.created_at,
            date_from=r.date_from,
            date_to=r.date_to,
            minutes=r.minutes,
            no_invoice=r.no_invoice,
            user_name=r.user_name,
            ticket_id=r.ticket_id,
            service_contract_id=r.service_contract_id,
            project_id=r.project_id,
        )


@dataclass(frozen=True)
class WorkTotals:
    """How many records of one kind and billability a connection wrote, and their worked minutes."""

    key_id: str
    kind: Kind
    no_invoice: bool
    count: int
    minutes: int
