"""HTTP models and handlers of the invoice-number sync (`integration/economic/sync`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.accounting.invoices import HTTP_LIMIT
from shared.api_types import ApiResponse
from shared.errors import FieldError, Forbidden, NotFound
from shared.export.schemas import TenantField
from shared.keys import OPERATOR_RIGHT, Principal

if TYPE_CHECKING:
    from shared.accounting.invoices import InvoiceSync, SyncState

Handler = Callable[[Any], ApiResponse]


class SyncIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reseller: TenantField | None = Field(
        None, description="The tenant to sync; defaults to the API key's own. Another tenant needs the operator right."
    )


class BookedOut(BaseModel):
    draftId: int = Field(description="Our draft.")
    invoiceNumber: int = Field(description="e-conomic's booked invoice number.")
    date: str | None = Field(description="The booked invoice's date (YYYY-MM-DD).")
    netAmount: str | None = Field(description="Its net amount, a decimal string.")


class UpgradedOut(BaseModel):
    draftId: int = Field(description="Our draft, exported as an order.")
    draftInvoiceNumber: int = Field(description="The e-conomic invoice draft the order was upgraded to.")


class SyncOut(BaseModel):
    tenant: str = Field(description="The tenant synced.")
    trigger: str = Field(description="http or timer.")
    startedAt: datetime = Field(description="When the run started (UTC).")
    finishedAt: datetime = Field(description="When it ended (UTC).")
    waiting: int = Field(description="Exported drafts that were not booked yet when the run started.")
    booked: list[BookedOut] = Field(description="Drafts this run found booked, with their invoice numbers.")
    missing: list[int] = Field(description="Drafts newly flagged: deleted in e-conomic without being booked.")
    stillMissing: list[int] = Field(description="Drafts flagged before and still nowhere in e-conomic.")
    foundAgain: list[int] = Field(description="Flagged drafts whose document is in e-conomic again (flag removed).")
    upgraded: list[UpgradedOut] = Field(description="Orders newly seen upgraded to an invoice draft.")
    stillWaiting: int = Field(description="Exported drafts still waiting to be booked after the run.")
    pages: int = Field(description="Pages of booked invoices read.")
    watermarkBefore: int | None = Field(description="Highest booked invoice number read before this run.")
    watermarkAfter: int | None = Field(description="The same after it: the next run asks for higher numbers only.")
    notes: list[str] = Field(description="Things to look at, e.g. a second booked invoice with a draft's reference.")
    complete: bool = Field(
        True,
        description="false: the run stopped at its time limit (HTTP: 120 s) after a page; what it read is "
        "recorded and the next run continues from there. Only a complete run flags drafts deleted in e-conomic.",
    )
    omitted: dict[str, int] = Field(
        default_factory=dict,
        description="Only in a stored last result: entries left out of each long list to fit the state row.",
    )


class SyncStateOut(BaseModel):
    tenant: str = Field(description="The tenant.")
    watermark: int | None = Field(description="Highest booked invoice number read so far (null: never).")
    running: bool = Field(description="Whether a run holds the tenant's lease now.")
    lastRunAt: datetime | None = Field(description="Start of the last run (UTC).")
    lastSuccessAt: datetime | None = Field(description="End of the last run that succeeded (UTC).")
    lastError: str | None = Field(description="Why the last run failed; null when it succeeded.")
    lastResult: SyncOut | None = Field(description="What the last successful run did.")


def state_out(state: SyncState, now: datetime) -> SyncStateOut:
    try:
        result = SyncOut.model_validate(state.last_result) if state.last_result else None
    except ValidationError:  # written by an older version, or cut to nothing: not worth a 500
        result = None
    return SyncStateOut(
        tenant=state.tenant,
        watermark=state.watermark,
        running=state.running_until is not None and state.running_until > now,
        lastRunAt=state.last_run_at,
        lastSuccessAt=state.last_success_at,
        lastError=state.last_error,
        lastResult=result,
    )


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
