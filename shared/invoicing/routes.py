"""The billing directory and invoicing operations, each with its handler. JSON in, JSON out; data
always of the key's tenant."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from shared.errors import FieldError, NotFound
from shared.invoicing.directory import ID_FIELDS, LABELS, Contract, Customer, Entry, Ticket
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.editing import DraftEditor
from shared.invoicing.line_routes import LINE_OPERATIONS, draft_answer
from shared.invoicing.schemas import (
    ContractIn,
    ContractList,
    ContractOut,
    ContractRef,
    CustomerIn,
    CustomerList,
    CustomerOut,
    CustomerRef,
    Deleted,
    DraftList,
    DraftOut,
    DraftRef,
    DraftsQuery,
    MergeIn,
    Released,
    RunIn,
    RunOut,
    TicketIn,
    TicketList,
    TicketOut,
    TicketRef,
    contract_out,
    customer_out,
    entry_from,
    entry_out,
    pdf_name,
    run_out,
    summary,
    ticket_out,
)
from shared.invoicing.service import Draft, DraftFilter, InvoicingService
from shared.platform.keys import ADMIN_RIGHT
from shared.web.registry import Call, Handler, OperationSpec
from shared.web.types import ApiResponse


class InvoicingServices(Protocol):
    """What the invoicing handlers are handed by the composition root."""

    @property
    def directory(self) -> DirectoryService: ...
    @property
    def invoicing(self) -> InvoicingService: ...
    @property
    def editing(self) -> DraftEditor: ...
    def render_pdf(self, draft: Draft) -> bytes: ...


DIRECTORY_TAG = "Billing directory"
INVOICING_TAG = "Invoicing"

Spec = OperationSpec[InvoicingServices]


def _json(model: BaseModel, status: int = 200) -> ApiResponse:
    return ApiResponse(status, model.model_dump(mode="json"))


def _missing(field: str, what: str) -> NotFound:
    return NotFound(f"No {what}.", [FieldError(field, f"{what} does not exist")])


# -- billing directory ------------------------------------------------------------------------------


def _list_entries(kind: type[Entry]) -> Handler[InvoicingServices]:
    def list_entries(app: InvoicingServices, call: Call) -> ApiResponse:
        d = app.directory.load(call.principal.tenant)
        if kind is Customer:
            return _json(CustomerList(customers=[customer_out(c) for _, c in sorted(d.customers.items())]))
        if kind is Contract:
            return _json(ContractList(contracts=[contract_out(c) for _, c in sorted(d.contracts.items())]))
        return _json(TicketList(tickets=[ticket_out(t) for _, t in sorted(d.tickets.items())]))

    return list_entries


def _get_entry(kind: type[Entry]) -> Handler[InvoicingServices]:
    field, label = ID_FIELDS[kind], LABELS[kind]

    def get_entry(app: InvoicingServices, call: Call) -> ApiResponse:
        entry_id = getattr(call.data, field)
        entry = app.directory.load(call.principal.tenant).of(kind).get(entry_id)
        if entry is None:
            raise _missing(field, f"{label} {entry_id}")
        return _json(entry_out(entry))

    return get_entry


def put_entry(app: InvoicingServices, call: Call) -> ApiResponse:
    return _json(entry_out(app.directory.put(call.principal.tenant, entry_from(call.data))))


def _delete_entry(kind: type[Entry]) -> Handler[InvoicingServices]:
    field, label = ID_FIELDS[kind], LABELS[kind]

    def delete_entry(app: InvoicingServices, call: Call) -> ApiResponse:
        tenant = call.principal.tenant
        entry_id = getattr(call.data, field)
        drafted = app.invoicing.drafted_customers(tenant) if kind is Customer else set()
        app.directory.delete(tenant, kind, entry_id, drafted_customers=drafted)
        return _json(Deleted(Message=f"Deleted {label} {entry_id}.", Success=True))

    return delete_entry


def _directory_specs(
    kind: type[Entry],
    names: tuple[str, str, str],
    route: str,
    models: tuple[type[BaseModel], type[BaseModel], type[BaseModel], type[BaseModel]],
) -> tuple[Spec, ...]:
    """List/get/put/delete of one kind of directory entry. `names`: plural and singular operation
    name parts and the noun; `models`: reference (id only), put body, one entry out, list out."""
    plural, singular, noun = names
    ref, put, out, listing = models
    item = f"billing/{route}/{{{ID_FIELDS[kind]}}}"
    return (
        Spec(
            f"List{plural}",
            "GET",
            f"billing/{route}",
            right=ADMIN_RIGHT,
            summary=f"List the {noun}s",
            handler=_list_entries(kind),
            source="query",
            tag=DIRECTORY_TAG,
            response_model=listing,
        ),
        Spec(
            f"Get{singular}",
            "GET",
            item,
            right=ADMIN_RIGHT,
            summary=f"Get a {noun}",
            handler=_get_entry(kind),
            model=ref,
            source="query",
            tag=DIRECTORY_TAG,
            response_model=out,
        ),
        Spec(
            f"Put{singular}",
            "PUT",
            item,
            right=ADMIN_RIGHT,
            summary=f"Create or replace a {noun} (422 naming what it references and is missing)",
            handler=put_entry,
            model=put,
            tag=DIRECTORY_TAG,
            response_model=out,
        ),
        Spec(
            f"Delete{singular}",
            "DELETE",
            item,
            right=ADMIN_RIGHT,
            summary=f"Delete a {noun} (409 naming what still references it)",
            handler=_delete_entry(kind),
            model=ref,
            source="query",
            tag=DIRECTORY_TAG,
            response_model=Deleted,
        ),
    )


# -- invoicing --------------------------------------------------------------------------------------


def create_run(app: InvoicingServices, call: Call) -> ApiResponse:
    return _json(run_out(app.invoicing.run(call.principal.tenant, call.data.period)))


def list_drafts(app: InvoicingServices, call: Call) -> ApiResponse:
    q = call.data
    found = app.invoicing.list(call.principal.tenant, DraftFilter(q.period, q.customerId, q.status))
    return _json(DraftList(drafts=[summary(h) for h in found]))


def get_draft(app: InvoicingServices, call: Call) -> ApiResponse:
    return draft_answer(app.invoicing.get(call.principal.tenant, call.data.draftId))


def get_draft_pdf(app: InvoicingServices, call: Call) -> ApiResponse:
    draft = app.invoicing.open_draft(call.principal.tenant, call.data.draftId)
    return ApiResponse(
        200,
        app.render_pdf(draft),
        {"Content-Disposition": f'inline; filename="{pdf_name(draft.header)}"'},
        content_type="application/pdf",
    )


def delete_draft(app: InvoicingServices, call: Call) -> ApiResponse:
    header, released = app.invoicing.delete(call.principal.tenant, call.data.draftId)
    message = f"Deleted invoice draft {header.number}; its {released} notes are unbilled again."
    return _json(Released(Message=message, Success=True, draftId=header.number, releasedNotes=released))


def merge_drafts(app: InvoicingServices, call: Call) -> ApiResponse:
    return draft_answer(app.invoicing.merge(call.principal.tenant, call.data.draftIds))


def reopen_draft(app: InvoicingServices, call: Call) -> ApiResponse:
    return draft_answer(app.invoicing.reopen(call.principal.tenant, call.data.draftId))


INVOICING_OPERATIONS: tuple[Spec, ...] = (
    *_directory_specs(
        Customer,
        ("Customers", "Customer", "customer"),
        "customers",
        (CustomerRef, CustomerIn, CustomerOut, CustomerList),
    ),
    *_directory_specs(
        Contract,
        ("Contracts", "Contract", "service contract"),
        "contracts",
        (ContractRef, ContractIn, ContractOut, ContractList),
    ),
    *_directory_specs(Ticket, ("Tickets", "Ticket", "ticket"), "tickets", (TicketRef, TicketIn, TicketOut, TicketList)),
    Spec(
        "CreateInvoicingRun",
        "POST",
        "invoicing/runs",
        right=ADMIN_RIGHT,
        summary="Turn a month's unbilled position notes into invoice drafts, one per customer",
        description="Answers the drafts created and the billable notes that could not be priced, with why.",
        handler=create_run,
        model=RunIn,
        source="body_or_query",
        creates=True,
        tag=INVOICING_TAG,
        response_model=RunOut,
    ),
    Spec(
        "ListInvoiceDrafts",
        "GET",
        "invoicing/drafts",
        right=ADMIN_RIGHT,
        summary="List invoice drafts",
        handler=list_drafts,
        model=DraftsQuery,
        source="query",
        tag=INVOICING_TAG,
        response_model=DraftList,
    ),
    Spec(
        "GetInvoiceDraft",
        "GET",
        "invoicing/drafts/{draftId}",
        right=ADMIN_RIGHT,
        summary="Get an invoice draft with its lines",
        handler=get_draft,
        model=DraftRef,
        source="query",
        tag=INVOICING_TAG,
        response_model=DraftOut,
        etag="version",
    ),
    Spec(
        "GetInvoiceDraftPdf",
        "GET",
        "invoicing/drafts/{draftId}/pdf",
        right=ADMIN_RIGHT,
        summary="Print an open invoice draft as a concept invoice (PDF)",
        handler=get_draft_pdf,
        model=DraftRef,
        source="query",
        tag=INVOICING_TAG,
        produces="application/pdf",
    ),
    Spec(
        "DeleteInvoiceDraft",
        "DELETE",
        "invoicing/drafts/{draftId}",
        right=ADMIN_RIGHT,
        summary="Delete an open invoice draft; its notes become unbilled, its number is retired",
        handler=delete_draft,
        model=DraftRef,
        source="query",
        tag=INVOICING_TAG,
        response_model=Released,
    ),
    Spec(
        "ReopenInvoiceDraft",
        "POST",
        "invoicing/drafts/{draftId}/reopen",
        right=ADMIN_RIGHT,
        summary="Reopen an exported draft that was deleted in e-conomic without being booked",
        description="Only for drafts the accounting sync flagged (`accounting.missing`): the draft is open again, "
        "can be exported anew or deleted; what it was is kept under `accounting.reopened`. 422 for any other draft.",
        handler=reopen_draft,
        model=DraftRef,
        source="query",
        tag=INVOICING_TAG,
        response_model=DraftOut,
        etag="version",
    ),
    Spec(
        "MergeInvoiceDrafts",
        "POST",
        "invoicing/merges",
        right=ADMIN_RIGHT,
        summary="Merge open drafts of one customer into the one with the lowest number",
        handler=merge_drafts,
        model=MergeIn,
        tag=INVOICING_TAG,
        response_model=DraftOut,
        etag="version",
    ),
    *LINE_OPERATIONS,
)
