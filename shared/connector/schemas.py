"""The connector's wire models: what the certified "Tesseron Invoice" connector sends to its three
actions, field for field (`infra/connector/apiDefinition.swagger.json`), and the span rule they share."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

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
