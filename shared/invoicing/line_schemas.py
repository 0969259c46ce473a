"""Wire models of invoice lines: what a draft answers (`LineOut`) and what creating a manual draft and
editing lines take (operations in `shared.invoicing.line_routes`). Quantities and prices arrive as
JSON numbers or decimal strings and are checked as decimals, never through a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator

from shared.invoicing.editing import LineChange, LineSpec
from shared.invoicing.planning import Line, money
from shared.invoicing.wire import PeriodField, WireIn, WireOut, fail
from shared.validation import PositiveId, ShortText, decimal_between

MAX_LINES = 99
"""Lines of a manual draft: with its header, one entity-group transaction (at most 100 rows)."""
MAX_QUANTITY = Decimal("999999.99")
MAX_PRICE = Decimal("999999999.99")


def _description(value: str) -> str:
    text = value.strip()
    if not text:
        raise fail("must be a non-empty text")
    if len(text) > 250:
        raise fail("must be at most 250 characters")
    return text


def _product(value: str) -> str:
    text = value.strip()
    if not 1 <= len(text) <= 25:
        raise fail("must be 1-25 characters (e-conomic's product number)")
    return text


def _non_zero(value: Decimal) -> Decimal:
    if value == 0:
        raise fail("must not be 0")
    return value


Description = Annotated[ShortText, AfterValidator(_description)]
LineProduct = Annotated[ShortText, AfterValidator(_product)]
"""Any product number e-conomic takes (`lines[].product.productNumber`: a string of at most 25
characters, economic-schemas/invoices.drafts.post.schema.json), not only the directory's pattern."""
# At most 2 decimals, as e-conomic takes them (`lines[].quantity` and `lines[].unitNetPrice`: maxDecimal 2,
# economic-schemas/invoices.drafts.post.schema.json); the 250 characters of a text are our own limit (e-conomic: 2500).
Quantity = Annotated[Decimal, decimal_between(-MAX_QUANTITY, MAX_QUANTITY, 2), AfterValidator(_non_zero)]
UnitPrice = Annotated[Decimal, decimal_between(-MAX_PRICE, MAX_PRICE, 2), AfterValidator(lambda v: money(v + 0))]
"""Money: shown with its two decimals ("100.00"), as every price and amount is (and never "-0.00")."""
CHANGEABLE = ("productNumber", "description", "quantity", "unitPrice", "period")


class LineIn(WireIn):
    productNumber: LineProduct = Field(
        description="The e-conomic product number the line is booked on (1-25 characters)."
    )
    description: Description = Field(description="Text of the invoice line, 1-250 characters.")
    quantity: Quantity = Field(description="How many units: non-zero, below 1,000,000, at most 2 decimals.")
    unitPrice: UnitPrice = Field(description="Price of one unit in the customer's currency, at most 2 decimals.")
    period: PeriodField | None = Field(None, description="The month the line is for (YYYY-MM), if any.")

    def spec(self) -> LineSpec:
        return LineSpec(self.productNumber, self.description, self.quantity, self.unitPrice, self.period)


class CreateDraftIn(WireIn):
    customerId: PositiveId = Field(description="The customer (from the billing directory) the draft is for.")
    period: PeriodField | None = Field(None, description="The draft's month (YYYY-MM); default: the previous month.")
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES, description=f"1 to {MAX_LINES} manual lines.")


class DraftLineIn(LineIn):
    draftId: PositiveId = Field(description="The draft number.")


class LineRef(WireIn):
    draftId: PositiveId = Field(description="The draft number.")
    lineId: Annotated[ShortText, AfterValidator(lambda v: v.strip())] = Field(
        description="The line's lineId: time:<noteId>, surcharge:<noteId> or manual:<n>."
    )


class LinePatchIn(LineRef):
    productNumber: LineProduct | None = Field(None, description="Manual lines only.")
    description: Description | None = Field(None, description="New text of the line.")
    quantity: Quantity | None = Field(None, description="Manual lines only.")
    unitPrice: UnitPrice | None = Field(
        None, description="New unit price; on a time line the hourly rate (amount and surcharge follow)."
    )
    period: PeriodField | None = Field(None, description="Manual lines only; null clears it.")

    @field_validator("productNumber", "description", "quantity", "unitPrice", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise fail("must not be null (leave the field out to keep it)")
        return value

    def change(self) -> LineChange:
        given = frozenset(self.model_fields_set & set(CHANGEABLE))
        return LineChange(given, self.productNumber, self.description, self.quantity, self.unitPrice, self.period)


class LineOut(WireOut):
    lineId: str = Field(
        description="Stable id of the line in its draft: time:<noteId>, surcharge:<noteId> or manual:<n>."
    )
    kind: str = Field(description="time, surcharge or manual.")
    date: str = Field(
        description="The note's start date in DEFAULT_TIMEZONE (YYYY-MM-DD); manual lines: the day added."
    )
    noteId: str | None = Field(description="The position note (invoiceNoteId) the line bills; null on manual lines.")
    ticketId: int | None = Field(description="The note's ticket.")
    user: str = Field(description="Who did the work (empty on manual lines).")
    hint: str = Field(description="The note's hint (empty on manual lines).")
    minutes: int = Field(description="Billable minutes (0 on surcharge and manual lines).")
    hours: Decimal = Field(description="Billable hours, a decimal string with 2 places.")
    quantity: Decimal = Field(description="Hours (time lines), 1 (surcharge lines) or the manual line's quantity.")
    unitPrice: Decimal = Field(
        description="Hourly rate (time), the amount (surcharge) or the manual line's unit price."
    )
    period: str | None = Field(
        description="The month the line is for (YYYY-MM): the note's, or the manual line's; or null."
    )
    rate: Decimal = Field(
        description="Hourly rate (time lines), surcharge percent (surcharge lines) or unit price (manual)."
    )
    amount: Decimal = Field(description="Line amount, rounded half-up to cents, a decimal string.")
    productNumber: str = Field(description="e-conomic product number of the line.")
    contractId: int | None = Field(description="The service contract that priced it; null on manual lines.")
    description: str = Field(description="Text for the invoice line.")


def line_out(line: Line) -> LineOut:
    return LineOut(
        lineId=line.line_id,
        kind=line.kind,
        date=line.date.isoformat(),
        noteId=line.note_id or None,
        ticketId=line.ticket_id,
        user=line.user,
        hint=line.hint,
        minutes=line.minutes,
        hours=line.hours,
        quantity=line.quantity,
        unitPrice=line.unit_price,
        period=str(line.period) if line.period is not None else None,
        rate=line.rate,
        amount=line.amount,
        productNumber=line.product_number,
        contractId=line.contract_id,
        description=line.description,
    )
