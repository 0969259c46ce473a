"""The three connector actions as plain services: record work, and list it back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.connector.listing import Listing, haystack, indexed_listing, order
from shared.connector.ports import DraftResolver, WorkRepository
from shared.connector.schemas import MAX_PAGE_SIZE, ActivityRecordingIn, ListAssignmentsIn, PositionNoteIn, check_span
from shared.errors import FieldError, invalid
from shared.platform.keys import Principal
from shared.validation import is_ascii_digits
from shared.work import ACTIVITY_RECORDING, POSITION_NOTE, BilledIn, Kind, WorkQuery, WorkRecord, hours

_IDS = uuid.UUID("5f0c8b1e-6a43-4c39-9d55-2b7f3f1d2a10")

ASSIGNMENT_TYPES: dict[Kind, tuple[int, str]] = {
    ACTIVITY_RECORDING: (1, "Activity recording"),
    POSITION_NOTE: (2, "Position note"),
}


def record_id(tenant: str, operation: str, generation: str | None) -> str:
    """A new id; derived from the idempotency generation when there is one, so that a retried
    request after a crash lands on the record the first attempt may already have written."""
    if generation is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_IDS, f"{tenant}\n{operation}\n{generation}"))


class ConnectorService:
    def __init__(
        self,
        work: WorkRepository,
        *,
        clock: Callable[[], datetime],
        drafts: DraftResolver | None = None,
    ) -> None:
        self._work = work
        self._clock = clock
        self._drafts = drafts
        """Per tenant: where a stored draft number stands now (None: unbilled)."""

    def create_activity_recording(
        self, who: Principal, data: ActivityRecordingIn, generation: str | None = None
    ) -> str:
        return self._record(
            who,
            ACTIVITY_RECORDING,
            generation,
            data,
            quantity=data.Quantity,
            book_text=data.bookText,
            note_text=data.noteText,
            ticket_id=data.ticketID,
            project_id=data.projectId,
            project_phase_id=data.projectPhaseId,
            project_phase_task_id=data.projectPhaseTaskId,
        )

    def create_position_note(self, who: Principal, data: PositionNoteIn, generation: str | None = None) -> str:
        return self._record(
            who,
            POSITION_NOTE,
            generation,
            data,
            pause=data.pause or timedelta(0),
            no_invoice=data.noInvoice,
            extra_charge=data.extraCharge,
            hint=data.hint,
            username=data.username,
            ticket_id=data.ticketID,
            ticket_position_id=data.ticketPositionID,
            service_contract_id=data.serviceContractID,
        )

    def _record(
        self,
        who: Principal,
        kind: Kind,
        generation: str | None,
        data: ActivityRecordingIn | PositionNoteIn,
        **fields: Any,
    ) -> str:
        errors = check_span(data.dateFrom, data.dateTo, data.pause or timedelta(0))
        if errors:
            raise invalid(errors)
        record = WorkRecord(
            tenant=who.tenant,
            record_id=record_id(who.tenant, kind, generation),
            kind=kind,
            key_id=who.key_id,
            recorded_by=who.name,
            created_at=self._clock(),
            date_from=data.dateFrom,
            date_to=data.dateTo,
            **fields,
        )
        # With a derived id, "exists already" means an earlier attempt of this very request wrote it.
        self._work.add(record)
        return record.record_id

    def list_assignments(self, who: Principal, data: ListAssignmentsIn) -> dict[str, Any]:
        query, wanted_users = _query(data)
        search = data.Search.strip().casefold() if data.Search and data.Search.strip() else None
        windowed = query.starts_at_or_after is not None or query.ends_at_or_before is not None
        # Without a window, a search or TakeAll reads every record anyway: one scan beats point reads.
        if (windowed or not (search or data.TakeAll)) and self._work.indexed(who.tenant):
            found = indexed_listing(self._work, who, data, query, wanted_users, search)
        else:
            found = self._scan(who, data, query, wanted_users, search)
        page = found.page
        # Read the drafts only when a note on the page was ever linked to one.
        live = self._drafts(who.tenant) if self._drafts and any(r.draft_number for r in page) else None
        return {
            "Count": found.count,
            "Filtered": found.filtered,
            "OwnHours": hours(found.own_minutes),
            "TotalHours": hours(found.minutes),
            "Results": [
                assignment(r, live(r.draft_number) if live and r.draft_number is not None else None) for r in page
            ],
        }

    def _scan(
        self, who: Principal, data: ListAssignmentsIn, query: WorkQuery, wanted_users: set[str], search: str | None
    ) -> Listing:
        """Every record of the tenant that the store's filters let through: the layout before the
        index (`manage work reindex` not run yet), and a search or TakeAll without a date window."""
        records = self._work.query(who.tenant, query)
        total = len(records) if query.unfiltered else self._work.count(who.tenant)
        if wanted_users:
            records = [r for r in records if r.user_name.casefold() in wanted_users]
        if search:
            records = [r for r in records if search in haystack(r)]
        order(records, data)
        return Listing(
            count=total,
            filtered=len(records),
            minutes=sum(r.minutes for r in records),
            own_minutes=sum(r.minutes for r in records if r.key_id == who.key_id),
            page=records[:MAX_PAGE_SIZE] if data.TakeAll else records[data.Skip : data.Skip + data.PageSize],
        )


def _query(data: ListAssignmentsIn) -> tuple[WorkQuery, set[str]]:
    """The store's filters of a listing, and the user names asked for (case-folded)."""
    filters = data.AdditionalSearchData
    if filters is None:
        return WorkQuery(), set()
    kinds: set[Kind] = set()
    if filters.ShowActivityRecordings:
        kinds.add(ACTIVITY_RECORDING)
    if filters.ShowPositionNotes:
        kinds.add(POSITION_NOTE)
    project = filters.Project.strip() if filters.Project else None
    if project is not None and not (is_ascii_digits(project) and int(project) > 0):
        raise invalid([FieldError("AdditionalSearchData.Project", "must be a project id (a positive whole number)")])
    if filters.DateTimeFrom and filters.DateTimeTo and filters.DateTimeTo <= filters.DateTimeFrom:
        raise invalid([FieldError("AdditionalSearchData.DateTimeTo", "must be after DateTimeFrom")])
    query = WorkQuery(
        kinds=frozenset(kinds) or WorkQuery().kinds,
        starts_at_or_after=filters.DateTimeFrom,
        ends_at_or_before=filters.DateTimeTo,
        ticket_id=filters.TicketId,
        service_contract_id=filters.ServiceContractId,
        project_id=int(project) if project else None,
        no_invoice=None if filters.IsInvoice is None else not filters.IsInvoice,
    )
    return query, {u.strip().casefold() for u in (filters.UserIds or "").split(",") if u.strip()}


