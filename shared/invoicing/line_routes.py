"""Manual drafts and line editing over HTTP (use cases in `shared.invoicing.editing`). Every answer is
the whole draft with its version in `ETag`; every edit needs `If-Match` with the version it was made from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.errors import FieldError, invalid
from shared.invoicing.line_schemas import CHANGEABLE, CreateDraftIn, DraftLineIn, LinePatchIn, LineRef
from shared.invoicing.schemas import DraftOut, draft_out
from shared.invoicing.service import Draft
from shared.platform.keys import ADMIN_RIGHT
from shared.web.registry import Call, OperationSpec
from shared.web.types import ApiResponse

if TYPE_CHECKING:
    from shared.invoicing.routes import InvoicingServices


def draft_answer(draft: Draft, status: int = 200) -> ApiResponse:
    """The draft as JSON; the pipeline sends its `version` as `ETag` too (the specs' `etag`)."""
    return ApiResponse(status, draft_out(draft).model_dump(mode="json"))


def create_draft(app: InvoicingServices, call: Call) -> ApiResponse:
    data: CreateDraftIn = call.data
    draft = app.editing.create(
        call.principal.tenant, data.customerId, data.period, [line.spec() for line in data.lines], call.generation
    )
    return draft_answer(draft, 201)


def add_line(app: InvoicingServices, call: Call) -> ApiResponse:
    data: DraftLineIn = call.data
    return draft_answer(app.editing.add_line(call.principal.tenant, data.draftId, call.expected, data.spec()))


def change_line(app: InvoicingServices, call: Call) -> ApiResponse:
    data: LinePatchIn = call.data
    change = data.change()
    if not change.given:
        raise invalid([FieldError("body", f"must set at least one of {', '.join(CHANGEABLE)}")])
    draft = app.editing.change_line(call.principal.tenant, data.draftId, call.expected, data.lineId, change)
    return draft_answer(draft)


def delete_line(app: InvoicingServices, call: Call) -> ApiResponse:
    data: LineRef = call.data
    return draft_answer(app.editing.delete_line(call.principal.tenant, data.draftId, call.expected, data.lineId))


TAG = "Invoicing"
Spec = OperationSpec["InvoicingServices"]

LINE_OPERATIONS: tuple[Spec, ...] = (
    Spec(
        "CreateInvoiceDraft",
        "POST",
        "invoicing/drafts",
        right=ADMIN_RIGHT,
        summary="Create an open invoice draft of manual lines (supplies, fixed fees) for a customer",
        description="Answers 201 with the draft and its version in ETag. 422 naming customerId for a customer "
        "not in the billing directory.",
        handler=create_draft,
        model=CreateDraftIn,
        creates=True,
        tag=TAG,
        response_model=DraftOut,
        success_status=201,
        etag="version",
    ),
    Spec(
        "AddInvoiceDraftLine",
        "POST",
        "invoicing/drafts/{draftId}/lines",
        right=ADMIN_RIGHT,
        summary="Add a manual line to an open invoice draft",
        description="If-Match must name the draft's current version (412 when it changed since, 428 without).",
        handler=add_line,
        model=DraftLineIn,
        tag=TAG,
        response_model=DraftOut,
        conditional=True,
        etag="version",
    ),
    Spec(
        "ChangeInvoiceDraftLine",
        "PATCH",
        "invoicing/drafts/{draftId}/lines/{lineId}",
        right=ADMIN_RIGHT,
        summary="Change a line of an open invoice draft",
        description="Time lines: description and unitPrice (the hourly rate; amount and surcharge follow); "
        "surcharge lines: description; manual lines: any field. The note stays billed in the draft. If-Match "
        "must name the draft's current version (412 when it changed since, 428 without).",
        handler=change_line,
        model=LinePatchIn,
        tag=TAG,
        response_model=DraftOut,
        conditional=True,
        etag="version",
    ),
    Spec(
        "DeleteInvoiceDraftLine",
        "DELETE",
        "invoicing/drafts/{draftId}/lines/{lineId}",
        right=ADMIN_RIGHT,
        summary="Delete a line of an open invoice draft",
        description="A time line releases its note (billable again by the next run; its surcharge goes too), a "
        "surcharge line drops only the surcharge, a manual line is removed. If-Match must name the draft's "
        "current version (412 when it changed since, 428 without).",
        handler=delete_line,
        model=LineRef,
        source="query",
        tag=TAG,
        response_model=DraftOut,
        conditional=True,
        etag="version",
    ),
)
