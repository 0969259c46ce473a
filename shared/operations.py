"""Every key-authenticated HTTP operation, declared once.

The blueprints register one Functions route per spec, the HTTP pipeline (`shared.http_api`) validates
with `model`, and the OpenAPI document is generated from the same specs, so the three cannot drift.
Specs are static (no services) so that indexing the function app stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from shared.accounting.api import SyncIn, SyncOut, SyncStateOut
from shared.accounting.customers import CustomerReport, CustomerSyncIn
from shared.export.schemas import STATUS_ROUTE, ExportIn, ExportStarted, JobOut, JobRef, SettingsIn, SettingsOut
from shared.invoicing.api import (
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
)
from shared.keys import ADMIN_RIGHT, RESELLER_RIGHT
from shared.validation import ActivityRecordingIn, ListAssignmentsIn, PositionNoteIn

SYNC_ROUTE = "integration/economic/sync"
CUSTOMERS_ROUTE = "integration/economic/customers"

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

DIRECTORY_TAG = "Billing directory"
INVOICING_TAG = "Invoicing"


def _directory_specs(
    names: tuple[str, str, str],
    route: str,
    id_field: str,
    models: tuple[type[BaseModel], type[BaseModel], type[BaseModel], type[BaseModel]],
) -> tuple[OperationSpec, ...]:
    """List/get/put/delete of one kind of directory entry. `names`: plural and singular operation
    name parts and the noun; `models`: reference (id only), put body, one entry out, list out."""
    plural, singular, noun = names
    ref, put, out, listing = models
    item = f"billing/{route}/{{{id_field}}}"
    return (
        OperationSpec(
            f"List{plural}",
            "GET",
            f"billing/{route}",
            right=ADMIN_RIGHT,
            summary=f"List the {noun}s",
            source="query",
            tag=DIRECTORY_TAG,
            response_model=listing,
        ),
        OperationSpec(
            f"Get{singular}",
            "GET",
            item,
            right=ADMIN_RIGHT,
            summary=f"Get a {noun}",
            model=ref,
            source="query",
            tag=DIRECTORY_TAG,
            response_model=out,
        ),
        OperationSpec(
            f"Put{singular}",
            "PUT",
            item,
            right=ADMIN_RIGHT,
            summary=f"Create or replace a {noun} (422 naming what it references and is missing)",
            model=put,
            tag=DIRECTORY_TAG,
            response_model=out,
        ),
        OperationSpec(
            f"Delete{singular}",
            "DELETE",
            item,
            right=ADMIN_RIGHT,
            summary=f"Delete a {noun} (409 naming what still references it)",
            model=ref,
            source="query",
            tag=DIRECTORY_TAG,
            response_model=Deleted,
        ),
    )


INVOICING_OPERATIONS: tuple[OperationSpec, ...] = (
    *_directory_specs(
        ("Customers", "Customer", "customer"),
        "customers",
        "customerId",
        (CustomerRef, CustomerIn, CustomerOut, CustomerList),
    ),
    *_directory_specs(
        ("Contracts", "Contract", "service contract"),
        "contracts",
        "contractId",
        (ContractRef, ContractIn, ContractOut, ContractList),
    ),
    *_directory_specs(
        ("Tickets", "Ticket", "ticket"), "tickets", "ticketId", (TicketRef, TicketIn, TicketOut, TicketList)
    ),
    OperationSpec(
        "CreateInvoicingRun",
        "POST",
        "invoicing/runs",
        right=ADMIN_RIGHT,
        summary="Turn a month's unbilled position notes into invoice drafts, one per customer",
        description="Answers the drafts created and the billable notes that could not be priced, with why.",
        model=RunIn,
        source="body_or_query",
        creates=True,
        tag=INVOICING_TAG,
        response_model=RunOut,
    ),
    OperationSpec(
        "ListInvoiceDrafts",
        "GET",
        "invoicing/drafts",
        right=ADMIN_RIGHT,
        summary="List invoice drafts",
        model=DraftsQuery,
        source="query",
        tag=INVOICING_TAG,
        response_model=DraftList,
    ),
    OperationSpec(
        "GetInvoiceDraft",
        "GET",
        "invoicing/drafts/{draftId}",
        right=ADMIN_RIGHT,
        summary="Get an invoice draft with its lines",
        model=DraftRef,
        source="query",
        tag=INVOICING_TAG,
        response_model=DraftOut,
    ),
    OperationSpec(
        "GetInvoiceDraftPdf",
        "GET",
        "invoicing/drafts/{draftId}/pdf",
        right=ADMIN_RIGHT,
        summary="Print an open invoice draft as a concept invoice (PDF)",
        model=DraftRef,
        source="query",
        tag=INVOICING_TAG,
        produces="application/pdf",
    ),
    OperationSpec(
        "DeleteInvoiceDraft",
        "DELETE",
        "invoicing/drafts/{draftId}",
        right=ADMIN_RIGHT,
        summary="Delete an open invoice draft; its notes become unbilled, its number is retired",
        model=DraftRef,
        source="query",
        tag=INVOICING_TAG,
        response_model=Released,
    ),
    OperationSpec(
        "ReopenInvoiceDraft",
        "POST",
        "invoicing/drafts/{draftId}/reopen",
        right=ADMIN_RIGHT,
        summary="Reopen an exported draft that was deleted in e-conomic without being booked",
        description="Only for drafts the accounting sync flagged (`accounting.missing`): the draft is open again, "
        "can be exported anew or deleted; what it was is kept under `accounting.reopened`. 422 for any other draft.",
        model=DraftRef,
        source="query",
        tag=INVOICING_TAG,
        response_model=DraftOut,
    ),
    OperationSpec(
        "MergeInvoiceDrafts",
        "POST",
        "invoicing/merges",
        right=ADMIN_RIGHT,
        summary="Merge open drafts of one customer into the one with the lowest number",
        model=MergeIn,
        tag=INVOICING_TAG,
        response_model=DraftOut,
    ),
)

ECONOMIC_TAG = "e-conomic export"

ECONOMIC_OPERATIONS: tuple[OperationSpec, ...] = (
    OperationSpec(
        "CreateEconomicInvoiceDrafts",
        "POST",
        "integration/economic/invoice/draft",
        right=RESELLER_RIGHT,
        summary="Export the open invoice drafts to e-conomic as draft invoices or orders (queued)",
        description="Checks everything first (422 `multiple` listing each problem), then queues the export and "
        "answers 202 with the job id and its status URL. All or nothing; the requester and the tenant's "
        "accounting address get an e-mail when it ends. Another tenant or adminMode needs the operator right.",
        model=ExportIn,
        source="body_or_query",
        creates=True,
        tag=ECONOMIC_TAG,
        response_model=ExportStarted,
    ),
    OperationSpec(
        "GetEconomicExport",
        "GET",
        STATUS_ROUTE,
        right=RESELLER_RIGHT,
        summary="Read an export job: success, total, exported, state, errors and the e-conomic numbers",
        model=JobRef,
        source="query",
        tag=ECONOMIC_TAG,
        response_model=JobOut,
    ),
    OperationSpec(
        "GetTenantSettings",
        "GET",
        "billing/settings",
        right=ADMIN_RIGHT,
        summary="Read the tenant's settings (its accounting e-mail address)",
        source="query",
        tag=DIRECTORY_TAG,
        response_model=SettingsOut,
    ),
    OperationSpec(
        "PutTenantSettings",
        "PUT",
        "billing/settings",
        right=ADMIN_RIGHT,
        summary="Set the tenant's settings: the accounting address that gets every export report",
        model=SettingsIn,
        tag=DIRECTORY_TAG,
        response_model=SettingsOut,
    ),
)

ACCOUNTING_TAG = "e-conomic sync"

ACCOUNTING_OPERATIONS: tuple[OperationSpec, ...] = (
    OperationSpec(
        "SyncEconomicInvoices",
        "POST",
        SYNC_ROUTE,
        right=RESELLER_RIGHT,
        summary="Fetch booked invoice numbers from e-conomic now and record them on the exported drafts",
        description="Reads the invoices booked since the last run (the timer does the same every hour) and marks "
        "each exported draft that was booked as `booked` with e-conomic's number, date and amounts. A draft deleted "
        "in e-conomic without being booked is flagged (`accounting.missing`), never reset. 409 `busy` while "
        "another run of the tenant is going on. Another tenant needs the operator right.",
        model=SyncIn,
        source="body_or_query",
        tag=ACCOUNTING_TAG,
        response_model=SyncOut,
    ),
    OperationSpec(
        "CompareEconomicCustomers",
        "GET",
        CUSTOMERS_ROUTE,
        right=ADMIN_RIGHT,
        summary="Compare the billing directory's customers with e-conomic's (read only)",
        description="Lists e-conomic's customers (all pages) against ours, matched by e-conomic customer number "
        "(`accountingSystemId`), never by name: `linked`, `differs` (name, e-mail or currency), `new`, `unlinked` "
        "and `missing`.",
        source="query",
        tag=ACCOUNTING_TAG,
        response_model=CustomerReport,
    ),
    OperationSpec(
        "SyncEconomicCustomers",
        "POST",
        CUSTOMERS_ROUTE,
        right=ADMIN_RIGHT,
        summary="Import new customers from e-conomic, update linked ones, link by number (dryRun: report only)",
        description="`importNew` (true or e-conomic numbers) adds customers with customerId = their e-conomic number; "
        "`updateLinked` takes e-conomic's name and e-mail (and currency, for customers without contracts); `link` "
        "pairs our customerId with an e-conomic customerNumber. Never creates a duplicate: a customer linked to a "
        "number is never imported again. Explicit lists are all or nothing (422 naming each problem).",
        model=CustomerSyncIn,
        tag=ACCOUNTING_TAG,
        response_model=CustomerReport,
    ),
    OperationSpec(
        "GetEconomicSync",
        "GET",
        SYNC_ROUTE,
        right=RESELLER_RIGHT,
        summary="Read the tenant's invoice-number sync: watermark, last run, last error",
        model=SyncIn,
        source="query",
        tag=ACCOUNTING_TAG,
        response_model=SyncStateOut,
    ),
)

ALL_OPERATIONS: tuple[OperationSpec, ...] = (
    CONNECTOR_OPERATIONS + INVOICING_OPERATIONS + ECONOMIC_OPERATIONS + ACCOUNTING_OPERATIONS
)
"""Every operation the app serves, in the order its routes are registered."""
