"""What an e-conomic export is asked to do and answers on the wire (the job record is `jobs.py`).

The request mirrors the integration's "create e-conomic invoice drafts" endpoint: `reseller`,
`groupInvoiceLines`, `layout`, `invoiceDate`, `invoicesToOmit`, `adminMode`, plus `documentType` and
`draftIds` (export exactly these drafts: the seed's "create invoices from the selected orders").
The same fields are accepted as a body, as query parameters, or as a message put straight on the
`economic-export` queue (where `reseller` is required: there is no API key to take it from).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from pydantic import Field as _Field
from pydantic_core import PydanticCustomError

from shared.export.jobs import DocumentType
from shared.invoicing.wire import ProductNumber
from shared.platform.tenants import TENANT_RE
from shared.validation import EARLIEST, LATEST, MAX_ID, Email, Flag, PositiveId, id_list

STATUS_ROUTE = "integration/economic/invoice/draft/{jobId}"
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_JOB_ID = re.compile(r"[A-Za-z0-9-]{8,64}", re.ASCII)
FIRST_DATE = EARLIEST.date()
LAST_DATE = (LATEST - timedelta(days=1)).date()
"""Dates as every other date of the service: in the years 2000 to 2099 (a draft's month is one of them)."""


def _fail(rule: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", rule)


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        value = value.isoformat()
    match = _DATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _fail("must be a date written YYYY-MM-DD, e.g. 2026-11-01")
    try:
        parsed = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise _fail("must be a real calendar date") from None
    if not FIRST_DATE <= parsed <= LAST_DATE:
        raise _fail(f"must lie between {FIRST_DATE} and {LAST_DATE}")
    return parsed


def _tenant(value: Any) -> str:
    if not isinstance(value, str) or not TENANT_RE.fullmatch(value.strip()):
        raise _fail("must be a tenant id: 1-64 letters, digits, '-' or '_', starting with a letter or digit")
    return value.strip()


MAX_DRAFT_IDS = 1000
"""At most this many draft ids in `invoicesToOmit`: the job keeps them in one Table property (64 KiB,
strings in UTF-16), which 1000 ids of up to 16 digits fit with room to spare (`shared.repositories.export`)."""


def _ids(value: Any) -> list[int]:
    # Query strings carry lists as "3,4,5"; bodies as JSON arrays.
    return id_list(
        value,
        most=MAX_DRAFT_IDS,
        rule=_IDS_RULE,
        not_a_list="must be a list of draft ids, e.g. [12, 15] (or 12,15 in a query string)",
        too_many=f"must name at most {MAX_DRAFT_IDS} drafts",
    )


_IDS_RULE = f"must be a list of draft ids (positive whole numbers no larger than {MAX_ID})"


def _document_type(value: Any) -> DocumentType:
    if value == "draftInvoice" or value == "order":
        return value  # type: ignore[no-any-return]
    raise _fail("must be draftInvoice (e-conomic /invoices/drafts) or order (/orders/drafts)")


def _selected(value: Any) -> list[int]:
    ids = _ids(value)
    if not ids:
        raise _fail(f"must name 1 to {MAX_DRAFT_IDS} drafts (leave it out to export by invoiceDate)")
    return sorted(set(ids))


DateField = Annotated[date, PlainValidator(_date, json_schema_input_type=str)]
TenantField = Annotated[str, PlainValidator(_tenant, json_schema_input_type=str)]
DraftIds = Annotated[list[int], PlainValidator(_ids, json_schema_input_type=list[int])]
SelectedDrafts = Annotated[list[int], PlainValidator(_selected, json_schema_input_type=list[int])]
DocumentTypeField = Annotated[str, PlainValidator(_document_type, json_schema_input_type=str)]


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reseller: TenantField | None = Field(
        None,
        description="The tenant to export for; defaults to the API key's own. Another tenant needs the operator right.",
    )
    groupInvoiceLines: Flag = Field(
        False, description="Sum lines with the same product, month and unit price into one line."
    )
    layout: PositiveId | None = Field(
        None, description="e-conomic layout number for every document; else the customer's, else its group's."
    )
    invoiceDate: DateField | None = Field(
        None,
        description="Document date (YYYY-MM-DD), default the first of the current month. Exports every open draft "
        "whose period has ended by this date.",
    )
    invoicesToOmit: DraftIds = Field(default_factory=list, description="Draft ids not to export.")
    draftIds: SelectedDrafts | None = Field(
        None,
        description=f"Export exactly these open drafts (1 to {MAX_DRAFT_IDS}), whatever their period, instead of "
        "every open draft whose period has ended by invoiceDate; invoicesToOmit still leaves drafts out. 422 "
        "naming draftIds for one that is not an open draft of the tenant or is held by another export.",
    )
    adminMode: Flag = Field(False, description="Operators only: marks the export as run by the platform's operator.")
    documentType: DocumentTypeField | None = Field(
        None,
        description="draftInvoice (e-conomic draft invoices) or order (e-conomic orders); default: the tenant's "
        "documentType (billing/settings), else draftInvoice.",
    )


class QueuedExport(ExportIn):
    """A job message: `{"jobId": ...}` for an export started over HTTP, or a whole request for one put
    on the queue directly (`reseller` required, `requestedBy` an optional e-mail for the report)."""

    jobId: str | None = Field(None, description="The job this message runs.")
    requestedBy: Email | None = Field(None, description="E-mail address that gets the report.")


def valid_job_id(text: str) -> bool:
    return bool(_JOB_ID.fullmatch(text))


class JobRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    jobId: Annotated[str, PlainValidator(lambda v: _job_id(v), json_schema_input_type=str)] = Field(
        description="The export job's id, as answered by the export request."
    )


def _job_id(value: Any) -> str:
    if not isinstance(value, str) or not valid_job_id(value):
        raise _fail("must be a job id as answered by the export request")
    return value


class JobDocument(BaseModel):
    draftId: int = Field(description="Our invoice draft.")
    number: int = Field(description="The e-conomic draft invoice or order number.")


class JobError(BaseModel):
    Field: str = _Field(description="The reason's code: customer, economic.product, economic, ...")
    Message: str = _Field(description="What went wrong, readable.")


class JobOut(BaseModel):
    success: bool = Field(description="True once every selected draft is in e-conomic.")
    total: int = Field(description="Drafts selected, including the omitted ones.")
    exported: int = Field(
        description="Drafts exported: all selected ones when the job succeeded. A failed job is rolled back "
        "(0), except drafts whose documents were booked or sent in e-conomic meanwhile or could not be "
        "deleted: those stay exported, are listed in documents and named in errors."
    )
    jobId: str = Field(description="The job's id.")
    state: str = Field(description="queued, running, succeeded or failed.")
    tenant: str = Field(description="Whose drafts.")
    documentType: str = Field(description="draftInvoice or order.")
    invoiceDate: str = Field(description="The documents' date (YYYY-MM-DD).")
    attempts: int = Field(description="How often the queue has run the job.")
    poisoned: bool = Field(description="True when the message was given up and moved to economic-export-poison.")
    documents: list[JobDocument] = Field(
        description="e-conomic document numbers per draft: every selected draft once the job succeeded; for a "
        "failed job, the drafts its rollback left exported (see exported)."
    )
    leftovers: list[JobDocument] = Field(
        description="Documents a failed job could not delete from e-conomic; delete them there by hand."
    )
    errors: list[JobError] = Field(description="Why the job failed (or why the last attempt failed).")
    createdAt: datetime = Field(description="When the job was asked for (UTC).")
    updatedAt: datetime = Field(description="Last change (UTC).")


class ExportStarted(BaseModel):
    Message: str = Field(description="What happens next.")
    Success: bool = Field(description="Always true.")
    jobId: str = Field(description="The job's id.")
    statusUrl: str = Field(description="GET it (with your API key) for the job's state.")
    total: int = Field(description="Drafts selected, including the omitted ones.")
    drafts: list[int] = Field(description="The drafts that will be exported.")


class SettingsIn(BaseModel):
    """PUT sets the fields it names: a field left out keeps its value, null clears it."""

    model_config = ConfigDict(extra="ignore")
    accountingEmail: Email | None = Field(
        None, description="The tenant's accounting address: receives every e-conomic export report."
    )
    defaultProductNumber: ProductNumber | None = Field(
        None, description="e-conomic product number of lines whose service contract names none."
    )
    paymentTermsNumber: PositiveId | None = Field(
        None, description="e-conomic payment terms for customers that have none in e-conomic."
    )
    layoutNumber: PositiveId | None = Field(
        None, description="e-conomic layout when neither the export request, the customer nor its group names one."
    )
    documentType: DocumentTypeField | None = Field(
        None, description="draftInvoice or order: what an export makes when its request names no documentType."
    )


class SettingsOut(BaseModel):
    accountingEmail: str | None = Field(description="The tenant's accounting address (null: none).")
    defaultProductNumber: str | None = Field(description="Product number for lines whose contract names none.")
    paymentTermsNumber: int | None = Field(description="Payment terms for customers without any in e-conomic.")
    layoutNumber: int | None = Field(description="Layout when the request, the customer and its group name none.")
    documentType: str | None = Field(description="draftInvoice or order when the export request names none.")
