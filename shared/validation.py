"""Request bodies of the connector actions, and the rules their fields follow.

The models mirror `apiDefinition.swagger.json` of the certified "Tesseron Invoice" connector (field
names, required fields); the rules are what users of a time-recording API expect. Every error names
the field and the rule, so a Logic Apps run history says what to fix.

Values arrive from JSON as Power Automate sends them: booleans may be the strings "true"/"false",
ids may be digit strings, numbers are parsed as `Decimal` (never float).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, PlainValidator, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from shared.email_address import RULE as EMAIL_RULE
from shared.email_address import address_problem
from shared.errors import FieldError, Invalid, invalid
from shared.json_depth import MAX_JSON_DEPTH, NESTING_RULE, too_deep
from shared.text import SURROGATE_RULE, encodable, first_unencodable

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_SPAN = timedelta(days=31)
MAX_ID = 2**53 - 1  # what a JSON number carries exactly in every client (Logic Apps included)
MAX_QUANTITY = Decimal("1000000")


def _fail(rule: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", rule)


def _tz(info: ValidationInfo) -> ZoneInfo:
    context = info.context or {}
    tz = context.get("tz")
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo("Europe/Berlin")


def parse_datetime(value: Any, tz: ZoneInfo) -> datetime:
    """ISO 8601 with an offset or `Z`; without one, local time in `tz` (which must exist and be
    unambiguous there: billing an hour twice, or not at all, at a DST change is worse than asking)."""
    if not isinstance(value, str):
        raise _fail("must be an ISO 8601 date-time string, e.g. 2024-05-01T08:00:00+02:00")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _fail("must be an ISO 8601 date-time, e.g. 2024-05-01T08:00:00+02:00 or 2024-05-01T06:00:00Z") from None
    if parsed.tzinfo is None:
        local = parsed.replace(tzinfo=tz)
        back = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back != parsed:
            raise _fail(f"does not exist in {tz.key} (clocks skip it at a daylight saving change); add an offset")
        other = parsed.replace(tzinfo=tz, fold=1)
        if other.utcoffset() != local.utcoffset():
            raise _fail(f"happens twice in {tz.key} (daylight saving change); add an offset")
        # A fixed offset, not the zone: Python subtracts two datetimes of the same zone by wall
        # clock, which would count a night with a DST change an hour short or long.
        parsed = local.replace(tzinfo=timezone(local.utcoffset() or timedelta(0)))
    if not EARLIEST <= parsed < LATEST:
        raise _fail("must lie between 2000-01-01 and 2100-01-01")
    return parsed


def _datetime(value: Any, info: ValidationInfo) -> datetime:
    return parse_datetime(value, _tz(info))


def _datetime_or_epoch(value: Any, info: ValidationInfo) -> datetime:
    # The connector declares AdditionalSearchData.DateTimeTo as an integer: take Unix seconds too.
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            parsed = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise _fail("must be an ISO 8601 date-time or Unix seconds") from None
        if not EARLIEST <= parsed < LATEST:
            raise _fail("must lie between 2000-01-01 and 2100-01-01")
        return parsed
    return parse_datetime(value, _tz(info))


def is_ascii_digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() is also true for '²' and '٤', which int() reads or refuses."""
    return text.isascii() and text.isdigit()


_MAX_DIGITS = 18
"""More digits than any bound checked here has (MAX_ID has 16): such a number is refused by its rule
before it is made an int, which for 1e600000 takes seconds, and for a string of over 4300 digits fails
with Python's own message."""