def _iso(value: datetime) -> str:
    text = value.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z") if value.utcoffset() is not None and not value.utcoffset() else text


def assignment(r: WorkRecord, billed: BilledIn | None = None) -> dict[str, Any]:
    """One result item, shaped as the connector's `GetServiceAssignmentsDispatcher` response.
    `billed`: the live invoice draft the note is in: Status "Drafted" and `InvoiceDraftNumber`, or, once
    e-conomic has booked that draft, Status "Invoiced" and also `InvoiceNumber`."""
    type_id, type_name = ASSIGNMENT_TYPES[r.kind]
    if r.kind == ACTIVITY_RECORDING:
        quantity = r.quantity if r.quantity is not None else r.hours
        title, text = r.book_text or "", r.note_text or ""
    else:
        quantity = r.hours
        title, text = r.hint or "", r.hint or ""
    billable = not r.no_invoice
    item: dict[str, Any] = {
        "CreationDate": _iso(r.created_at.astimezone(UTC)),
        "AlterationDate": _iso(r.created_at.astimezone(UTC)),
        "AssignmentId": r.record_id,
        "AssignmentNumber": r.record_id,
        "Assignmenttext": title,
        "AssignmentPositionText": text,
        "MinAssignmentTime": _iso(r.date_from),
        "MaxAssignmentTime": _iso(r.date_to),
        "PositionsUnits": {
            "Minutes": r.minutes if billable else 0,
            "Quantity": quantity if billable else Decimal(0),
            "MinutesNoInvoice": 0 if billable else r.minutes,
            "QuantityNoInvoice": Decimal(0) if billable else quantity,
            "Pause": r.pause_minutes,
        },
        "UserInfo": {"UserName": r.user_name},
        "Status": "Open" if billed is None else "Drafted" if billed.invoice_number is None else "Invoiced",
        "AssignmentType": {"ServiceAssignmentTypeId": type_id, "AssignmentTypeName": type_name},
        "ExtraCharge": r.extra_charge,
    }
    if billed is not None:
        item["InvoiceDraftNumber"] = billed.draft
        if billed.invoice_number is not None:
            item["InvoiceNumber"] = billed.invoice_number
    if r.ticket_id is not None:
        item["TicketId"] = r.ticket_id
        ticket: dict[str, Any] = {"ticketId": r.ticket_id}
        if r.service_contract_id is not None:
            ticket["ServiceContractID"] = r.service_contract_id
        item["Ticket"] = ticket
    if r.service_contract_id is not None:
        item["ServiceContractId"] = r.service_contract_id
    if r.ticket_position_id is not None:
        item["TicketPositionId"] = r.ticket_position_id
    if r.project_id is not None:
        item["ProjectId"] = r.project_id
    return item
