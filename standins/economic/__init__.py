"""A local stand-in for e-conomic's REST API (https://restapi.e-conomic.com), over plain HTTP on
127.0.0.1, for tests and benchmarks that drive `shared.adapters.economic` for real.

    with EconomicStandin(
        app_secret_token="app-secret", grant_tokens={"tenant-a": "grant-a"}, schema_dir=schemas
    ) as economic:
        agreement = economic.agreement("grant-a").seed_defaults()
        agreement.add_customer(7, "Acme A/S")
        client = EconomicClient(tokens, base_url=economic.base_url)

`schemas` is the directory of e-conomic's published JSON schemas (`economic-schemas` in the reference
material beside the repository); the caller finds it and passes it in.

What it speaks (what e-conomic does, as far as its documentation and published client tests say):
- Auth: `X-AppSecretToken` and `X-AgreementGrantToken` on every request, else 401 (with a `demoLink`, as
  e-conomic's 401s carry). One agreement per grant token, each with its own data. An agreement set
  `read_only` answers writes with 403 (e-conomic: the grant's roles do not allow it).
- JSON only: POST/PUT without `Content-Type: application/json` get 415. `null` anywhere is refused.
- Collections: `{"collection", "pagination": {skipPages, pageSize, maxPageSizeAllowed, results,
  resultsWithoutFilter, firstPage, nextPage?, lastPage}, "self"}`; `skippages`, `pagesize` (default 20,
  at most 1000); `filter` with `$eq: $ne: $gt: $gte: $lt: $lte: $like: $in:[..] $nin:[..] $and: $or:`,
  parentheses, `$null:` and the escapes `$$ $( $) $* $, $[ $]`, on the properties the collection's
  schema marks `"filterable": true` (others: 400 "Filtering is not allowed on property ...", with
  `allowedFilteringFields`). String filters are case-insensitive, as e-conomic's are. `sort=name`
  (ascending), `sort=-name` (descending), dotted names such as `customer.customerNumber`, several
  separated by commas, on the properties the schema marks `"sortable": true` (others: 400 "Sorting is
  not allowed on property ...", with `allowedSortingFields`); strings sort without case, a missing
  value sorts first (last when descending), ties keep the number order. Without `sort` a collection is
  in number order. The pagination links carry `filter` and `sort`.
- Draft invoices and orders: POST bodies are validated with the published draft-03 schema
  (`<resource>.post.schema.json`, `Draft3Validator`), plus `maxDecimal` (not a draft-03 keyword),
  plus the rules the schema cannot say: customer, layout, payment terms, VAT zone, currency and
  products must exist; a line with `quantity`/`unitNetPrice` needs a `product`, and a line with a
  product needs a `quantity`. Refusals are 400 `E04300` with the annotated `errors` document; line
  errors sit under `errors.lines.items[]` with `arrayIndex`. Created: 201 with the whole document,
  priced by the server with `Decimal` (line totals, `netAmount`, `vatAmount` from the recipient's VAT
  zone, `grossAmount`, rounded half-up to cents). Collection listings of drafts carry no `lines`.
  Numbers are reused: a new document gets the lowest free number.
- Orders: `/orders/drafts` (written like draft invoices) and `/orders/sent` (read only; e-conomic
  publishes no `orders.sent` schema, so its filterable and sortable fields are those of
  `orders.drafts.get`). Order numbers are one series: a new order never takes a sent order's number.
- Booked invoices: `GET /invoices/booked` (listings without `lines`) and `/invoices/booked/{n}`.
  `POST /invoices/booked` `{"draftInvoice": {"draftInvoiceNumber": n}, "bookWithNumber"?, "sendBy"?}`
  books a draft invoice (validated with `invoices.booked.post`): the draft leaves `/invoices/drafts`
  and the answer is 201 with the booked invoice, which carries what the booked schema has of the
  draft (amounts, customer, recipient, references with `other`, lines...) plus `bookedInvoiceNumber`,
  `remainder`/`remainderInBaseCurrency` (all unpaid) and its own `pdf` and `self`. An unknown draft
  is refused (E04300, `errors.draftInvoice.draftInvoiceNumber`), as is a `bookWithNumber` already
  used (`errors.bookWithNumber`). Without `bookWithNumber` the number is one above the highest ever
  booked in the agreement (the first is `Agreement.first_booked_number`, 10001): booked invoices
  cannot be deleted and their numbers are never reused, unlike drafts'. A booked invoice is never
  sent anywhere (`sendBy` is accepted and ignored).
- Sending an order and upgrading an order to a draft invoice are what an accountant does in
  e-conomic's web app (the REST API's own ways, such as POSTing the order's `templates`
  `upgradeInstructions` document to `/invoices/drafts`, are not spoken here), so they are helpers:
  `Agreement.send_order` (the order moves from `/orders/drafts` to `/orders/sent`, keeping its number)
  and `Agreement.upgrade_order` (the order leaves `/orders/drafts` or `/orders/sent` and a new draft
  invoice with its content, `references.other` included, takes the lowest free draft number); and,
  for the local sandbox, the stand-in's own routes `POST /_standin/orders/{n}/send` and
  `POST /_standin/orders/{n}/upgrade` (NOT e-conomic's API: both tokens required, 200 with the sent
  order or the new draft invoice, 404 when there is no such order; no rate tokens, no injected
  failures, not refused by `read_only`: a person in the web app did it, not the app).
- `DELETE /invoices/drafts/{n}` answers 200 `{"message", "deletedCount": 1, "deletedItems": [...]}`;
  404 `E06000` when there is no such draft. `DELETE /invoices/drafts` (or `/orders/drafts`) without a
  number deletes every draft in e-conomic: here it answers 400 and is recorded in `forbidden_calls`.
- `Idempotency-Key` on POST/DELETE: the first answer (not a 5xx) for a key, per agreement, method and
  path, is replayed for an hour with `X-ResultFromCache: true`.
- Rate: a token bucket per agreement (default 10000 tokens per 60 s, refilling continuously); every
  answer to a known agreement carries `X-RateLimiting: token-limit-10000-per-60-seconds: <used>/<limit>`
  and `X-CallCost`; an empty bucket answers 429 with `Retry-After`. `max_tokens_used` and
  `rate_refusals` say whether a run stayed inside the budget.

Failure injection (thread-safe, at any time): `fail_next`, `slow_next`, `latency`, `fail_on_create`,
`drop_after_create`. Record: `calls[(method, template)]`, `log` (every request, tokens redacted),
`forbidden_calls`. Latency and hangs are slept outside every lock.

Error codes: `E04300` (validation), `E06000` (not found / does not exist), `E04500` (no identifier),
`E04730` (a value another needs), `E04740` (too many decimals) are e-conomic's documented codes. The
others (`E00500` 401, `E00400` 403, `E04010` required, `E04020` null, `E04000` other schema refusals,
`E04100` a number already used, `E00415`, `E07000` 429, `E00000` 5xx, `E00001`/`E00002`/`E00405`
other refusals) are this stand-in's own approximations.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import math
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.message import Message
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from jsonschema import Draft3Validator

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


# --- schemas ----------------------------------------------------------------------------------------


@cache
def _schema(schema_dir: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schema_dir / f"{name}.schema.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _validator(schema_dir: Path, name: str) -> Draft3Validator:
    return Draft3Validator(_schema(schema_dir, name))


def _flagged(schema: Mapping[str, Any], flag: str, prefix: str = "") -> list[str]:
    """The dotted names of the properties (objects' included, arrays' not) the schema marks `flag`."""
    fields: list[str] = []
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if sub.get(flag):
            fields.append(prefix + name)
        if sub.get("type") == "object":
            fields.extend(_flagged(sub, flag, f"{prefix}{name}."))
    return fields


def _filterable(schema: Mapping[str, Any]) -> list[str]:
    return _flagged(schema, "filterable")


def _sortable(schema: Mapping[str, Any]) -> list[str]:
    return _flagged(schema, "sortable")


def _project(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` keeping only what `schema` describes: an object's properties the schema names (in the
    schema's order), an array's items likewise; a value the schema says nothing more about as it is."""
    properties = schema.get("properties")
    if isinstance(value, dict) and isinstance(properties, dict):
        return {
            name: _project(value[name], sub if isinstance(sub, dict) else {})
            for name, sub in properties.items()
            if name in value
        }
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        return [_project(item, items) for item in value]
    return copy.deepcopy(value)


# --- filters ----------------------------------------------------------------------------------------

