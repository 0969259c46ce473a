"""What the stand-in's answers are made of: e-conomic's constants and error codes, product numbers
in self links, JSON with `Decimal` numbers, e-conomic's error body and the answer the HTTP handler
writes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote, unquote

BASE_CURRENCY = "DKK"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 20
IDEMPOTENCY_SECONDS = 3600.0
CENT = Decimal("0.01")
CURRENCIES = frozenset({"DKK", "EUR", "USD", "SEK", "NOK", "GBP", "CHF", "PLN", "ISK"})
EXCHANGE_RATES = {"DKK": Decimal(100), "EUR": Decimal("746.05"), "USD": Decimal("689.40"), "SEK": Decimal("64.20")}
"""DKK per 100 units, used when a document in a foreign currency gives no `exchangeRate`."""

TOKEN_HEADERS = ("x-appsecrettoken", "x-agreementgranttoken")

# e-conomic's documented codes ...
VALIDATION_FAILED = "E04300"
DOES_NOT_EXIST = "E06000"
NO_IDENTIFIER = "E04500"
NEEDS_VALUE = "E04730"
TOO_MANY_DECIMALS = "E04740"
# ... and this stand-in's approximations.
NUMBER_USED = "E04100"
UNAUTHORIZED = "E00500"
FORBIDDEN = "E00400"
REQUIRED = "E04010"
NULL_REFUSED = "E04020"
SCHEMA_REFUSED = "E04000"
UNSUPPORTED_MEDIA_TYPE = "E00415"
RATE_LIMITED = "E07000"
SERVER_ERROR = "E00000"

Kind = Literal["draftInvoice", "order"]
_SELF_LINK_CHARS = {
    "<": 0,
    ">": 1,
    "*": 2,
    "%": 3,
    ":": 4,
    "&": 5,
    "/": 6,
    "\\": 7,
    "_": 8,
    " ": 9,
    "?": 10,
    ".": 11,
    "#": 12,
    "+": 13,
}
_SELF_LINK_BACK = {number: char for char, number in _SELF_LINK_CHARS.items()}


def encode_self_id(identifier: str) -> str:
    """A product number as e-conomic writes it in a URL: `My Product_5%` -> `My_9_Product_8_5_3_`."""
    return "".join(
        f"_{_SELF_LINK_CHARS[c]}_" if c in _SELF_LINK_CHARS else (c if c.isalnum() else quote(c, safe=""))
        for c in identifier
    )


def decode_self_id(segment: str) -> str:
    return unquote(re.sub(r"_(\d{1,2})_", lambda m: _SELF_LINK_BACK.get(int(m.group(1)), m.group(0)), segment))


# --- JSON -------------------------------------------------------------------------------------------


def dumps(value: Any) -> str:
    """JSON text; a `Decimal` is written as the number it is (never through float)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, bool | int):
        return json.dumps(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("not a finite number")
        return format(value, "f")
    if isinstance(value, float):
        return json.dumps(value, allow_nan=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: bytes | str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)


@dataclass
class _Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    drop: bool = False
    hang: float | None = None


def _error_body(status: int, message: str, code: str, hint: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "errorCode": code}
    if hint:
        body["developerHint"] = hint
    body["logId"] = uuid.uuid4().hex[:16] + "-STANDIN"
    body["httpStatusCode"] = status
    body["logTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    body.update(extra)
    return body


_REASONS = {400: "Bad Request", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def _seconds_text(seconds: float | str) -> str:
    if isinstance(seconds, str):
        return seconds
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)
