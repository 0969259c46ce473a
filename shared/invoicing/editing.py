"""Manual drafts and line editing on open drafts (the rules are steps 6 and 7 of
`shared.invoicing.service`'s protocol).

- A draft's version is its header's ETag, shown on the wire as an opaque tag (`version_tag`): every
  edit names the version it was made from (`If-Match`) and is refused with `PreconditionFailed` (412)
  when the draft changed since; an edit without one is refused with `PreconditionRequired` (428).
- Lines are addressed by their stable ids: `time:<noteId>`, `surcharge:<noteId>`, `manual:<n>`.
- On a time line only the text and the hourly rate can change (amount and surcharge follow); on a
  surcharge line only the text. Deleting a time line releases its note (billable again by the next
  run); deleting a surcharge line drops only the surcharge; a manual line is removed.
- Only open drafts not held by a running export can be edited (409 held, 422 any other status).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from shared.errors import Conflict, FieldError, NotFound, PreconditionFailed, Rejected
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.ledger import (
    OPEN,
    BilledNote,
    Change,
    DraftHeader,
    DropLine,
    PutLine,
    Rebill,
    Totals,
    status_text,
)
from shared.invoicing.merging import existing
from shared.invoicing.planning import ManualLine, NoteBilling, Period, default_period
from shared.invoicing.ports import Ledger
from shared.invoicing.service import Draft, InvoicingService

T = TypeVar("T")
MAX_MANUAL_LINES = 500
"""Manual lines one draft takes by `add_line`: keeps a draft's answer, PDF and specification bounded
(a merge may gather more: the specification counts them against its own limit)."""

ANY = "*"
"""`If-Match: *`: whatever version the draft has now (RFC 9110 13.1.1)."""
TIME_FIELDS = frozenset({"description", "unitPrice"})
SURCHARGE_FIELDS = frozenset({"description"})


def version_tag(header: DraftHeader) -> str:
    """The draft's version as the wire shows it: the header's ETag, base64url, so it needs no quoting
    inside an HTTP `ETag` (Table storage's ETags hold quotes and colons: `W/"datetime'...%3A...'"`, the
    response example of https://learn.microsoft.com/en-us/rest/api/storageservices/insert-entity)."""
    return base64.urlsafe_b64encode(str(header.version).encode()).decode().rstrip("=")


def _etag_of(tag: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


@dataclass(frozen=True)
class LineSpec:
    """A manual line as asked for (validated by the wire model)."""

    product_number: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    period: Period | None = None


@dataclass(frozen=True)
class LineChange:
    """What a change of a line sets: `given` names the wire fields sent (a `period` sent as null clears it)."""

    given: frozenset[str]
    product_number: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    period: Period | None = None


@dataclass
class _State:
    header: DraftHeader
    billed: list[tuple[BilledNote, NoteBilling]]
    manual: list[ManualLine]


class DraftEditor:
    def __init__(
        self,
        invoicing: InvoicingService,
        ledger: Ledger,
        directory: DirectoryService,
        *,
        clock: Callable[[], datetime],
        timezone: ZoneInfo,
    ) -> None:
        self._invoicing = invoicing
        self._ledger = ledger
        self._directory = directory
        self._clock = clock
        self._tz = timezone

    def create(
        self, tenant: str, customer_id: int, period: Period | None, specs: Sequence[LineSpec], origin: str | None
    ) -> Draft:
        """An open draft of manual lines, in one transaction. `origin` (the request's idempotency
        generation) makes a retry of a request whose answer was lost find its draft instead of a second."""
        headers = self._invoicing.repair(tenant)
        made = [h for h in headers.values() if origin is not None and h.origin == origin]
        if made:  # the headers just read: no second repair and read of them
            return self._invoicing.draft_in(tenant, made[0].number, headers)
        customer = self._directory.load(tenant).customers.get(customer_id)
        if customer is None:
            raise Rejected(
                f"Customer {customer_id} is not in the billing directory.",
                [FieldError("customerId", f"customer {customer_id} does not exist")],
            )
        period = period or default_period(self._clock(), self._tz)
        (number,) = self._ledger.reserve(tenant, 1)
        now = self._clock()
        lines = self._new_lines(tenant, number, specs, now)
        header = DraftHeader(
            tenant=tenant,
            number=number,
            status=OPEN,
            customer=customer,
            period_from=period,
            period_to=period,
            created_at=now,
            updated_at=now,
            totals=Totals.of([], lines),
            origin=origin,
        )
        stored = self._ledger.write(header, [PutLine(line) for line in lines])
        if stored is None:  # the number exists: only if the counter was tampered with
            raise Conflict(f"Invoice draft {number} exists already (its number was handed out twice); retry.")
        return Draft(stored, self._invoicing.lines([], lines))

    def add_line(self, tenant: str, number: int, expected: Collection[str], spec: LineSpec) -> Draft:
        state = self._open(tenant, number, expected)
        if len(state.manual) >= MAX_MANUAL_LINES:
            raise Rejected(
                f"Invoice draft {number} has {len(state.manual)} manual lines, the most one draft takes.",
                [FieldError("draftId", f"draft {number} has {MAX_MANUAL_LINES} manual lines already")],
            )
        (line,) = self._new_lines(tenant, number, [spec], self._clock())
        state.manual.append(line)
        return self._commit(state, [PutLine(line)])

    def change_line(
        self, tenant: str, number: int, expected: Collection[str], line_id: str, change: LineChange
    ) -> Draft:
        state = self._open(tenant, number, expected)
        kind, key = _parse_line_id(line_id)
        if kind == "manual":
            index, line = self._found(tenant, state, lambda: _manual(state, key, line_id))
            changed = replace(
                line,
                product_number=change.product_number or line.product_number,
                description=change.description or line.description,
                quantity=change.quantity or line.quantity,
                unit_price=line.unit_price if change.unit_price is None else change.unit_price,
                period=change.period if "period" in change.given else line.period,
            )
            state.manual[index] = changed
            return self._commit(state, [PutLine(changed)])
        index, note, billing = self._found(tenant, state, lambda: _note(state, kind, key, line_id))
        allowed = TIME_FIELDS if kind == "time" else SURCHARGE_FIELDS
        refused = sorted(change.given - allowed)
        if refused:
            listing = " and ".join(sorted(allowed))
            raise Rejected(
                f"On a {kind} line only the {listing} can change.",
                [FieldError(name, f"cannot be changed on a {kind} line (only {listing})") for name in refused],
            )
        if change.unit_price is not None:
            if change.unit_price < 0:
                raise Rejected(
                    "A time line's hourly rate cannot be negative.",
                    [FieldError("unitPrice", "the hourly rate of a time line must be 0 or more")],
                )
            billing = billing.repriced(change.unit_price)
        if change.description is not None and kind == "time":
            billing = replace(billing, description=change.description)
        elif change.description is not None:
            billing = replace(billing, surcharge_description=change.description)
        state.billed[index] = (note, billing)
        return self._commit(state, [Rebill(note, billing)])

    def delete_line(self, tenant: str, number: int, expected: Collection[str], line_id: str) -> Draft:
        state = self._open(tenant, number, expected)
        kind, key = _parse_line_id(line_id)
        if kind == "manual":
            index, line = self._found(tenant, state, lambda: _manual(state, key, line_id))
            del state.manual[index]
            return self._commit(state, [DropLine(line)])
        index, note, billing = self._found(tenant, state, lambda: _note(state, kind, key, line_id))
        if kind == "time":
            del state.billed[index]  # released: unbilled from the moment the transaction commits
            return self._commit(state, [Rebill(note, None)])
        billing = replace(billing, surcharge=None, surcharge_percent=None, surcharge_description=None)
        state.billed[index] = (note, billing)
        return self._commit(state, [Rebill(note, billing)])

    # -- steps ------------------------------------------------------------------------------------

    def _new_lines(self, tenant: str, number: int, specs: Sequence[LineSpec], now: datetime) -> list[ManualLine]:
        numbers = self._ledger.reserve_lines(tenant, len(specs)) if specs else []
        return [
            ManualLine(n, number, s.product_number, s.description, s.quantity, s.unit_price, s.period, now)
            for n, s in zip(numbers, specs, strict=True)
        ]

    def _open(self, tenant: str, number: int, expected: Collection[str]) -> _State:
        """The draft as read now, if it is still at the `expected` version and may be edited."""
        headers = self._invoicing.repair(tenant)
        header = existing(headers, number)
        if ANY not in expected and str(header.version) not in {_etag_of(tag) for tag in expected}:
            raise _stale(number)
        self._invoicing.ensure_not_exporting(header)
        if header.status != OPEN:
            raise Rejected(
                f"Invoice draft {number} cannot be edited: it is {status_text(header)}.",
                [FieldError("draftId", f"draft {number} is {status_text(header)}, only open drafts can be edited")],
            )
        billed, manual = self._invoicing.contents(tenant, number, headers)
        return _State(header, billed, manual)

    def _found(self, tenant: str, state: _State, find: Callable[[], T]) -> T:
        """The line `find` looks for in the draft as `_open` read it. Missing, it may have been deleted by
        an edit that committed between the header's read and the lines' read: then the draft's version
        has moved, and the answer is the 412 a later read would give, not a 404 for a line that was
        there at the caller's version."""
        try:
            return find()
        except NotFound:
            current = self._ledger.headers(tenant).get(state.header.number)
            if current is None or current.version != state.header.version:
                raise _stale(state.header.number) from None
            raise

    def _commit(self, state: _State, changes: Sequence[Change]) -> Draft:
        header = replace(
            state.header,
            totals=Totals.of([billing for _, billing in state.billed], state.manual),
            updated_at=self._clock(),
        )
        stored = self._ledger.write(header, changes)
        if stored is None:
            raise _stale(header.number)
        return Draft(stored, self._invoicing.lines(state.billed, state.manual))


def _stale(number: int) -> PreconditionFailed:
    return PreconditionFailed(
        f"Invoice draft {number} has changed since you read it; read it again and redo the change.",
        [FieldError("draftId", f"draft {number} is no longer at the version in If-Match")],
    )


def _missing_line(line_id: str) -> NotFound:
    return NotFound(f"No line {line_id} in this draft.", [FieldError("lineId", f"line {line_id} is not in the draft")])


def _parse_line_id(line_id: str) -> tuple[str, str]:
    kind, _, key = line_id.partition(":")
    if kind not in ("time", "surcharge", "manual") or not key:
        raise _missing_line(line_id)
    return kind, key


def _manual(state: _State, key: str, line_id: str) -> tuple[int, ManualLine]:
    for index, line in enumerate(state.manual):
        if str(line.number) == key:
            return index, line
    raise _missing_line(line_id)


def _note(state: _State, kind: str, key: str, line_id: str) -> tuple[int, BilledNote, NoteBilling]:
    for index, (note, billing) in enumerate(state.billed):
        if note.record.record_id == key and (kind == "time" or billing.surcharge is not None):
            return index, note, billing
    raise _missing_line(line_id)
