"""The wire models of accounting's HTTP operations and CLI, and their mappers: the invoice-number sync
(`integration/economic/sync`) and the customer sync (`integration/economic/customers`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from shared.export.schemas import TenantField
from shared.invoicing.schemas import WireIn, WireOut
from shared.validation import Flag, PositiveId

if TYPE_CHECKING:
    from shared.accounting.ports import SyncState

MAX_LIST = 10_000
"""Most numbers (or link pairs) one request may name."""


# -- invoice-number sync ---------------------------------------------------------------------------


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


# -- customer sync: request ------------------------------------------------------------------------


def _fail(rule: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", rule)


_FLAG: TypeAdapter[bool] = TypeAdapter(Flag)
_NUMBER: TypeAdapter[int] = TypeAdapter(PositiveId)


def _selection(value: Any) -> bool | list[int]:
    if isinstance(value, list):
        if len(value) > MAX_LIST:
            raise _fail(f"must name at most {MAX_LIST} customers")
        numbers: list[int] = []
        for index, item in enumerate(value):
            try:
                numbers.append(_NUMBER.validate_python(item))
            except ValidationError:
                raise _fail(f"item {index} must be an e-conomic customer number (a positive whole number)") from None
        return numbers
    try:
        return _FLAG.validate_python(value)
    except ValidationError:
        raise _fail("must be true, false or a list of e-conomic customer numbers") from None


Selection = Annotated[bool | list[int], PlainValidator(_selection, json_schema_input_type=bool | list[int])]
"""`true`: every one that can be done; `false`: none; a list: exactly these e-conomic customer numbers."""


class LinkIn(WireIn):
    customerId: PositiveId = Field(description="Our customer (must exist).")
    customerNumber: PositiveId = Field(description="The e-conomic customer number to link it to (must exist there).")


class CustomerSyncIn(WireIn):
    importNew: Selection = Field(
        False,
        description="true: import every importable new e-conomic customer (barred ones are skipped); or a list of "
        "e-conomic customer numbers to import (all or nothing). An imported customer gets the e-conomic number as "
        "customerId and accountingSystemId, its name, currency and first valid e-mail address.",
    )
    updateLinked: Selection = Field(
        False,
        description="true: every linked customer that differs takes e-conomic's name, e-mail and currency; or a list "
        "of e-conomic customer numbers. The currency changes only for customers without service contracts and "
        "invoice drafts.",
    )
    link: list[LinkIn] = Field(
        default_factory=list,
        max_length=MAX_LIST,
        description="Pairs {customerId, customerNumber}: sets our customer's accountingSystemId (all or nothing).",
    )
    dryRun: Flag = Field(False, description="true: report what would happen and change nothing.")


# -- customer sync: report -------------------------------------------------------------------------


class Difference(WireOut):
    field: str = Field(description="name, email or currency.")
    ours: str | None = Field(description="Our value (before an update).")
    economic: str | None = Field(description="e-conomic's value (for email: the address we would take).")


class CustomerRow(WireOut):
    customerNumber: int | None = Field(description="The e-conomic customer number (null: not linked).")
    customerId: int | None = Field(description="Our customer id (null: none of ours is linked to it).")
    name: str | None = Field(description="Our name; e-conomic's for customers that are not ours.")
    email: str | None = Field(description="Our billing e-mail; e-conomic's e-mail field for customers not ours.")
    currency: str | None = Field(description="Our currency; e-conomic's for customers not ours.")
    barred: bool = Field(description="Barred in e-conomic.")
    differences: list[Difference] = Field(
        default_factory=list, description="differs: what differs; updated: what was changed (ours -> economic)."
    )


class LinkedRow(CustomerRow):
    previousCustomerNumber: int | None = Field(description="The e-conomic number it was linked to before (null: none).")


class SkippedRow(WireOut):
    customerNumber: int | None = Field(description="The e-conomic customer number.")
    customerId: int | None = Field(description="Our customer id (null for a customer not imported).")
    action: str = Field(description="importNew or updateLinked.")
    reason: str = Field(description="Why it was not done.")


class CustomerCounts(WireOut):
    """Rows in each list of the report."""

    linked: int = Field(description="Rows in linked.")
    differs: int = Field(description="Rows in differs.")
    new: int = Field(description="Rows in new.")
    unlinked: int = Field(description="Rows in unlinked.")
    missing: int = Field(description="Rows in missing.")
    imported: int = Field(description="Rows in imported.")
    updated: int = Field(description="Rows in updated.")
    linkedNow: int = Field(description="Rows in linkedNow.")
    skipped: int = Field(description="Rows in skipped.")


class CustomerReport(WireOut):
    linked: list[CustomerRow] = Field(description="Linked to an e-conomic customer with the same data.")
    differs: list[CustomerRow] = Field(description="Linked, but name, e-mail or currency differ.")
    new: list[CustomerRow] = Field(description="e-conomic customers no customer of ours is linked to.")
    unlinked: list[CustomerRow] = Field(description="Ours without an e-conomic customer number.")
    missing: list[CustomerRow] = Field(description="Ours, linked to a number e-conomic does not have.")
    imported: list[CustomerRow] = Field(description="Customers created from e-conomic by this request.")
    updated: list[CustomerRow] = Field(description="Customers that took e-conomic's data by this request.")
    linkedNow: list[LinkedRow] = Field(description="Customers linked (or re-linked) by this request.")
    skipped: list[SkippedRow] = Field(description="What was asked for (or would be) but cannot be done, and why.")
    dryRun: bool = Field(description="true: nothing was changed; the report shows what would be.")
    counts: CustomerCounts = Field(description="Number of rows in each list.")
    summary: str = Field(description="One sentence saying what happened.")
