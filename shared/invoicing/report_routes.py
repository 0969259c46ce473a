"""The specification report's operations (issue 17): the hours behind one draft or a set of drafts, as
PDF or CSV (`specification.py` reads them, `specification_pdf.py` and `specification_csv.py` render
them). Their wire models are here too: two query models, the answers are files."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from pydantic_core import PydanticCustomError

from shared.invoicing.specification import MAX_DRAFTS, DraftSpecification, Specifications
from shared.platform.keys import ADMIN_RIGHT
from shared.validation import MAX_ID, PositiveId, id_list
from shared.web.registry import Call, OperationSpec
from shared.web.types import ApiResponse

Format = Literal["pdf", "csv"]
MEDIA: dict[str, str] = {"pdf": "application/pdf", "csv": "text/csv"}
"""A text/* type goes out as `text/csv; charset=utf-8`: `blueprints/_http.py` passes charset="utf-8", and
azure-functions (1.26.0, `azure/functions/http.py`, `HttpResponseConverter.encode`) appends the charset to
`text/` types only (https://github.com/Azure/azure-functions-python-library/blob/dev/azure/functions/http.py)."""


class SpecificationServices(Protocol):
    @property
    def specifications(self) -> Specifications: ...
    def render_specification(self, drafts: list[DraftSpecification], format: Format) -> bytes: ...


def _fail(rule: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", rule)


def _format(value: Any) -> str:
    if value not in ("pdf", "csv"):
        raise _fail("must be pdf or csv")
    return str(value)


_IDS_RULE = f"must be a list of 1 to {MAX_DRAFTS} draft ids (positive whole numbers up to {MAX_ID}), e.g. 3,5,8"


def _draft_ids(value: Any) -> list[int]:
    # A query string carries "3,5,8"; a list also passes (the query parser may hand one over).
    ids = id_list(value, most=MAX_DRAFTS, rule=_IDS_RULE)
    if not ids:
        raise _fail(_IDS_RULE)
    return list(dict.fromkeys(ids))


FormatField = Annotated[str, PlainValidator(_format, json_schema_input_type=str)]
DraftIdList = Annotated[list[int], PlainValidator(_draft_ids, json_schema_input_type=str)]


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    format: FormatField = Field("pdf", description="pdf (default) or csv.")


class SpecificationRef(_Query):
    draftId: PositiveId = Field(description="The draft number.")


class SpecificationQuery(_Query):
    draftIds: DraftIdList = Field(description=f"1 to {MAX_DRAFTS} draft numbers, comma-separated: 3,5,8.")


def _answer(app: SpecificationServices, drafts: list[DraftSpecification], format: str, name: str) -> ApiResponse:
    chosen: Format = "csv" if format == "csv" else "pdf"
    return ApiResponse(
        200,
        app.render_specification(drafts, chosen),
        {"Content-Disposition": f'attachment; filename="{name}.{chosen}"'},
        content_type=MEDIA[chosen],
    )


def get_draft_specification(app: SpecificationServices, call: Call) -> ApiResponse:
    number = call.data.draftId
    drafts = app.specifications.read(call.principal.tenant, [number], field="draftId")
    return _answer(app, drafts, call.data.format, f"specification-draft-{number}")


def get_specification(app: SpecificationServices, call: Call) -> ApiResponse:
    numbers: list[int] = call.data.draftIds
    drafts = app.specifications.read(call.principal.tenant, numbers, field="draftIds")
    name = (
        f"specification-draft-{numbers[0]}"
        if len(numbers) == 1
        else f"specification-{len(numbers)}-drafts-{min(numbers)}-to-{max(numbers)}"
    )
    return _answer(app, drafts, call.data.format, name)


_COLUMNS = (
    "Per billed position note: date, start and end (DEFAULT_TIMEZONE), user, ticket, service contract, worked "
    "minutes (span less pause), pause, billed minutes (rounded to the contract's increment), rate, amount, "
    "surcharge, product and text; then the draft's manual lines (description, quantity, unit price, amount). "
    "format=pdf (default; at most 2,500 printed table lines, the rest named as left out) or format=csv (UTF-8, "
    "RFC 4180, every row; columns in docs/api.md). Only open, exported or booked drafts; at most 20,000 notes."
)
Spec = OperationSpec[SpecificationServices]
TAG = "Invoicing"

SPECIFICATION_OPERATIONS: tuple[Spec, ...] = (
    Spec(
        "GetInvoiceDraftSpecification",
        "GET",
        "invoicing/drafts/{draftId}/specification",
        right=ADMIN_RIGHT,
        summary="The hours behind an invoice draft, per note (PDF or CSV)",
        description=_COLUMNS + " 404 when the draft does not exist.",
        handler=get_draft_specification,
        model=SpecificationRef,
        source="query",
        tag=TAG,
        produces="application/pdf,text/csv",
    ),
    Spec(
        "GetInvoiceSpecification",
        "GET",
        "invoicing/specification",
        right=ADMIN_RIGHT,
        summary="The hours behind a set of invoice drafts, per note (PDF or CSV)",
        description=_COLUMNS + " 422 naming draftIds for each draft that does not exist or is not live.",
        handler=get_specification,
        model=SpecificationQuery,
        source="query",
        tag=TAG,
        produces="application/pdf,text/csv",
    ),
)
