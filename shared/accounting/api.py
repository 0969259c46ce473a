"""HTTP handlers of accounting: the invoice-number sync (`integration/economic/sync`) and the customer sync.
Their models are in `shared.accounting.schemas`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.accounting.invoices import HTTP_LIMIT
from shared.accounting.schemas import SyncOut, state_out
from shared.api_types import ApiResponse
from shared.errors import FieldError, Forbidden, NotFound
from shared.keys import OPERATOR_RIGHT, Principal

if TYPE_CHECKING:
    from shared.accounting.customers import CustomerSync
    from shared.accounting.invoices import InvoiceSync

Handler = Callable[[Any], ApiResponse]


def tenant_for(who: Principal, reseller: str | None) -> str:
    """The tenant a sync call is about: the key's own, or another one for an operator."""
    tenant = reseller or who.tenant
    if tenant != who.tenant and OPERATOR_RIGHT not in who.rights:
        raise Forbidden(
            "Insufficient access level: syncing another tenant needs the operator right.",
            [FieldError("reseller", "needs an API key with the operator right")],
            code="access_denied",
        )
    return tenant


def sync_handlers(
    sync: InvoiceSync, clock: Callable[[], datetime], tenant_exists: Callable[[str], bool]
) -> dict[str, Handler]:
    def known(call: Any) -> str:
        tenant = tenant_for(call.principal, call.data.reseller)
        if tenant != call.principal.tenant and not tenant_exists(tenant):
            raise NotFound(
                f"Reseller {tenant} not found.", [FieldError("reseller", f"no tenant {tenant}")], code="reseller"
            )
        return tenant

    def run(call: Any) -> ApiResponse:
        tenant = known(call)
        result = sync.run(tenant, trigger="http", time_limit=HTTP_LIMIT)
        return ApiResponse(200, SyncOut.model_validate(result.as_dict()).model_dump(mode="json"))

    def status(call: Any) -> ApiResponse:
        state = sync.state(known(call))
        return ApiResponse(200, state_out(state, clock()).model_dump(mode="json"))

    return {"SyncEconomicInvoices": run, "GetEconomicSync": status}


def customer_sync_handlers(sync: CustomerSync) -> dict[str, Handler]:
    """Handlers by operationId; each gets `shared.http_api.Call` (tenant from the key)."""

    def compare(call: Any) -> ApiResponse:
        return ApiResponse(200, sync.compare(str(call.principal.tenant)).model_dump(mode="json"))

    def apply(call: Any) -> ApiResponse:
        return ApiResponse(200, sync.apply(str(call.principal.tenant), call.data).model_dump(mode="json"))

    return {"CompareEconomicCustomers": compare, "SyncEconomicCustomers": apply}