_WILDCARD = "\ue000"
_ESCAPES = {"$$": "$", "$(": "(", "$)": ")", "$*": "*", "$,": ",", "$[": "[", "$]": "]"}
_OPERATORS = ("$eq:", "$ne:", "$gte:", "$gt:", "$lte:", "$lt:", "$like:", "$in:", "$nin:")
_JOINERS = {"$and:": "and", "$or:": "or"}
_NULL = "$null:"


class FilterError(ValueError):
    pass


Token = tuple[str, str | None]


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            out.append(("text", "".join(buf)))
            buf.clear()

    i = 0
    while i < len(text):
        c = text[i]
        if c == "$":
            if text[i : i + 2] in _ESCAPES:
                buf.append(_ESCAPES[text[i : i + 2]])
                i += 2
                continue
            if text.startswith(_NULL, i):
                flush()
                out.append(("null", None))
                i += len(_NULL)
                continue
            for op in (*_OPERATORS, *_JOINERS):
                if text.startswith(op, i):
                    flush()
                    out.append(("join", _JOINERS[op]) if op in _JOINERS else ("op", op[1:-1]))
                    i += len(op)
                    break
            else:
                raise FilterError(f"Unknown operator or escape at position {i}: {text[i : i + 6]!r}.")
            continue
        if c in "()[],":
            flush()
            out.append((c, None))
        else:
            buf.append(_WILDCARD if c == "*" else c)
        i += 1
    flush()
    return out


@dataclass(frozen=True)
class _Predicate:
    field: str
    op: str
    value: str | None  # None: $null:
    values: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class _Join:
    op: str
    left: Any
    right: Any


