"""The connector's wire models: what the certified "Tesseron Invoice" connector sends to its three
actions, field for field (`infra/connector/apiDefinition.swagger.json`), and the span rule they share."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import FieldError
from shared.validation import (
    MAX_SPAN,
    DateTimeField,
    DateTimeOrEpoch,
    Flag,
    LongText,
    Pause,
    PositiveId,
    QuantityValue,
    ShortText,
    Text,
    whole_between,
)


class _Body(BaseModel):
    # Unknown fields are ignored: flows built for newer connector versions must keep working.
    model_config = ConfigDict(extra="ignore", frozen=True)


_WHEN = (
    "ISO 8601 date and time: with an offset (2024-05-02T08:00+02:00), in UTC (...Z), or without one "
    "for local time in the service's time zone (DEFAULT_TIMEZONE)"
)
_FROM = Field(description=f"Start of the work. {_WHEN}.")
_TO = Field(description=f"End of the work; after dateFrom and at most 31 days later. {_WHEN}.")
_TICKET = Field(None, description="The ticket the work was done for; a positive whole number.")


class ActivityRecordingIn(_Body):
    dateFrom: DateTimeField = _FROM
    dateTo: DateTimeField = _TO
    Quantity: QuantityValue | None = Field(None, description="Quantity booked, at most 4 decimals; 0 up to 1,000,000.")
    bookText: Text | None = Field(None, description="Booking text of the activity recording.")
    noteText: LongText | None = Field(None, description="Longer note text of the activity recording.")
    ticketID: PositiveId | None = _TICKET
    projectId: PositiveId | None = Field(None, description="The project the work belongs to.")
    projectPhaseId: PositiveId | None = Field(None, description="The project phase the work belongs to.")
    projectPhaseTaskId: PositiveId | None = Field(None, description="The task within the project phase.")

    @property
    def pause(self) -> timedelta:
        return timedelta(0)


class PositionNoteIn(_Body):
    dateFrom: DateTimeField = _FROM
    dateTo: DateTimeField = _TO
    noInvoice: Flag = Field(description="true: the time is not billable (it is recorded, never invoiced).")
    extraCharge: Flag = Field(description="true: the service contract's surcharge is added as its own invoice line.")
    pause: Pause | None = Field(
        None, description="Unbilled break within the span: HH:MM, HH:MM:SS, minutes, or ISO 8601 (PT15M)."
    )
    hint: Text | None = Field(None, description="What was done; printed on the invoice line.")
    username: ShortText | None = Field(None, description="Who did the work; printed on the invoice line.")
    ticketID: PositiveId | None = Field(
        None, description="The ticket the work was done for; invoices its customer when there is no service contract."
    )
    ticketPositionID: PositiveId | None = Field(None, description="The position within the ticket.")
    serviceContractID: PositiveId | None = Field(
        None, description="The service contract that prices the time (rate, surcharge, rounding)."
    )


class SearchFilters(_Body):
    ShowActivityRecordings: Flag | None = Field(None, description="Include activity recordings (default true).")
    ShowPositionNotes: Flag | None = Field(None, description="Include position notes (default true).")
    DateTimeFrom: DateTimeOrEpoch | None = Field(
        None, description="Only work that starts at or after this time (ISO 8601 or Unix seconds)."
    )
    DateTimeTo: DateTimeOrEpoch | None = Field(
        None, description="Only work that ends at or before this time (ISO 8601 or Unix seconds)."
    )
    IsInvoice: Flag | None = Field(None, description="true: only billable work; false: only non-billable work.")
    TicketId: PositiveId | None = Field(None, description="Only work for this ticket.")
    ServiceContractId: PositiveId | None = Field(None, description="Only work under this service contract.")
    UserIds: Text | None = Field(None, description="Only work of these users: user names, comma-separated.")
    Project: ShortText | None = Field(None, description="Only work for this project id.")


ORDER_COLUMNS = {
    1: "CreationDate",
    2: "AlterationDate",
    3: "TicketId",
    4: "UserName",
    5: "Minutes",
    6: "MinAssignmentTime",
    7: "MaxAssignmentTime",
}


MAX_PAGE_SIZE = 1000
"""The most assignments one answer holds, TakeAll included (5,000 notes were 12 MB in one answer)."""


class ListAssignmentsIn(_Body):
    # The connector marks these required and always sends them; plain HTTP callers get its defaults.
    Skip: Annotated[int, whole_between(0, 10_000_000)] = Field(0, description="How many assignments to skip (paging).")
    PageSize: Annotated[int, whole_between(1, MAX_PAGE_SIZE)] = Field(
        50, description=f"Assignments per page, 1-{MAX_PAGE_SIZE}."
    )
    OrderByAsc: Flag = Field(False, description="true: ascending order; false: descending (newest first).")
    OrderColumns: Annotated[int, whole_between(1, len(ORDER_COLUMNS))] = Field(
        6,
        description="Sort by: 1 creation, 2 alteration, 3 ticket, 4 user, 5 minutes, 6 start time, 7 end time.",
    )
    TakeAll: Flag = Field(
        False,
        description=f"true: the matching assignments from the first on, at most {MAX_PAGE_SIZE} (Skip and "
        "PageSize ignored); Filtered says how many match, and the message says when some were left out.",
    )
    Search: ShortText | None = Field(
        None, description="Case-insensitive text to find in texts, hint, user name or ids."
    )
    AdditionalSearchData: SearchFilters | None = Field(None, description="Further filters.")


def check_span(date_from: datetime, date_to: datetime, pause: timedelta) -> list[FieldError]:
    errors = []
    if date_to <= date_from:
        errors.append(FieldError("dateTo", "must be after dateFrom"))
    elif date_to - date_from > MAX_SPAN:
        errors.append(FieldError("dateTo", f"must be at most {MAX_SPAN.days} days after dateFrom"))
    elif pause >= date_to - date_from:
        errors.append(FieldError("pause", "must be shorter than the time between dateFrom and dateTo"))
    return errors


# -- answers -----------------------------------------------------------------------------------------
# The 200 bodies of the three actions, declared as the certified connector declares them so that flows
# get the same dynamic content (ids, results). Source: the certified "Tesseron Invoice" connector,
# ../shared/reference/tesseron-invoice-connector/apiDefinition.swagger.json (identical to
# microsoft/PowerPlatformConnectors certified-connectors/Tesseron Invoice/apiDefinition.swagger.json):
# every property it declares is declared here with its type (and `format: float` where it has one).
# Ids are strings there (`invoiceNoteId`, lower-case i, and `ActivityRecordingId`). Properties the
# certified schema has but Invoice Bridge records nothing for (engineer, enterprise, user ids) are
# declared and left out of answers; our additions (draft and invoice numbers, project) are declared too.
# tests/infra/test_connector_files.py compares these with the certified file.

_FLOAT: dict[str, Any] = {"format": "float"}


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Envelope(_Out):
    Message: str = Field(description="Message")
    Success: bool = Field(description="Success")


class ActivityRecordingCreated(_Envelope):
    ActivityRecordingId: str = Field(description="Activity Recording ID")


class PositionNoteCreated(_Envelope):
    invoiceNoteId: str = Field(description="Invoice Note ID")


class AssignmentUnits(_Out):
    Minutes: int = Field(description="Duration in Minutes (0 when not billable).")
    Quantity: float = Field(description="Quantity (hours) of the position.", json_schema_extra=_FLOAT)
    MinutesNoInvoice: int = Field(description="Duration in Minutes (no invoice).")
    QuantityNoInvoice: float = Field(description="Quantity without invoice.", json_schema_extra=_FLOAT)
    Pause: int = Field(description="Duration of pause in minutes.")


class AssignmentUser(_Out):
    UserId: int | None = Field(None, description="User ID (not recorded by Invoice Bridge).")
    UserName: str = Field(description="Username")
    EngineerId: int | None = Field(None, description="Engineer ID (not recorded by Invoice Bridge).")


class AssignmentKind(_Out):
    ServiceAssignmentTypeId: int = Field(description="1 activity recording, 2 position note.")
    AssignmentTypeName: str = Field(description="Activity recording or Position note.")


class AssignmentEngineer(_Out):
    EngineerId: int | None = Field(None, description="The ID of the engineer.")
    EngineerName: str | None = Field(None, description="The name of the engineer.")
    UserID: int | None = Field(None, description="The user ID of the engineer.")
    ResourceNumber: str | None = Field(None, description="The resource number of the engineer.")


class AssignmentTicket(_Out):
    ticketId: int = Field(description="The ticket ID.")
    TicketNumber: str | None = Field(None, description="The ticket number (not recorded by Invoice Bridge).")
    TicketHead: str | None = Field(None, description="The ticket's subject (not recorded by Invoice Bridge).")
    EnterpriseId: int | None = Field(None, description="The enterprise ID (not recorded by Invoice Bridge).")
    EnterpriseName: str | None = Field(None, description="The enterprise name (not recorded by Invoice Bridge).")
    AreaId: int | None = Field(None, description="The area ID (not recorded by Invoice Bridge).")
    ServiceContractID: int | None = Field(None, description="The service contract ID.")


class Assignment(_Out):
    CreationDate: str = Field(description="Creation Date (ISO 8601, UTC).")
    AlterationDate: str = Field(description="Date of the last update (ISO 8601, UTC).")
    AssignmentId: str = Field(description="Assignment ID.")
    AssignmentNumber: str = Field(description="Assignment Number.")
    Assignmenttext: str = Field(description="Assignment Text.")
    AssignmentPositionText: str = Field(description="Position Text.")
    MinAssignmentTime: str = Field(description="Date from (ISO 8601).")
    MaxAssignmentTime: str = Field(description="Date to (ISO 8601).")
    PositionsUnits: AssignmentUnits = Field(description="Position Units.")
    UserInfo: AssignmentUser = Field(description="User Information.")
    Status: str = Field(description="Open, Drafted (in an invoice draft) or Invoiced (booked in e-conomic).")
    AssignmentType: AssignmentKind = Field(description="Assignment type.")
    EnterpriseId: int | None = Field(None, description="The enterprise ID (not recorded by Invoice Bridge).")
    EnterpriseName: str | None = Field(None, description="The name of the enterprise (not recorded).")
    TicketId: int | None = Field(None, description="The ticket ID.")
    Engineer: AssignmentEngineer | None = Field(None, description="Details of the engineer (not recorded).")
    Ticket: AssignmentTicket | None = Field(None, description="The ticket, when the work names one.")
    ServiceContractName: str | None = Field(None, description="The service contract's name (not recorded).")
    ServiceContractId: int | None = Field(None, description="The service contract ID.")
    TicketPositionId: int | None = Field(None, description="The position within the ticket.")
    ProjectId: int | None = Field(None, description="The project (activity recordings).")
    ExtraCharge: bool = Field(description="The service contract's surcharge applies.")
    InvoiceDraftNumber: int | None = Field(None, description="The invoice draft the note is in.")
    InvoiceNumber: int | None = Field(None, description="e-conomic's invoice number once the draft is booked.")


class AssignmentsResult(_Out):
    Count: int = Field(description="Count of all Service Assignments.")
    Filtered: int = Field(description="Count of Service Assignments for specified filters.")
    OwnHours: float = Field(description="Hours of the filtered assignments of this key.", json_schema_extra=_FLOAT)
    TotalHours: float = Field(description="Hours of the filtered assignments.", json_schema_extra=_FLOAT)
    Results: list[Assignment] = Field(description="List of Service Assignments.")


class AssignmentsOut(_Envelope):
    Result: AssignmentsResult = Field(description="Result")