def whole_number(value: Any, rule: str) -> Any:
    """`value` as an int when it is a whole number written as digits (optionally signed) or a whole
    Decimal; refused with `rule` when it has more digits than any bound here; anything else unchanged."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value, re.ASCII):
        if len(value.strip().lstrip("-").lstrip("0")) > _MAX_DIGITS:
            raise _fail(rule)
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        if value and value.adjusted() >= _MAX_DIGITS:
            raise _fail(rule)
        return int(value)
    return value


def id_list(
    value: Any, *, most: int, rule: str, not_a_list: str | None = None, too_many: str | None = None
) -> list[int]:
    """Ids as a JSON array or, from a query string, "3,5,8": each a whole number from 1 to MAX_ID
    (`rule` otherwise), at most `most` of them (`too_many`), in the order given. Linear in the input."""
    items = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _fail(not_a_list or rule)
    if len(items) > most:
        raise _fail(too_many or rule)
    ids = []
    for item in items:
        if isinstance(item, str) and is_ascii_digits(item.strip()):
            item = whole_number(item.strip(), rule)
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_ID:
            raise _fail(rule)
        ids.append(item)
    return ids


def _positive_id(value: Any) -> int:
    rule = f"must be a positive whole number no larger than {MAX_ID}"
    if isinstance(value, bool):
        raise _fail("must be a positive whole number")
    if (isinstance(value, str) and is_ascii_digits(value.strip())) or isinstance(value, Decimal):
        value = whole_number(value, rule)
    if not isinstance(value, int):
        raise _fail("must be a positive whole number")
    if not 1 <= value <= MAX_ID:
        raise _fail(rule)
    return value


def whole_between(minimum: int, maximum: int) -> PlainValidator:
    def check(value: Any) -> int:
        value = whole_number(value, f"must be between {minimum} and {maximum}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail("must be a whole number")
        if not minimum <= value <= maximum:
            raise _fail(f"must be between {minimum} and {maximum}")
        return value

    return PlainValidator(check, json_schema_input_type=int)


def decimal_between(minimum: Decimal, maximum: Decimal, places: int) -> PlainValidator:
    """A decimal number in [minimum, maximum] with at most `places` decimals (bool and float refused)."""

    def check(value: Any) -> Decimal:
        if isinstance(value, bool | float):
            raise _fail('must be a decimal number, e.g. 90 or "92.50"')
        if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value.strip()):
            # Text is written plainly, in ASCII digits: "1E+2" or full-width "１" would be stored and
            # shown back as typed.
            raise _fail('must be a decimal number, e.g. 90 or "92.50"')
        try:
            number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise _fail('must be a decimal number, e.g. 90 or "92.50"') from None
        if not number.is_finite() or not minimum <= number <= maximum:
            raise _fail(f"must be between {minimum} and {maximum}")
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)  # finite
        if exponent < -places:
            raise _fail(f"must have at most {places} decimal places")
        return number.quantize(Decimal(1)) if exponent > 0 else number  # a JSON 1e2 is 100, not 1E+2

    return PlainValidator(check, json_schema_input_type=str)


def matching(pattern: re.Pattern[str], rule: str) -> PlainValidator:
    """A string (stripped) that `pattern` matches in full; `rule` otherwise."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
            raise _fail(rule)
        return value.strip()

    return PlainValidator(check, json_schema_input_type=str)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _fail("must be true or false")


_PLAIN_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_CLOCK = re.compile(r"(\d{1,3}):([0-5]\d)(?::([0-5]\d))?", re.ASCII)
_ISO_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", re.IGNORECASE | re.ASCII)


