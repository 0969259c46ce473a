"""The certified connector's actions under /ApiInvoice (host.json routePrefix is ""), each with its
handler, answering in the connector's `Message`/`Success` envelope."""

from __future__ import annotations

from typing import Protocol

from shared.connector.schemas import (
    MAX_PAGE_SIZE,
    ActivityRecordingCreated,
    ActivityRecordingIn,
    AssignmentsOut,
    ListAssignmentsIn,
    PositionNoteCreated,
    PositionNoteIn,
)
from shared.connector.service import ConnectorService
from shared.web.registry import Call, OperationSpec
from shared.web.types import ApiResponse


class ConnectorServices(Protocol):
    """What the connector's handlers are handed by the composition root."""

    @property
    def connector(self) -> ConnectorService: ...


CONNECTOR_TAG = "Connector"


def create_activity_recording(app: ConnectorServices, call: Call) -> ApiResponse:
    record_id = app.connector.create_activity_recording(call.principal, call.data, call.generation)
    return _created("Activity recording created.", "ActivityRecordingId", record_id)


def create_position_note(app: ConnectorServices, call: Call) -> ApiResponse:
    record_id = app.connector.create_position_note(call.principal, call.data, call.generation)
    return _created("Position note created.", "invoiceNoteId", record_id)


def list_assignments(app: ConnectorServices, call: Call) -> ApiResponse:
    result = app.connector.list_assignments(call.principal, call.data)
    shown, matching = len(result["Results"]), result["Filtered"]
    message = f"{shown} of {matching} service assignments."
    if call.data.TakeAll and shown < matching:
        message += (
            f" TakeAll answers at most {MAX_PAGE_SIZE}; page through the rest with Skip and PageSize (TakeAll false)."
        )
    return ApiResponse(200, {"Message": message, "Success": True, "Result": result})


def _created(message: str, id_field: str, record_id: str) -> ApiResponse:
    return ApiResponse(200, {"Message": message, "Success": True, id_field: record_id})


CONNECTOR_OPERATIONS: tuple[OperationSpec[ConnectorServices], ...] = (
    OperationSpec(
        "CreateActivityRecording",
        "POST",
        "ApiInvoice/CreateActivityRecording",
        right="CreateActivityRecording",
        summary="Create an activity recording",
        handler=create_activity_recording,
        model=ActivityRecordingIn,
        creates=True,
        response_model=ActivityRecordingCreated,
        tag=CONNECTOR_TAG,
    ),
    OperationSpec(
        "CreateInvoicePositionNote",
        "POST",
        "ApiInvoice/CreateInvoicePositionNote",
        right="CreateInvoicePositionNote",
        summary="Create an invoice position note",
        handler=create_position_note,
        model=PositionNoteIn,
        creates=True,
        response_model=PositionNoteCreated,
        tag=CONNECTOR_TAG,
    ),
    OperationSpec(
        "CreateTicket",
        "POST",
        "ApiInvoice/CreateTicket",
        right="CreateInvoicePositionNote",
        summary="Create an invoice position note (the connector's first published path)",
        handler=create_position_note,
        model=PositionNoteIn,
        creates=True,
        response_model=PositionNoteCreated,
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
        handler=list_assignments,
        model=ListAssignmentsIn,
        response_model=AssignmentsOut,
        tag=CONNECTOR_TAG,
    ),
)