class _FilterParser:
    def __init__(self, tokens: list[Token], allowed: Sequence[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.allowed = allowed

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError("The filter ends too early.")
        self.pos += 1
        return token

    def parse(self) -> Any:
        node = self.expr()
        if self.peek() is not None:
            raise FilterError(f"Unexpected {self.peek()!r} in the filter.")
        return node

    def expr(self) -> Any:
        node = self.conjunction()
        while self.peek() == ("join", "or"):
            self.take()
            node = _Join("or", node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.atom()
        while self.peek() == ("join", "and"):
            self.take()
            node = _Join("and", node, self.atom())
        return node

    def atom(self) -> Any:
        kind, text = self.take()
        if kind == "(":
            node = self.expr()
            if self.take()[0] != ")":
                raise FilterError("A '(' in the filter is not closed.")
            return node
        if kind != "text" or not text:
            raise FilterError("A filter predicate must start with a property name.")
        name = text.replace(_WILDCARD, "*")
        if name not in self.allowed:
            raise FilterError(f"Filtering is not allowed on property '{name}'.")
        kind, op = self.take()
        if kind != "op" or op is None:
            raise FilterError(f"Expected an operator after '{name}'.")
        if op in ("in", "nin"):
            return _Predicate(name, op, "", self.array())
        parts: list[str] = []
        is_null = False
        while (token := self.peek()) is not None and token[0] in ("text", ",", "null"):
            self.take()
            if token[0] == "null":
                is_null = True
            else:
                parts.append(token[1] or ",")
        if is_null and not parts:
            return _Predicate(name, op, None)
        return _Predicate(name, op, "".join(parts))

    def array(self) -> tuple[str | None, ...]:
        if self.take()[0] != "[":
            raise FilterError("$in: and $nin: take a list in brackets, e.g. customerNumber$in:[2,5,7].")
        values: list[str | None] = []
        while True:
            kind, text = self.take()
            if kind == "null":
                values.append(None)
            elif kind == "text" and text is not None:
                values.append(text.strip())
            elif kind == "]" and not values:
                break
            else:
                raise FilterError("Unexpected token in a $in:/$nin: list.")
            kind, _ = self.take()
            if kind == "]":
                break
            if kind != ",":
                raise FilterError("Values in a $in:/$nin: list are separated by commas.")
        if len(values) > 200:
            raise FilterError("A $in:/$nin: list has at most 200 values.")
        for value in values:
            if value is not None:
                try:
                    Decimal(value)
                except InvalidOperation:
                    raise FilterError("$in: and $nin: are only allowed on numeric properties.") from None
        return tuple(values)


def parse_filter(text: str, allowed: Sequence[str]) -> Any:
    return _FilterParser(_tokens(text), allowed).parse()


class SortError(ValueError):
    pass


def parse_sort(text: str, allowed: Sequence[str]) -> list[tuple[str, bool]]:
    """`sort=name`, `sort=-name`, `sort=name,-customerNumber` as [(property, descending)]."""
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part[1:] if descending else part
        if not name:
            raise SortError("A sort property is missing: sort=name, or sort=-name for descending.")
        if name not in allowed:
            raise SortError(f"Sorting is not allowed on property '{name}'.")
        keys.append((name, descending))
    return keys


def _sort_key(value: Any) -> tuple[int, Decimal, str]:
    """Missing values first, then numbers (and booleans), then strings without case, then the rest."""
    if value is None:
        return (0, Decimal(0), "")
    if isinstance(value, bool | int | Decimal | float):
        return (1, Decimal(str(int(value) if isinstance(value, bool) else value)), "")
    if isinstance(value, str):
        return (2, Decimal(0), value.casefold())
    return (3, Decimal(0), dumps(value))


def sort_documents(documents: Sequence[Mapping[str, Any]], keys: Sequence[tuple[str, bool]]) -> list[Any]:
    """The documents in the order of `keys` (the first decides, the next break ties...); documents the
    keys do not tell apart keep their order (stable sorts, from the last key to the first)."""
    ordered = list(documents)
    for name, descending in reversed(keys):
        ordered.sort(key=lambda d: _sort_key(_dig(d, name)), reverse=descending)
    return ordered


def _dig(document: Mapping[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _compare(actual: Any, text: str) -> int | None:
    """-1/0/1 comparing a document value with a filter value; None when they cannot be compared."""
    a: Any
    b: Any
    if isinstance(actual, bool):
        a, b = str(actual).lower(), text.strip().lower()
    elif isinstance(actual, int | Decimal | float):
        try:
            a, b = Decimal(str(actual)), Decimal(text)
        except InvalidOperation:
            return None
    elif isinstance(actual, str):
        a, b = actual.casefold(), text.replace(_WILDCARD, "*").casefold()
    else:
        return None
    return int(a > b) - int(a < b)


def matches(document: Mapping[str, Any], node: Any) -> bool:
    if isinstance(node, _Join):
        if node.op == "and":
            return matches(document, node.left) and matches(document, node.right)
        return matches(document, node.left) or matches(document, node.right)
    assert isinstance(node, _Predicate)
    actual = _dig(document, node.field)
    if node.op in ("in", "nin"):
        found = any(
            (actual is None) if v is None else (actual is not None and _compare(actual, v) == 0) for v in node.values
        )
        return found if node.op == "in" else not found
    if node.value is None:
        return (actual is None) == (node.op == "eq")
    if actual is None:
        return node.op == "ne"
    if node.op == "like":
        if not isinstance(actual, str):
            return False
        pattern = node.value if _WILDCARD in node.value else f"{_WILDCARD}{node.value}{_WILDCARD}"
        regex = ".*".join(re.escape(part) for part in pattern.split(_WILDCARD))
        return re.fullmatch(regex, actual, re.IGNORECASE | re.DOTALL) is not None
    order = _compare(actual, node.value)
    if order is None:
        return node.op == "ne"
    return {"eq": order == 0, "ne": order != 0, "gt": order > 0, "gte": order >= 0, "lt": order < 0, "lte": order <= 0}[
        node.op
    ]


# --- the agreement's data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    path: str
    attribute: str
    number_field: str
    schema: str
    string_key: bool = False
    kind: Kind | None = None
    """Set on the drafts collections, which take POST (create) and DELETE."""
    listed_without_lines: bool = False
    """Collection listings leave `lines` out (e-conomic's collection schemas have none)."""


RESOURCES: dict[str, Resource] = {
    r.path: r
    for r in (
        Resource("/customers", "customers", "customerNumber", "customers"),
        Resource("/customer-groups", "customer_groups", "customerGroupNumber", "customer-groups"),
        Resource("/layouts", "layouts", "layoutNumber", "layouts"),
        Resource("/products", "products", "productNumber", "products", string_key=True),
        Resource("/vat-zones", "vat_zones", "vatZoneNumber", "vat-zones"),
        Resource("/payment-terms", "payment_terms", "paymentTermsNumber", "payment-terms"),
        Resource(
            "/invoices/drafts",
            "invoice_drafts",
            "draftInvoiceNumber",
            "invoices.drafts",
            kind="draftInvoice",
            listed_without_lines=True,
        ),
        Resource(
            "/orders/drafts", "order_drafts", "orderNumber", "orders.drafts", kind="order", listed_without_lines=True
        ),
        # e-conomic publishes no orders.sent schema: a sent order is the same document as a draft one.
        Resource("/orders/sent", "orders_sent", "orderNumber", "orders.drafts", listed_without_lines=True),
        Resource(
            "/invoices/booked", "booked_invoices", "bookedInvoiceNumber", "invoices.booked", listed_without_lines=True
        ),
    )
}
DRAFT_RESOURCES = {r.kind: r for r in RESOURCES.values() if r.kind is not None}
BOOKED = RESOURCES["/invoices/booked"]
"""The one collection besides the drafts that takes a POST: booking a draft invoice."""
BOOKED_SCHEMA = "invoices.booked.bookedInvoiceNumber.get"
FIRST_BOOKED_NUMBER = 10001
_STANDIN_ORDER_ROUTE = re.compile(r"/_standin/orders/([^/]+)/(send|upgrade)")
"""The stand-in's own routes for the local sandbox (not e-conomic's API): what the web app does."""
_DRAFT_ONLY = ("lastUpdated", "soap", "templates", "attachment")


class _Bucket:
    """e-conomic's token bucket: `limit` tokens, refilled continuously over `window` seconds."""

    def __init__(self, limit: int, window: int, clock: Callable[[], float]) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self.tokens = float(limit)
        self.at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(float(self.limit), self.tokens + (now - self.at) * self.limit / self.window)
        self.at = now

    def take(self, cost: int) -> float | None:
        """Takes `cost` tokens; None when taken, else the seconds until they would be there."""
        self._refill()
        if self.tokens >= cost:
            self.tokens -= cost
            return None
        return (cost - self.tokens) * self.window / self.limit

    @property
    def used(self) -> int:
        self._refill()
        return max(0, math.ceil(self.limit - self.tokens - 1e-9))

    def header(self) -> str:
        return f"token-limit-{self.limit}-per-{self.window}-seconds: {self.used}/{self.limit}"


@dataclass
class _Cached:
    status: int
    headers: dict[str, str]
    body: Any
    expires: float


class Agreement:
    """One e-conomic agreement: its data (plain dicts keyed by number; seed and inspect them freely)
    and its rate bucket. Documents are stored as e-conomic answers them, `self` links included."""

    def __init__(self, standin: EconomicStandin, grant_token: str, tenant: str, number: int) -> None:
        self._standin = standin
        self.grant_token = grant_token
        self.tenant = tenant
        self.agreement_number = number
        self.read_only = False
        self.currencies: set[str] = set(CURRENCIES)
        self.customers: dict[int, dict[str, Any]] = {}
        self.customer_groups: dict[int, dict[str, Any]] = {}
        self.layouts: dict[int, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.vat_zones: dict[int, dict[str, Any]] = {}
        self.vat_rates: dict[int, Decimal] = {}
        self.payment_terms: dict[int, dict[str, Any]] = {}
        self.invoice_drafts: dict[int, dict[str, Any]] = {}
        self.order_drafts: dict[int, dict[str, Any]] = {}
        self.orders_sent: dict[int, dict[str, Any]] = {}
        self.booked_invoices: dict[int, dict[str, Any]] = {}
        self.first_booked_number = FIRST_BOOKED_NUMBER
        """The number e-conomic gives the agreement's first booked invoice (the agreement's setting)."""
        self._highest_booked = 0
        self.bucket = _Bucket(standin.rate_limit, standin.rate_window, standin.clock)
        self.max_used = 0
        self.rate_refusals = 0
        self.idempotency: dict[tuple[str, str, str], _Cached] = {}

    def _url(self, path: str) -> str:
        return self._standin.base_url + path

    def _ref(self, resource: str, number: int, field_name: str) -> dict[str, Any]:
        return {field_name: number, "self": self._url(f"/{resource}/{number}")}

    # --- seeding --------------------------------------------------------------------------------

    def add_vat_zone(self, number: int, name: str, *, rate: Decimal | str = "0") -> dict[str, Any]:
        """A VAT zone; `rate` (e.g. "0.25") is the stand-in's own: the VAT a document in this zone gets."""
        doc = {"vatZoneNumber": number, "name": name, "enabledForCustomer": True, "enabledForSupplier": True}
        doc["self"] = self._url(f"/vat-zones/{number}")
        with self._standin.lock:
            self.vat_zones[number] = doc
            self.vat_rates[number] = Decimal(rate)
        return doc

    def add_payment_terms(self, number: int, name: str, *, days: int = 14, type: str = "net") -> dict[str, Any]:
        doc = {
            "paymentTermsNumber": number,
            "daysOfCredit": days,
            "name": name,
            "paymentTermsType": type,
            "self": self._url(f"/payment-terms/{number}"),
        }
        with self._standin.lock:
            self.payment_terms[number] = doc
        return doc

    def add_layout(self, number: int, name: str, *, deleted: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {"layoutNumber": number, "name": name, "self": self._url(f"/layouts/{number}")}
        if deleted:
            doc["deleted"] = True
        with self._standin.lock:
            self.layouts[number] = doc
        return doc

    def add_customer_group(self, number: int, name: str, layout: int | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"customerGroupNumber": number, "name": name}
        if layout is not None:
            doc["layout"] = self._ref("layouts", layout, "layoutNumber")
        doc["customers"] = self._url(f"/customer-groups/{number}/customers")
        doc["self"] = self._url(f"/customer-groups/{number}")
        with self._standin.lock:
            self.customer_groups[number] = doc
        return doc

    def add_product(
        self,
        number: str,
        name: str,
        price: Decimal | str | int = "100.00",
        *,
        cost_price: Decimal | str | None = None,
        barred: bool = False,
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {"productNumber": number, "name": name, "salesPrice": Decimal(price)}
        if cost_price is not None:
            doc["costPrice"] = Decimal(cost_price)
        if barred:
            doc["barred"] = True
        doc["productGroup"] = {"productGroupNumber": 1, "self": self._url("/product-groups/1")}
        doc["self"] = self._url(f"/products/{encode_self_id(number)}")
        with self._standin.lock:
            self.products[number] = doc
        return doc

    def add_customer(
        self,
        number: int,
        name: str,
        *,
        currency: str = "DKK",
        group: int = 1,
        layout: int | None = None,
        vat_zone: int = 1,
        payment_terms: int = 1,
        email: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A customer as e-conomic answers it; `fields` adds others (`address`, `zip`, `city`, `ean`...)."""
        doc: dict[str, Any] = {
            "customerNumber": number,
            "currency": currency,
            "paymentTerms": self._ref("payment-terms", payment_terms, "paymentTermsNumber"),
            "customerGroup": self._ref("customer-groups", group, "customerGroupNumber"),
            "name": name,
            "vatZone": self._ref("vat-zones", vat_zone, "vatZoneNumber"),
            "balance": Decimal("0.00"),
            "dueAmount": Decimal("0.00"),
        }
        if layout is not None:
            doc["layout"] = self._ref("layouts", layout, "layoutNumber")
        if email is not None:
            doc["email"] = email
        doc.update(fields)
        doc["lastUpdated"] = _now_text()
        doc["self"] = self._url(f"/customers/{number}")
        with self._standin.lock:
            self.customers[number] = doc
        return doc

    def seed_defaults(self) -> Agreement:
        """A small, sensible catalog: VAT zones 1 Domestic (25 %), 2 EU, 3 Abroad; payment terms 1 "Net 14
        days", 2 "Net 30 days"; layouts 19 and 21; customer groups 1 "Domestic customers" (layout 19) and
        2 "Foreign customers" (no layout); products "1" Consulting hour 950.00, "2" Support hour 750.00,
        "KM" Mileage 3.51; customers 1 Acme A/S (DKK, group 1), 2 Globex GmbH (EUR, group 2, layout 21),
        3 Initech Ltd (GBP, group 2, no layout anywhere)."""
        self.add_vat_zone(1, "Domestic", rate="0.25")
        self.add_vat_zone(2, "EU")
        self.add_vat_zone(3, "Abroad")
        self.add_payment_terms(1, "Net 14 days", days=14)
        self.add_payment_terms(2, "Net 30 days", days=30)
        self.add_layout(19, "Standard invoice")
        self.add_layout(21, "English invoice")
        self.add_customer_group(1, "Domestic customers", layout=19)
        self.add_customer_group(2, "Foreign customers")
        self.add_product("1", "Consulting hour", "950.00")
        self.add_product("2", "Support hour", "750.00")
        self.add_product("KM", "Mileage", "3.51")
        self.add_customer(1, "Acme A/S", address="Vejlevej 21", zip="7000", city="Fredericia", country="Denmark")
        self.add_customer(2, "Globex GmbH", currency="EUR", group=2, layout=21, vat_zone=2, payment_terms=2)
        self.add_customer(3, "Initech Ltd", currency="GBP", group=2, vat_zone=3)
        return self

    # --- documents ------------------------------------------------------------------------------

    def drafts(self, kind: Kind) -> dict[int, dict[str, Any]]:
        return self.invoice_drafts if kind == "draftInvoice" else self.order_drafts

    def find_drafts(self, kind: Kind, reference: str) -> list[dict[str, Any]]:
        with self._standin.lock:
            return [d for d in self.drafts(kind).values() if _dig(d, "references.other") == reference]

    def book(self, draft_number: int, *, number: int | None = None, date: str | date | None = None) -> dict[str, Any]:
        """e-conomic books the draft invoice, as `POST /invoices/booked` does: the draft leaves
        `invoice_drafts` and the booked invoice is returned. `number` is `bookWithNumber`; `date`
        (YYYY-MM-DD) is the invoice date an accountant set before booking (the due date follows it,
        unless the payment terms are of type `dueDate`). KeyError: no such draft; ValueError: `number`
        is already a booked invoice's."""
        when = None if date is None else _date_text(date)
        with self._standin.lock:
            if draft_number not in self.invoice_drafts:
                raise KeyError(f"no draft invoice {draft_number}")
            if number is not None and number in self.booked_invoices:
                raise ValueError(f"booked invoice {number} exists already")
            return copy.deepcopy(self._book(draft_number, number, when))

    def add_booked(self, number: int, **fields: Any) -> dict[str, Any]:
        """Seeds booked invoice `number` (one booked by someone else, say, with `references={"other":
        "XYZ"}`): a DKK invoice of today to customer 1, for 0.00, unless `fields` say otherwise;
        `customer` may be given as a number. Money given as text or int becomes `Decimal`;
        `remainder`/`remainderInBaseCurrency` default to the gross amounts (unpaid)."""
        today = datetime.now(UTC).date().isoformat()
        customer_number = fields.pop("customer", 1)
        zero = Decimal("0.00")
        with self._standin.lock:
            customer = (
                customer_number
                if isinstance(customer_number, dict)
                else self._ref("customers", int(customer_number), "customerNumber")
            )
            known = self.customers.get(customer.get("customerNumber", -1), {})
            doc: dict[str, Any] = {
                "bookedInvoiceNumber": number,
                "date": today,
                "currency": BASE_CURRENCY,
                "exchangeRate": Decimal(100),
                "netAmount": zero,
                "netAmountInBaseCurrency": zero,
                "grossAmount": zero,
                "grossAmountInBaseCurrency": zero,
                "vatAmount": zero,
                "roundingAmount": zero,
                "customer": customer,
                "recipient": {
                    "name": known.get("name", f"Customer {customer.get('customerNumber')}"),
                    "vatZone": copy.deepcopy(known.get("vatZone") or self._ref("vat-zones", 1, "vatZoneNumber")),
                },
            }
            doc.update(copy.deepcopy(fields))
            for name in ("date", "dueDate"):
                if isinstance(doc.get(name), date):
                    doc[name] = doc[name].isoformat()
            for name in _DECIMAL_FIELDS:
                if isinstance(doc.get(name), str | int) and not isinstance(doc[name], bool):
                    doc[name] = Decimal(doc[name])
            doc.setdefault("dueDate", doc["date"])
            doc.setdefault("remainder", doc["grossAmount"])
            doc.setdefault("remainderInBaseCurrency", doc["grossAmountInBaseCurrency"])
            doc["bookedInvoiceNumber"] = number
            return copy.deepcopy(self._file_booked(doc))

    def send_order(self, order_number: int) -> dict[str, Any]:
        """e-conomic registers the order as sent (the web app does it when the order is sent to the
        customer): it moves from `/orders/drafts` to `/orders/sent`, keeping its number; returns the
        sent order. An order already sent is returned as it is. KeyError: no such order."""
        with self._standin.lock:
            sent = self.orders_sent.get(order_number)
            if sent is None:
                order = self.order_drafts.pop(order_number, None)
                if order is None:
                    raise KeyError(f"no order {order_number}")
                sent = copy.deepcopy(order)
                self_link = self._url(f"/orders/sent/{order_number}")
                sent["lastUpdated"] = _now_text()
                sent["pdf"] = {"download": f"{self_link}/pdf"}
                sent["self"] = self_link
                self.orders_sent[order_number] = sent
            return copy.deepcopy(sent)

    def upgrade_order(self, order_number: int) -> dict[str, Any]:
        """e-conomic upgrades the order to a draft invoice: the order leaves `/orders/drafts` (or
        `/orders/sent`) and a draft invoice with its content (date, currency, customer, recipient,
        references with `other`, notes, lines, amounts...) takes the lowest free draft invoice number;
        returns the new draft. KeyError: no such order."""
        with self._standin.lock:
            order = self.order_drafts.pop(order_number, None)
            if order is None:
                order = self.orders_sent.pop(order_number, None)
            if order is None:
                raise KeyError(f"no order {order_number}")
            number = next(n for n in itertools.count(1) if n not in self.invoice_drafts)
            draft: dict[str, Any] = {"draftInvoiceNumber": number}
            draft.update(
                (k, copy.deepcopy(v)) for k, v in order.items() if k not in ("orderNumber", "pdf", "self", *_DRAFT_ONLY)
            )
            self_link = self._url(f"/invoices/drafts/{number}")
            draft["lastUpdated"] = _now_text()
            draft["pdf"] = {"download": f"{self_link}/pdf"}
            draft["self"] = self_link
            self.invoice_drafts[number] = draft
            return copy.deepcopy(draft)

    # --- booking ------------------------------------------------------------------------------

    def next_booked_number(self) -> int:
        """The number e-conomic gives the next invoice booked without `bookWithNumber`: one above the
        highest ever booked here (booked invoices cannot be deleted; their numbers are never reused)."""
        with self._standin.lock:
            return max(self.first_booked_number, self._highest_booked + 1, max(self.booked_invoices, default=0) + 1)

    def _file_booked(self, doc: dict[str, Any]) -> dict[str, Any]:
        number = int(doc["bookedInvoiceNumber"])
        self_link = self._url(f"/invoices/booked/{number}")
        doc["pdf"] = {"download": f"{self_link}/pdf"}
        doc["self"] = self_link
        ordered = {name: doc[name] for name in _booked_fields(self._standin.schema_dir) if name in doc}
        ordered.update(doc)
        self.booked_invoices[number] = ordered
        self._highest_booked = max(self._highest_booked, number)
        return ordered

    def _book(self, draft_number: int, number: int | None, when: str | None) -> dict[str, Any]:
        """Books the draft (it must exist, `number` must be free): the stored booked invoice."""
        draft = self.invoice_drafts.pop(draft_number)
        booked_number = self.next_booked_number() if number is None else number
        doc: dict[str, Any] = _project(draft, _schema(self._standin.schema_dir, BOOKED_SCHEMA))
        doc["bookedInvoiceNumber"] = booked_number
        if when is not None:
            doc["date"] = when
            terms = doc.get("paymentTerms") or {}
            if terms.get("paymentTermsType") != "dueDate" and isinstance(terms.get("daysOfCredit"), int):
                doc["dueDate"] = (date.fromisoformat(when) + timedelta(days=terms["daysOfCredit"])).isoformat()
        doc["remainder"] = doc.get("grossAmount", Decimal("0.00"))
        doc["remainderInBaseCurrency"] = doc.get("grossAmountInBaseCurrency", doc["remainder"])
        return self._file_booked(doc)


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date_text(value: str | date) -> str:
    """YYYY-MM-DD; ValueError for anything that is not a real date."""
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date written YYYY-MM-DD") from None


@cache
def _booked_fields(schema_dir: Path) -> tuple[str, ...]:
    """The top-level fields of a booked invoice, in the order e-conomic's schema lists them."""
    return tuple(_schema(schema_dir, BOOKED_SCHEMA)["properties"])


_DECIMAL_FIELDS = (
    "exchangeRate",
    "netAmount",
    "netAmountInBaseCurrency",
    "grossAmount",
    "grossAmountInBaseCurrency",
    "vatAmount",
    "roundingAmount",
    "remainder",
    "remainderInBaseCurrency",
)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _decimals(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return 0
    exponent = Decimal(str(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


# --- the server -------------------------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the stand-in received it and what it answered. Token values are not kept."""

    method: str
    path: str
    query: dict[str, str]
    template: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    tenant: str | None = None
    from_cache: bool = False


@dataclass
class _Rule:
    status: int
    remaining: int
    retry_after: float | str | None = None
    path_contains: str | None = None
    method: str | None = None
    seconds: float = 0.0
    body: Any = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass
class _Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    drop: bool = False
    hang: float | None = None


class _Problems:
    """An annotated `errors` document being built, as e-conomic answers a refused write."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {}
        self.count = 0
        self.paths: set[tuple[str | int, ...]] = set()

    def add(
        self, path: Sequence[str | int], message: str, code: str, value: Any = ..., hint: str | None = None
    ) -> None:
        key = tuple(path)
        self.paths.add(key)
        node = self.document
        for part in key:
            if isinstance(part, int):  # an array element: {"items": [{"arrayIndex": i, ...}]}
                items = node.setdefault("items", [])
                item = next((i for i in items if i.get("arrayIndex") == part), None)
                if item is None:
                    item = {"arrayIndex": part}
                    items.append(item)
                node = item
            else:
                node = node.setdefault(part, {})
        leaf = next((p for p in reversed(key) if isinstance(p, str)), "")
        error: dict[str, Any] = {"propertyName": leaf, "errorMessage": message, "errorCode": code}
        if value is not ...:
            error["inputValue"] = value
        if hint:
            error["developerHint"] = hint
        node.setdefault("errors", []).append(error)
        self.count += 1

    def covers(self, path: Sequence[str | int]) -> bool:
        key = tuple(path)
        return any(key[: len(p)] == p for p in self.paths)


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


class EconomicStandin:
    def __init__(
        self,
        *,
        app_secret_token: str = "app-secret",  # noqa: S107 - a test token
        grant_tokens: Mapping[str, str] | None = None,
        rate_limit: int = 10000,
        rate_window: int = 60,
        call_cost: int = 1,
        latency: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        schema_dir: Path,
        port: int = 0,
    ) -> None:
        """`schema_dir`: e-conomic's published JSON schemas (`economic-schemas` of the reference material),
        which the caller finds. `port` 0: one the OS picks (tests); the local sandbox passes its fixed one
        (raises OSError if taken)."""
        self.app_secret_token = app_secret_token
        self.rate_limit, self.rate_window, self.call_cost = rate_limit, rate_window, call_cost
        self.latency = latency
        self.clock = clock
        self.schema_dir = schema_dir
        self.lock = threading.RLock()
        self._agreements: dict[str, Agreement] = {}
        self._numbers = itertools.count(1000001)
        self._rules: list[_Rule] = []
        self._slow: list[_Rule] = []
        self._create_failures: dict[int, tuple[int, str | None]] = {}
        self._creates = 0
        self._drops: list[tuple[float | None, bool]] = []
        self._stopping = threading.Event()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.log: list[Seen] = []
        self.forbidden_calls: list[Seen] = []
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        for tenant, token in (grant_tokens or {}).items():
            self.add_agreement(token, tenant=tenant)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> EconomicStandin:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="economic-standin", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> EconomicStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- agreements -----------------------------------------------------------------------------

    def add_agreement(self, grant_token: str, *, tenant: str | None = None) -> Agreement:
        with self.lock:
            agreement = Agreement(self, grant_token, tenant or grant_token, next(self._numbers))
            self._agreements[grant_token] = agreement
            return agreement

    def agreement(self, grant_token_or_tenant: str) -> Agreement:
        with self.lock:
            found = self._agreements.get(grant_token_or_tenant) or next(
                (a for a in self._agreements.values() if a.tenant == grant_token_or_tenant), None
            )
        if found is None:
            raise KeyError(f"no agreement for {grant_token_or_tenant!r}")
        return found

    def revoke(self, grant_token: str) -> None:
        """The agreement withdraws its grant: requests with this token get 401 from now on."""
        with self.lock:
            self._agreements.pop(grant_token, None)

    # --- failure injection ----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: float | str | None = None,
        path_contains: str | None = None,
        method: str | None = None,
        body: Any = None,
    ) -> None:
        """The next `times` authorized requests (matching `path_contains`/`method`) answer `status`
        (500, 503, 429...) instead of being served, with `Retry-After` when given (seconds, or a text
        such as an HTTP date, sent as it is) and `body` when given (else an e-conomic error body)."""
        with self.lock:
            self._rules.append(_Rule(status, times, retry_after, path_contains, method, body=body))

    def slow_next(
        self, seconds: float, times: int = 1, path_contains: str | None = None, method: str | None = None
    ) -> None:
        """The next `times` matching answers are held `seconds` longer (after being served)."""
        with self.lock:
            self._slow.append(_Rule(0, times, None, path_contains, method, seconds))

    def fail_on_create(self, n: int, status: int = 500, message: str | None = None) -> None:
        """The `n`-th successful create from now (POST to a drafts collection, replays not counted) is
        answered `status` (400: an E04300 refusal, 5xx: a server error) and not stored."""
        with self.lock:
            self._create_failures[self._creates + n] = (status, message)

    def drop_after_create(self, times: int = 1, *, hang: float | None = None, remember: bool = True) -> None:
        """The next `times` creates are stored, then the answer is lost: the connection is closed without
        one, or with `hang` held that many seconds first (the client times out). With `remember` the
        created answer is kept for the request's Idempotency-Key, as e-conomic would replay it."""
        with self.lock:
            self._drops.extend([(hang, remember)] * times)

    def clear_failures(self) -> None:
        with self.lock:
            self._rules.clear()
            self._slow.clear()
            self._create_failures.clear()
            self._drops.clear()

    # --- what was asked -------------------------------------------------------------------------

    def count(self, method: str, template: str) -> int:
        with self.lock:
            return self.calls[(method.upper(), template)]

    def answered(self, status: int) -> int:
        with self.lock:
            return sum(1 for seen in self.log if seen.status == status)

    @property
    def max_tokens_used(self) -> int:
        with self.lock:
            return max((a.max_used for a in self._agreements.values()), default=0)

    @property
    def rate_refusals(self) -> int:
        """429s the bucket gave (not counting `fail_next(429)`)."""
        with self.lock:
            return sum(a.rate_refusals for a in self._agreements.values())

    def reset_log(self) -> None:
        with self.lock:
            self.calls.clear()
            self.log.clear()

    # --- answering ------------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: Message, raw: bytes) -> _Answer:
        parts = urlsplit(target)
        path = unquote(parts.path) if not parts.path.startswith("/products/") else parts.path
        path = path.rstrip("/") or "/"
        query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        template, resource, key = _route(path)
        body: Any = None
        if raw:
            try:
                body = loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        seen = Seen(
            method,
            path,
            query,
            template,
            {k: ("<redacted>" if k.lower() in TOKEN_HEADERS else v) for k, v in headers.items()},
            body,
        )
        with self.lock:
            self.calls[(method, template)] += 1
            delay = self.latency + self._take_rule(self._slow, method, path, lambda r: r.seconds, 0.0)
        answer = self._serve(method, path, query, headers, raw, body, resource, key, seen)
        answer.delay += delay
        with self.lock:
            seen.status = answer.status
            seen.from_cache = answer.headers.get("X-ResultFromCache") == "true"
            self.log.append(seen)
        return answer

    def _take_rule(self, rules: list[_Rule], method: str, path: str, pick: Callable[[_Rule], Any], default: Any) -> Any:
        for rule in rules:
            if rule.remaining > 0 and rule.matches(method, path):
                rule.remaining -= 1
                if rule.remaining == 0:
                    rules.remove(rule)
                return pick(rule)
        return default

    def _serve(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Message,
        raw: bytes,
        body: Any,
        resource: Resource | None,
        key: str | None,
        seen: Seen,
    ) -> _Answer:
        app, grant = headers.get("X-AppSecretToken"), headers.get("X-AgreementGrantToken")
        demo = {"demoLink": self.base_url + path + "?demo=true"}
        if not app:
            return _Answer(401, body=_error_body(401, "X-AppSecretToken header is missing.", UNAUTHORIZED, **demo))
        if app != self.app_secret_token:
            return _Answer(401, body=_error_body(401, "The X-AppSecretToken is not valid.", UNAUTHORIZED, **demo))
        with self.lock:
            agreement = self._agreements.get(grant or "")
        if not grant:
            return _Answer(401, body=_error_body(401, "X-AgreementGrantToken header is missing.", UNAUTHORIZED, **demo))
        if agreement is None:
            return _Answer(
                401,
                body=_error_body(
                    401, "The X-AgreementGrantToken is not valid, or its grant was revoked.", UNAUTHORIZED, **demo
                ),
            )
        seen.tenant = agreement.tenant
        answer = self._serve_agreement(agreement, method, path, query, headers, raw, body, resource, key, seen)
        with self.lock:
            answer.headers.setdefault("X-CallCost", str(self.call_cost))
            answer.headers["X-RateLimiting"] = agreement.bucket.header()
            agreement.max_used = max(agreement.max_used, agreement.bucket.used)
        return answer

    def _serve_agreement(
        self,
        agreement: Agreement,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Message,
        raw: bytes,
        body: Any,
        resource: Resource | None,
        key: str | None,
        seen: Seen,
    ) -> _Answer:
        action = _STANDIN_ORDER_ROUTE.fullmatch(path)
        if action is not None:  # the web app's doing: no rate tokens, no injected failures, no read_only
            return self._standin_order(agreement, method, action[1], action[2])
        with self.lock:
            injected = self._take_rule(self._rules, method, path, lambda r: r, None)
            if injected is None:
                wait = agreement.bucket.take(self.call_cost)
                if wait is not None:
                    agreement.rate_refusals += 1
        if injected is not None:
            return self._injected(injected)
        if wait is not None:
            return _Answer(
                429,
                {"Retry-After": str(max(1, math.ceil(wait)))},
                _error_body(429, "Too many requests: the agreement's token budget is spent.", RATE_LIMITED),
            )
        if agreement.read_only and method != "GET":
            return _Answer(
                403,
                body=_error_body(403, "The grant does not allow this app to change the agreement's data.", FORBIDDEN),
            )
        if resource is None:
            return _Answer(404, body=_error_body(404, f"There is no resource at {path}.", DOES_NOT_EXIST))
        if method in ("POST", "PUT"):
            content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return _Answer(
                    415,
                    body=_error_body(
                        415, "The API accepts JSON only: send Content-Type: application/json.", UNSUPPORTED_MEDIA_TYPE
                    ),
                )
        if method == "GET":
            with self.lock:
                return self._get(agreement, resource, key, path, query)
        if method == "DELETE" and key is None and resource.kind is not None:
            with self.lock:
                self.forbidden_calls.append(seen)
            return _Answer(
                400,
                body=_error_body(
                    400,
                    f"DELETE {resource.path} without a number deletes every draft: the stand-in refuses it.",
                    "E00001",
                ),
            )
        writes = ("POST", "DELETE") if resource.kind is not None else ("POST",) if resource == BOOKED else ()
        if method not in writes or (method == "POST") != (key is None):
            return _Answer(405, body=_error_body(405, f"{method} is not allowed on {path}.", "E00405"))
        idempotency_key = headers.get("Idempotency-Key")
        cache_key = (method, path, idempotency_key) if idempotency_key else None
        if cache_key is not None:
            replay = self._replay(agreement, cache_key)
            if replay is not None:
                return replay
        if method == "DELETE":
            assert key is not None
            return self._remember(agreement, cache_key, self._delete(agreement, resource, key))
        if not isinstance(body, dict):
            return _Answer(
                400,
                body=_error_body(400, "The request body must be a JSON object.", SCHEMA_REFUSED),
            )
        problems = self._validate(resource, body)  # outside the lock: pure
        with self.lock:
            replay = self._replay(agreement, cache_key) if cache_key else None
            if replay is not None:
                return replay
            if resource == BOOKED:
                return self._remember(agreement, cache_key, self._book(agreement, body, problems))
            self._check_references(agreement, body, problems)
            if problems.count:
                return self._remember(agreement, cache_key, _refusal(problems))
            self._creates += 1
            failure = self._create_failures.pop(self._creates, None)
            if failure is not None:
                status, message = failure
                if status == 400:
                    refusal = _Problems()
                    refusal.add(["date"], message or "The document could not be created (injected).", SCHEMA_REFUSED)
                    return self._remember(agreement, cache_key, _refusal(refusal))
                return self._injected(_Rule(status, 1))
            assert resource.kind is not None
            document = self._create(agreement, resource.kind, body)
            answer = _Answer(201, {"Location": document["self"]}, document)
            answer = self._remember(agreement, cache_key, answer)
            if self._drops:
                hang, remember = self._drops.pop(0)
                if not remember and cache_key is not None:
                    agreement.idempotency.pop(cache_key, None)
                answer = _Answer(201, answer.headers, answer.body, drop=True, hang=hang)
            return answer

    def _injected(self, rule: _Rule) -> _Answer:
        headers = {} if rule.retry_after is None else {"Retry-After": _seconds_text(rule.retry_after)}
        if rule.body is not None:
            body = copy.deepcopy(rule.body)
        elif rule.status == 429:
            body = _error_body(429, "Too many requests.", RATE_LIMITED)
        elif rule.status >= 500:
            body = _error_body(rule.status, "An error occurred on our side (injected).", SERVER_ERROR)
        else:
            body = _error_body(rule.status, "Refused (injected).", "E00001")
        return _Answer(rule.status, headers, body)

    def _replay(self, agreement: Agreement, cache_key: tuple[str, str, str]) -> _Answer | None:
        with self.lock:
            cached = agreement.idempotency.get(cache_key)
            if cached is None:
                return None
            if cached.expires <= self.clock():
                del agreement.idempotency[cache_key]
                return None
            return _Answer(cached.status, {**cached.headers, "X-ResultFromCache": "true"}, copy.deepcopy(cached.body))

    def _remember(self, agreement: Agreement, cache_key: tuple[str, str, str] | None, answer: _Answer) -> _Answer:
        if cache_key is not None and answer.status < 500:
            with self.lock:
                agreement.idempotency[cache_key] = _Cached(
                    answer.status, dict(answer.headers), copy.deepcopy(answer.body), self.clock() + IDEMPOTENCY_SECONDS
                )
        return answer

    # --- GET ------------------------------------------------------------------------------------

    def _get(
        self, agreement: Agreement, resource: Resource, key: str | None, path: str, query: dict[str, str]
    ) -> _Answer:
        store: dict[Any, dict[str, Any]] = getattr(agreement, resource.attribute)
        if key is not None:
            number: Any = key
            if not resource.string_key:
                try:
                    number = int(key)
                except ValueError:
                    number = None
            document = store.get(number)
            if document is None:
                return _Answer(
                    404, body=_error_body(404, f"No {resource.number_field} {key} in {resource.path}.", DOES_NOT_EXIST)
                )
            return _Answer(200, body=copy.deepcopy(document))
        try:
            skip = int(query.get("skippages", "0"))
            size = int(query.get("pagesize", str(DEFAULT_PAGE_SIZE)))
        except ValueError:
            return _Answer(400, body=_error_body(400, "skippages and pagesize must be whole numbers.", SCHEMA_REFUSED))
        if skip < 0 or not 1 <= size <= MAX_PAGE_SIZE:
            return _Answer(
                400,
                body=_error_body(400, f"pagesize must be 1-{MAX_PAGE_SIZE} and skippages at least 0.", SCHEMA_REFUSED),
            )
        documents = [store[k] for k in sorted(store)]
        filter_text = query.get("filter")
        sort_text = query.get("sort")
        if sort_text:
            sortable = _sortable(self._collection_items(resource))
            try:
                documents = sort_documents(documents, parse_sort(sort_text, sortable))
            except SortError as error:
                return _Answer(
                    400,
                    body=_error_body(
                        400,
                        "Could not parse query string sort.",
                        "E00002",
                        "Sorting on collections can be done using the querystring parameter 'sort': sort=name, or "
                        "sort=-name for descending, on the properties in allowedSortingFields.",
                        errors=[str(error)],
                        allowedSortingFields=sortable,
                    ),
                )
        if filter_text:
            allowed = _filterable(self._collection_items(resource))
            try:
                node = parse_filter(filter_text, allowed)
            except FilterError as error:
                return _Answer(
                    400,
                    body=_error_body(
                        400,
                        "Could not parse query string filter.",
                        "E00002",
                        "Filtering on collections can be done using the querystring parameter 'filter'.",
                        errors=[str(error)],
                        allowedFilteringFields=allowed,
                    ),
                )
            selected = [d for d in documents if matches(d, node)]
        else:
            selected = documents
        page = selected[skip * size : (skip + 1) * size]
        if resource.listed_without_lines:
            page = [{k: v for k, v in d.items() if k != "lines"} for d in page]
        last = max(0, math.ceil(len(selected) / size) - 1)

        def link(n: int) -> str:
            params: dict[str, str | int] = {"skippages": n, "pagesize": size}
            if filter_text:
                params["filter"] = filter_text
            if sort_text:
                params["sort"] = sort_text
            return f"{self.base_url}{path}?{urlencode(params)}"

        pagination: dict[str, Any] = {
            "skipPages": skip,
            "pageSize": size,
            "maxPageSizeAllowed": MAX_PAGE_SIZE,
            "results": len(selected),
            "resultsWithoutFilter": len(documents),
            "firstPage": link(0),
        }
        if skip < last:
            pagination["nextPage"] = link(skip + 1)
        pagination["lastPage"] = link(last)
        return _Answer(200, body={"collection": copy.deepcopy(page), "pagination": pagination, "self": link(skip)})

    def _collection_items(self, resource: Resource) -> dict[str, Any]:
        """The schema of one document in the resource's collection listing (`<schema>.get`)."""
        items: dict[str, Any] = _schema(self.schema_dir, f"{resource.schema}.get")["properties"]["collection"]["items"]
        return items

    # --- POST / DELETE drafts ---------------------------------------------------------------------

    def _validate(self, resource: Resource, body: dict[str, Any]) -> _Problems:
        problems = _Problems()
        for path in _nulls(body, []):
            problems.add(path, f"Expected a value but got Null: leave {path[-1]} out instead.", NULL_REFUSED, None)
        schema = _schema(self.schema_dir, f"{resource.schema}.post")
        for error in sorted(_validator(self.schema_dir, f"{resource.schema}.post").iter_errors(body), key=str):
            path = list(error.absolute_path)
            if problems.covers(path):
                continue
            if error.validator == "required":
                problems.add(path, f"Property {path[-1]} is required.", REQUIRED)
            else:
                problems.add(
                    path,
                    _schema_message(error.validator, error.validator_value, error.instance),
                    SCHEMA_REFUSED,
                    error.instance,
                )
        for path, value, allowed in _too_many_decimals(schema, body, []):
            if not problems.covers(path):
                problems.add(
                    path,
                    f"{path[-1]} scale cannot be greater than {allowed} decimal places.",
                    TOO_MANY_DECIMALS,
                    value,
                    "Please check the format of your data.",
                )
        return problems

    def _check_references(self, agreement: Agreement, body: dict[str, Any], problems: _Problems) -> None:
        def check(
            path: list[str | int], ref: Any, field_name: str, store: Mapping[Any, Any], label: str, url: str
        ) -> None:
            if problems.covers(path) or not isinstance(ref, dict):
                return
            number = ref.get(field_name)
            if number is None and isinstance(ref.get("self"), str):
                number = _number_from_self(ref["self"], string=field_name == "productNumber")
            if number is None:
                problems.add(
                    path,
                    f"No identifiers present on {path[-1]}. Please include either a self link or a {field_name}.",
                    NO_IDENTIFIER,
                    hint=f"Find a list of resources at {self.base_url}{url}.",
                )
            elif number not in store or store[number].get("deleted"):
                problems.add(
                    path,
                    f"{label} '{number}' not found.",
                    DOES_NOT_EXIST,
                    number,
                    f"Find a list of resources at {self.base_url}{url}.",
                )

        check(["customer"], body.get("customer"), "customerNumber", agreement.customers, "Customer", "/customers")
        check(["layout"], body.get("layout"), "layoutNumber", agreement.layouts, "Layout", "/layouts")
        check(
            ["paymentTerms"],
            body.get("paymentTerms"),
            "paymentTermsNumber",
            agreement.payment_terms,
            "Payment terms",
            "/payment-terms",
        )
        recipient = body.get("recipient")
        if isinstance(recipient, dict):
            check(
                ["recipient", "vatZone"],
                recipient.get("vatZone"),
                "vatZoneNumber",
                agreement.vat_zones,
                "VAT zone",
                "/vat-zones",
            )
        when = body.get("date")
        if isinstance(when, str) and not problems.covers(["date"]):
            try:
                date.fromisoformat(when)
            except ValueError:
                problems.add(["date"], "Date must be a real date written YYYY-MM-DD.", SCHEMA_REFUSED, when)
        currency = body.get("currency")
        if (
            isinstance(currency, str)
            and not problems.covers(["currency"])
            and currency.upper() not in agreement.currencies
        ):
            problems.add(["currency"], f"Currency '{currency}' does not exist.", DOES_NOT_EXIST, currency)
        lines = body.get("lines")
        for index, line in enumerate(lines if isinstance(lines, list) else []):
            if not isinstance(line, dict) or problems.covers(["lines", index]):
                continue
            product = line.get("product")
            if product is not None:
                check(["lines", index, "product"], product, "productNumber", agreement.products, "Product", "/products")
                if "quantity" not in line and not problems.covers(["lines", index, "quantity"]):
                    problems.add(
                        ["lines", index, "quantity"],
                        "Property quantity must have a value when product is set.",
                        NEEDS_VALUE,
                        hint="Please check your request data.",
                    )
            elif "quantity" in line or "unitNetPrice" in line:
                problems.add(
                    ["lines", index, "product"],
                    "Property product must have a value when quantity or unitNetPrice is set.",
                    NEEDS_VALUE,
                    hint="Please check your request data.",
                )

    def _create(self, agreement: Agreement, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        resource = DRAFT_RESOURCES[kind]
        drafts = agreement.drafts(kind)
        taken = agreement.orders_sent if kind == "order" else {}  # a sent order keeps its number
        number = next(n for n in itertools.count(1) if n not in drafts and n not in taken)
        doc: dict[str, Any] = {resource.number_field: number}
        doc.update(copy.deepcopy(body))
        for read_only in (
            "grossAmount",
            "grossAmountInBaseCurrency",
            "netAmountInBaseCurrency",
            "marginInBaseCurrency",
            "marginPercentage",
            "netAmount",
            "roundingAmount",
            "vatAmount",
            "pdf",
        ):
            doc.pop(read_only, None)
        customer = agreement.customers[_ref_number(body["customer"], "customerNumber")]
        doc["customer"] = {"customerNumber": customer["customerNumber"], "self": customer["self"]}
        layout = agreement.layouts[_ref_number(body["layout"], "layoutNumber")]
        doc["layout"] = {"layoutNumber": layout["layoutNumber"], "self": layout["self"]}
        terms = agreement.payment_terms[_ref_number(body["paymentTerms"], "paymentTermsNumber")]
        doc["paymentTerms"] = {
            k: terms[k] for k in ("paymentTermsNumber", "daysOfCredit", "name", "paymentTermsType", "self")
        }
        zone_number = _ref_number(body["recipient"]["vatZone"], "vatZoneNumber")
        zone = agreement.vat_zones[zone_number]
        doc["recipient"]["vatZone"] = {
            k: zone[k] for k in ("name", "vatZoneNumber", "enabledForCustomer", "enabledForSupplier", "self")
        }
        if "dueDate" not in doc:
            doc["dueDate"] = (date.fromisoformat(body["date"]) + timedelta(days=int(terms["daysOfCredit"]))).isoformat()
        net = Decimal("0.00")
        lines: list[dict[str, Any]] = []
        for index, line in enumerate(doc.get("lines", []), start=1):
            line = dict(line)
            line.setdefault("lineNumber", index)
            line.setdefault("sortKey", index)
            if "product" in line:
                product = agreement.products[str(_ref_number(line["product"], "productNumber", string=True))]
                line["product"] = {"productNumber": product["productNumber"], "self": product["self"]}
                line.setdefault("description", product["name"])
                line.setdefault("unitNetPrice", product["salesPrice"])
                quantity = Decimal(str(line["quantity"]))
                price = Decimal(str(line["unitNetPrice"]))
                discount = Decimal(str(line.get("discountPercentage", 0)))
                line["totalNetAmount"] = _money(quantity * price * (1 - discount / 100))
                net += line["totalNetAmount"]
            lines.append(line)
        if "lines" in doc:
            doc["lines"] = lines
        rate = Decimal(str(doc.get("exchangeRate", EXCHANGE_RATES.get(str(doc["currency"]).upper(), 100))))
        if str(doc["currency"]).upper() == BASE_CURRENCY:
            rate = Decimal(100)
        doc["exchangeRate"] = rate
        vat = _money(net * agreement.vat_rates.get(zone_number, Decimal(0)))
        doc["netAmount"] = _money(net)
        doc["netAmountInBaseCurrency"] = _money(net * rate / 100)
        doc["vatAmount"] = vat
        doc["grossAmount"] = _money(net + vat)
        doc["grossAmountInBaseCurrency"] = _money((net + vat) * rate / 100)
        doc["roundingAmount"] = Decimal("0.00")
        doc["lastUpdated"] = _now_text()
        self_link = f"{self.base_url}{resource.path}/{number}"
        doc["pdf"] = {"download": f"{self_link}/pdf"}
        doc["self"] = self_link
        drafts[number] = doc
        return copy.deepcopy(doc)

    def _book(self, agreement: Agreement, body: dict[str, Any], problems: _Problems) -> _Answer:
        """`POST /invoices/booked`, its body through the schema already (call with the lock held): the
        draft must exist and `bookWithNumber` must be free; 201 with the booked invoice."""
        reference = body.get("draftInvoice")
        draft_number: int | None = None
        hint = f"Find a list of resources at {self.base_url}/invoices/drafts."
        if "draftInvoice" not in body:
            problems.add(["draftInvoice"], "Property draftInvoice is required.", REQUIRED)
        elif isinstance(reference, dict) and not problems.covers(["draftInvoice"]):
            number = reference.get("draftInvoiceNumber")
            path: list[str | int] = ["draftInvoice", "draftInvoiceNumber"]
            if number is None and isinstance(reference.get("self"), str):
                number = _number_from_self(reference["self"])
                path = ["draftInvoice", "self"]
            if number is None:
                problems.add(
                    ["draftInvoice"],
                    "No identifiers present on draftInvoice. "
                    "Please include either a self link or a draftInvoiceNumber.",
                    NO_IDENTIFIER,
                    hint=hint,
                )
            elif number not in agreement.invoice_drafts:
                shown = reference.get("draftInvoiceNumber", reference.get("self"))
                problems.add(path, f"Draft invoice '{number}' not found.", DOES_NOT_EXIST, shown, hint)
            else:
                draft_number = number
        with_number = body.get("bookWithNumber")
        if isinstance(with_number, int) and not problems.covers(["bookWithNumber"]):
            if with_number < 1:
                problems.add(
                    ["bookWithNumber"],
                    f"Number {with_number} is less than minimum value of 1.",
                    SCHEMA_REFUSED,
                    with_number,
                )
            elif with_number in agreement.booked_invoices:
                problems.add(
                    ["bookWithNumber"],
                    f"An invoice is booked with number {with_number} already.",
                    NUMBER_USED,
                    with_number,
                    f"Leave bookWithNumber out to book with the next number, {agreement.next_booked_number()}.",
                )
        if problems.count or draft_number is None:
            return _refusal(problems)
        document = agreement._book(draft_number, with_number, None)
        return _Answer(201, {"Location": document["self"]}, copy.deepcopy(document))

    def _standin_order(self, agreement: Agreement, method: str, key: str, action: str) -> _Answer:
        """`POST /_standin/orders/{n}/send` and `.../upgrade`: the stand-in's own routes, not e-conomic's
        API, for the local sandbox to do what an accountant does in e-conomic's web app."""
        headers = {"X-CallCost": "0"}
        if method != "POST":
            return _Answer(405, headers, _error_body(405, f"{method} is not allowed here: POST.", "E00405"))
        number = int(key) if key.isdigit() else -1
        try:
            document = agreement.send_order(number) if action == "send" else agreement.upgrade_order(number)
        except KeyError:
            return _Answer(
                404, headers, _error_body(404, f"No order {key} in /orders/drafts or /orders/sent.", DOES_NOT_EXIST)
            )
        return _Answer(200, headers, document)

    def _delete(self, agreement: Agreement, resource: Resource, key: str) -> _Answer:
        assert resource.kind is not None
        with self.lock:
            drafts = agreement.drafts(resource.kind)
            try:
                number = int(key)
            except ValueError:
                number = -1
            document = drafts.pop(number, None)
        if document is None:
            return _Answer(
                404, body=_error_body(404, f"No {resource.number_field} {key} in {resource.path}.", DOES_NOT_EXIST)
            )
        noun = "invoice" if resource.kind == "draftInvoice" else "order"
        return _Answer(
            200,
            body={
                "message": f"Deleted {noun}.",
                "deletedCount": 1,
                "deletedItems": [{resource.number_field: number, "self": document["self"]}],
            },
        )


def _refusal(problems: _Problems) -> _Answer:
    return _Answer(
        400,
        body=_error_body(
            400,
            f"Validation failed. {problems.count} errors found.",
            VALIDATION_FAILED,
            "Inspect validation errors and correct your request.",
            errors=problems.document,
        ),
    )


def _seconds_text(seconds: float | str) -> str:
    if isinstance(seconds, str):
        return seconds
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _route(path: str) -> tuple[str, Resource | None, str | None]:
    """(template for the counters, resource, the number in the path or None)."""
    action = _STANDIN_ORDER_ROUTE.fullmatch(path)
    if action is not None:
        return f"/_standin/orders/{{number}}/{action[2]}", None, action[1]
    if path in RESOURCES:
        return path, RESOURCES[path], None
    head, _, tail = path.rpartition("/")
    resource = RESOURCES.get(head)
    if resource is not None and tail:
        key = decode_self_id(tail) if resource.string_key else tail
        return f"{head}/{{number}}", resource, key
    return path, None, None


def _ref_number(ref: Mapping[str, Any], field_name: str, *, string: bool = False) -> Any:
    number = ref.get(field_name)
    if number is None:
        number = _number_from_self(str(ref.get("self", "")), string=string)
    return number


def _number_from_self(link: str, *, string: bool = False) -> Any:
    tail = urlsplit(link).path.rstrip("/").rpartition("/")[2]
    if string:
        return decode_self_id(tail) or None
    return int(tail) if tail.isdigit() else None


def _nulls(value: Any, path: list[str | int]) -> list[list[str | int]]:
    """The paths of every `null` in a body."""
    found: list[list[str | int]] = []
    children: list[tuple[str | int, Any]] = (
        list(value.items()) if isinstance(value, dict) else list(enumerate(value)) if isinstance(value, list) else []
    )
    for key, child in children:
        found.extend([[*path, key]] if child is None else _nulls(child, [*path, key]))
    return found


def _too_many_decimals(
    schema: Mapping[str, Any], value: Any, path: list[str | int]
) -> list[tuple[list[str | int], Any, int]]:
    found: list[tuple[list[str | int], Any, int]] = []
    allowed = schema.get("maxDecimal")
    if isinstance(allowed, int) and _decimals(value) > allowed:
        found.append((path, value, allowed))
    if isinstance(value, dict):
        for k, v in value.items():
            sub = (schema.get("properties") or {}).get(k)
            if isinstance(sub, dict):
                found.extend(_too_many_decimals(sub, v, [*path, k]))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            found.extend(_too_many_decimals(schema["items"], v, [*path, i]))
    return found


def _schema_message(validator: Any, expected: Any, instance: Any) -> str:
    kind = type(instance).__name__.replace("dict", "object").replace("list", "array").replace("str", "string")
    messages = {
        "type": f"Expected {expected} but got {kind}.",
        "maxLength": f"String is longer than the maximum length of {expected}.",
        "minLength": f"String is shorter than the minimum length of {expected}.",
        "pattern": f"String does not match the pattern {expected}.",
        "minimum": f"Number {instance} is less than minimum value of {expected}.",
        "maximum": f"Number {instance} is greater than maximum value of {expected}.",
        "enum": f"Value is not one of {expected}.",
        "format": f"String is not a valid {expected}.",
    }
    return messages.get(str(validator), f"Value does not satisfy {validator}: {expected}.")


# --- the HTTP handler -------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # 16 clients connecting at once must not overflow the listen backlog
    daemon_threads = True


def _handler_for(standin: EconomicStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "EconomicStandin/1.0"
        timeout = 60

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            answer = standin.answer(self.command, self.path, self.headers, raw)
            if answer.hang is not None:
                standin._stopping.wait(answer.hang)
            elif answer.delay > 0:
                time.sleep(answer.delay)
            if answer.drop:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            payload = b"" if answer.body is None else dumps(answer.body).encode("utf-8")
            reason = _REASONS.get(answer.status) or self.responses.get(answer.status, ("",))[0]
            head = [
                f"{self.protocol_version} {answer.status} {reason}",
                f"Server: {self.version_string()}",
                f"Date: {self.date_time_string()}",
                *(f"{name}: {value}" for name, value in answer.headers.items()),
                *(["Content-Type: application/json; charset=utf-8"] if answer.body is not None else []),
                f"Content-Length: {len(payload)}",
                *(["Connection: close"] if self.close_connection else []),
            ]
            try:
                # Head and body in one write: two small writes meet the client's delayed ACK (~40 ms).
                self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
            except OSError:
                self.close_connection = True

        def setup(self) -> None:
            super().setup()
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    return Handler
