"""Building blocks of the invoicing wire models (`shared.invoicing.schemas`, `shared.invoicing.line_schemas`):
the base classes and the field types with their rules."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

from shared.invoicing.ledger import STATUSES, Status
from shared.invoicing.planning import Period
from shared.validation import ShortText, decimal_between, is_ascii_digits, matching, whole_number

_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_PRODUCT = re.compile(r"[A-Za-z0-9._-]{1,25}", re.ASCII)


def fail(rule: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", rule)


def _name(value: str) -> str:
    if not value.strip():
        raise fail("must be a non-empty string")
    return value.strip()


def whole(minimum: int, maximum: int) -> PlainValidator:
    def check(value: Any) -> int:
        rule = f"must be a whole number between {minimum} and {maximum}"
        if (isinstance(value, str) and is_ascii_digits(value.strip())) or isinstance(value, Decimal):
            value = whole_number(value, rule)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise fail(f"must be a whole number between {minimum} and {maximum}")
        return value

    return PlainValidator(check, json_schema_input_type=int)


def _period(value: Any) -> Period:
    if not isinstance(value, str):
        raise fail("must be a month written YYYY-MM, e.g. 2026-10")
    try:
        return Period.parse(value)
    except ValueError as error:
        raise fail(str(error)) from None


def _status(value: Any) -> Status:
    if value not in STATUSES:
        raise fail(f"must be one of {', '.join(STATUSES)}")
    return value  # type: ignore[no-any-return]


Money = Annotated[Decimal, decimal_between(Decimal(0), Decimal(1_000_000), 2)]
Percent = Annotated[Decimal, decimal_between(Decimal(0), Decimal(1000), 2)]
Name = Annotated[ShortText, AfterValidator(_name)]  # after ShortText's own rules (length, control characters)
Currency = Annotated[str, matching(_CURRENCY, "must be an ISO 4217 code in capitals, e.g. EUR or DKK")]
ProductNumber = Annotated[str, matching(_PRODUCT, "must be 1-25 letters, digits, '.', '_' or '-'")]
PeriodField = Annotated[Period, PlainValidator(_period, json_schema_input_type=str)]
StatusField = Annotated[str, PlainValidator(_status, json_schema_input_type=str)]


class WireIn(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, arbitrary_types_allowed=True)


class WireOut(BaseModel):
    model_config = ConfigDict(frozen=True)
