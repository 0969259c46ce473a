"""Every key-authenticated HTTP operation, declared once.

The blueprints register one Functions route per spec, the HTTP pipeline (`shared.http_api`) validates
with `model`, and the OpenAPI document is generated from the same specs, so the three cannot drift.
Specs are static (no services) so that indexing the function app stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from shared.validation import ActivityRecordingIn, ListAssignmentsIn, PositionNoteIn

Source = Literal["body", "query", "body_or_query"]
"""Where the operation's input comes from: the JSON body, the query string, or both (body wins)."""


@dataclass(frozen=True)
class OperationSpec:
    operation_id: str
    """OpenAPI operationId and the Functions function name; unique across the app."""
    method: Literal["GET", "POST", "PUT", "DELETE"]
    route: str
    """Functions route template, no leading slash (host.json routePrefix is ""): `invoicing/drafts/{draftId}`."""
    right: str
    """The right a key needs (`shared.keys.KNOWN_RIGHTS`)."""
    summary: str
    model: type[BaseModel] | None = None
    """Validates the input: body and/or query fields plus the route's parameters."""
    source: Source = "body"
    creates: bool = False
    """Creates something: honours the Idempotency-Key header."""
    action: str | None = None
    """The bound handler's name when it differs from operation_id (aliases)."""
    description: str = ""
    tag: str = ""
    deprecated: bool = False
    response_model: type[BaseModel] | None = None
    """Shape of the 2xx body, for the OpenAPI document (None: the plain Message/Success envelope)."""
    produces: str = "application/json"

    @property
    def handler(self) -> str:
        return self.action or self.operation_id


CONNECTOR_TAG = "Connector"

CONNECTOR_OPERATIONS: tuple[OperationSpec, ...] = (
    OperationSpec(
        "CreateActivityRecording",
        "POST",
        "ApiInvoice/CreateActivityRecording",
        right="CreateActivityRecording",
        summary="Create an activity recording",
        model=ActivityRecordingIn,
        creates=True,
        tag=CONNECTOR_TAG,
    ),
    OperationSpec(
        "CreateInvoicePositionNote",
        "POST",
        "ApiInvoice/CreateInvoicePositionNote",
        right="CreateInvoicePositionNote",
        summary="Create an invoice position note",
        model=PositionNoteIn,
        creates=True,
        tag=CONNECTOR_TAG,
    ),
    OperationSpec(
        "CreateTicket",
        "POST",
        "ApiInvoice/CreateTicket",
        right="CreateInvoicePositionNote",
        summary="Create an invoice position note (the connector's first published path)",
        model=PositionNoteIn,
        creates=True,
        action="CreateInvoicePositionNote",
        tag=CONNECTOR_TAG,
        deprecated=True,
    ),
    OperationSpec(
        "GetServiceAssignmentsDispatcher",
        "POST",
        "ApiInvoice/GetServiceAssignmentsDispatcher",
        right="GetServiceAssignmentsDispatcher",
        summary="List service assignments",
        model=ListAssignmentsIn,
        tag=CONNECTOR_TAG,
    ),
)

ALL_OPERATIONS: tuple[OperationSpec, ...] = CONNECTOR_OPERATIONS
"""Every operation the app serves, in the order its routes are registered."""