def parse_pause(value: Any) -> timedelta:
    """`HH:MM`, `HH:MM:SS`, whole minutes (number or digits) or an ISO 8601 duration (`PT30M`)."""
    rule = "must be HH:MM, HH:MM:SS, whole minutes or an ISO 8601 duration such as PT30M"
    too_long = f"must be at most {MAX_SPAN.days} days"
    if isinstance(value, bool):
        raise _fail(rule)
    value = whole_number(value, too_long) if isinstance(value, Decimal) else value
    if isinstance(value, int):
        if value < 0:
            raise _fail("must not be negative")
        return _bounded_pause(minutes=value)
    if not isinstance(value, str):
        raise _fail(rule)
    text = value.strip()
    if is_ascii_digits(text):
        return _bounded_pause(minutes=whole_number(text, too_long))
    clock = _CLOCK.fullmatch(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        return timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
    iso = _ISO_DURATION.fullmatch(text)
    if iso and text.upper() not in ("P", "PT") and not text.upper().endswith("T"):
        days, hours, minutes, seconds = (whole_number(g or "0", too_long) for g in iso.groups())
        return _bounded_pause(days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise _fail(rule)


def _bounded_pause(**parts: int) -> timedelta:
    """The pause, refused when longer than any span may be (timedelta itself overflows at 10^9 days)."""
    limit = MAX_SPAN.total_seconds()
    seconds = parts.get("days", 0) * 86400 + parts.get("hours", 0) * 3600 + parts.get("minutes", 0) * 60
    if seconds + parts.get("seconds", 0) > limit:
        raise _fail(f"must be at most {MAX_SPAN.days} days")
    return timedelta(**parts)


def _quantity(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _fail("must be a number")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise _fail("must be a number") from None
    if not number.is_finite() or not Decimal(0) <= number <= MAX_QUANTITY:
        raise _fail(f"must be between 0 and {MAX_QUANTITY}")
    if number.as_tuple().exponent < -4:  # type: ignore[operator]
        raise _fail("must have at most 4 decimal places")
    return number


def _text(max_length: int) -> PlainValidator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _fail("must be a string")
        if len(value) > max_length:
            raise _fail(f"must be at most {max_length} characters")
        if not encodable(value):
            raise _fail(SURROGATE_RULE)
        if any((ord(c) < 32 and c not in "\t\r\n") or 127 <= ord(c) < 160 for c in value):
            raise _fail("must not contain control characters")
        return value

    return PlainValidator(check, json_schema_input_type=str)


def _email(value: Any) -> str:
    """The one e-mail rule (`shared.email_address`): the same the SMTP adapter sends with."""
    if not isinstance(value, str):
        raise _fail(EMAIL_RULE)
    text = value.strip()
    problem = address_problem(text)  # refuses on length first: linear, no backtracking
    if problem is not None:
        raise _fail(problem)
    return text


DateTimeField = Annotated[datetime, PlainValidator(_datetime, json_schema_input_type=str)]
DateTimeOrEpoch = Annotated[datetime, PlainValidator(_datetime_or_epoch, json_schema_input_type=str)]
PositiveId = Annotated[int, PlainValidator(_positive_id, json_schema_input_type=int)]
Flag = Annotated[bool, PlainValidator(_flag, json_schema_input_type=bool)]
Pause = Annotated[timedelta, PlainValidator(lambda v: parse_pause(v), json_schema_input_type=str)]
QuantityValue = Annotated[Decimal, PlainValidator(_quantity, json_schema_input_type=float)]
ShortText = Annotated[str, _text(256)]
Text = Annotated[str, _text(1000)]
LongText = Annotated[str, _text(8000)]
Email = Annotated[str, PlainValidator(_email, json_schema_input_type=str)]


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise Invalid("The request body must be a JSON object.", [FieldError("body", "is required")])
    try:
        # utf-8-sig: some Windows clients start the body with a byte-order mark.
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("The request body must be UTF-8.", [FieldError("body", "must be UTF-8")]) from None
    _refuse_deep_nesting(text)
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        rule = f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise Invalid(f"The request body {rule}.", [FieldError("body", rule)]) from None
    except ValueError:  # a number of over 4300 digits (Python's limit on reading ints)
        rule = "has a number too long to read"
        raise Invalid(f"The request body {rule}.", [FieldError("body", rule)]) from None
    if not isinstance(data, dict):
        raise Invalid("The request body must be a JSON object.", [FieldError("body", "must be a JSON object")])
    if _SURROGATE_ESCAPE.search(text):  # only a \uD800-\uDFFF escape decodes to a lone surrogate
        _refuse_unencodable(data)
    return data


def _refuse_unencodable(data: dict[str, Any]) -> None:
    """A lone surrogate (`"\\udc80"`) decodes, but could be stored and then never read back: refused
    wherever it stands in the body, naming where (whether or not the operation reads that field)."""
    path = first_unencodable(data)
    if path is not None:
        raise Invalid(f"The request is invalid: {path}.", [FieldError(path, SURROGATE_RULE)])


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_deep_nesting(text: str) -> None:
    """Before json.loads, whose recursion a thousand levels of nesting exhaust (RecursionError: a 500)."""
    if too_deep(text):
        message = f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep."
        raise Invalid(message, [FieldError("body", NESTING_RULE)])


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: dict[str, Any], tz: ZoneInfo) -> M:
    try:
        return model.model_validate(data, context={"tz": tz})
    except ValidationError as exc:
        raise invalid([_field_error(e) for e in exc.errors(include_url=False)]) from None


def _field_error(error: Any) -> FieldError:
    # `link[0].customerId`: list items as the service's own checks name them (never `link.0.customerId`).
    name = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".") or "body"
    if error["type"] == "missing":
        return FieldError(name, "is required")
    if error["type"] in ("model_type", "model_attributes_type"):
        return FieldError(name, "must be a JSON object")
    return FieldError(name, str(error["msg"]))
