"""The accounting sync's operations (booked invoice numbers back, customers in), each with its handler."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.accounting.customers import CustomerSync
from shared.accounting.invoices import HTTP_LIMIT, InvoiceSync
from shared.accounting.schemas import CustomerReport, CustomerSyncIn, SyncIn, SyncOut, SyncStateOut, state_out
from shared.errors import Denied, FieldError, NotFound
from shared.platform.keys import ADMIN_RIGHT, OPERATOR_RIGHT, RESELLER_RIGHT, Principal
from shared.web.registry import Call, OperationSpec
from shared.web.types import ApiResponse

SYNC_ROUTE = "integration/economic/sync"
CUSTOMERS_ROUTE = "integration/economic/customers"
ACCOUNTING_TAG = "e-conomic sync"


class AccountingServices(Protocol):
    """What the accounting handlers are handed by the composition root."""

    @property
    def invoice_sync(self) -> InvoiceSync: ...
    @property
    def customer_sync(self) -> CustomerSync: ...
    def now(self) -> datetime: ...
    def tenant_exists(self, tenant: str) -> bool: ...


Spec = OperationSpec[AccountingServices]


def tenant_for(who: Principal, reseller: str | None) -> str:
    """The tenant a sync call is about: the key's own, or another one for an operator."""
    tenant = reseller or who.tenant
    if tenant != who.tenant and OPERATOR_RIGHT not in who.rights:
        raise Denied(
            "Insufficient access level: syncing another tenant needs the operator right.",
            [FieldError("reseller", "needs an API key with the operator right")],
            code="access_denied",
        )
    return tenant


def _known_tenant(app: AccountingServices, call: Call) -> str:
    tenant = tenant_for(call.principal, call.data.reseller)
    if tenant != call.principal.tenant and not app.tenant_exists(tenant):
        raise NotFound(
            f"Reseller {tenant} not found.", [FieldError("reseller", f"no tenant {tenant}")], code="reseller"
        )
    return tenant


def sync_invoices(app: AccountingServices, call: Call) -> ApiResponse:
    tenant = _known_tenant(app, call)
    result = app.invoice_sync.run(tenant, trigger="http", time_limit=HTTP_LIMIT)
    return ApiResponse(200, SyncOut.model_validate(result.as_dict()).model_dump(mode="json"))


def get_sync(app: AccountingServices, call: Call) -> ApiResponse:
    state = app.invoice_sync.state(_known_tenant(app, call))
    return ApiResponse(200, state_out(state, app.now()).model_dump(mode="json"))


def compare_customers(app: AccountingServices, call: Call) -> ApiResponse:
    return ApiResponse(200, app.customer_sync.compare(call.principal.tenant).model_dump(mode="json"))


def sync_customers(app: AccountingServices, call: Call) -> ApiResponse:
    return ApiResponse(200, app.customer_sync.apply(call.principal.tenant, call.data).model_dump(mode="json"))


ACCOUNTING_OPERATIONS: tuple[Spec, ...] = (
    Spec(
        "SyncEconomicInvoices",
        "POST",
        SYNC_ROUTE,
        right=RESELLER_RIGHT,
        summary="Fetch booked invoice numbers from e-conomic now and record them on the exported drafts",
        description="Reads the invoices booked since the last run (the timer does the same every hour) and marks "
        "each exported draft that was booked as `booked` with e-conomic's number, date and amounts. A draft deleted "
        "in e-conomic without being booked is flagged (`accounting.missing`), never reset. 409 `busy` while "
        "another run of the tenant is going on. Another tenant needs the operator right.",
        handler=sync_invoices,
        model=SyncIn,
        source="body_or_query",
        tag=ACCOUNTING_TAG,
        response_model=SyncOut,
    ),
    Spec(
        "CompareEconomicCustomers",
        "GET",
        CUSTOMERS_ROUTE,
        right=ADMIN_RIGHT,
        summary="Compare the billing directory's customers with e-conomic's (read only)",
        description="Lists e-conomic's customers (all pages) against ours, matched by e-conomic customer number "
        "(`accountingSystemId`), never by name: `linked`, `differs` (name, e-mail or currency), `new`, `unlinked` "
        "and `missing`.",
        handler=compare_customers,
        source="query",
        tag=ACCOUNTING_TAG,
        response_model=CustomerReport,
    ),
    Spec(
        "SyncEconomicCustomers",
        "POST",
        CUSTOMERS_ROUTE,
        right=ADMIN_RIGHT,
        summary="Import new customers from e-conomic, update linked ones, link by number (dryRun: report only)",
        description="`importNew` (true or e-conomic numbers) adds customers with customerId = their e-conomic number; "
        "`updateLinked` takes e-conomic's name and e-mail (and currency, for customers without contracts); `link` "
        "pairs our customerId with an e-conomic customerNumber. Never creates a duplicate: a customer linked to a "
        "number is never imported again. Explicit lists are all or nothing (422 naming each problem).",
        handler=sync_customers,
        model=CustomerSyncIn,
        tag=ACCOUNTING_TAG,
        response_model=CustomerReport,
    ),
    Spec(
        "GetEconomicSync",
        "GET",
        SYNC_ROUTE,
        right=RESELLER_RIGHT,
        summary="Read the tenant's invoice-number sync: watermark, last run, last error",
        handler=get_sync,
        model=SyncIn,
        source="query",
        tag=ACCOUNTING_TAG,
        response_model=SyncStateOut,
    ),
)
