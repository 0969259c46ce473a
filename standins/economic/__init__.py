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
  parentheses, `$null:` and the escapes `$$ $( $) $* $,` (a value with `$[`/`$]` matches nothing: e-conomic
  does not honour them, issue 15 item 16, though e-conomic/slate@8abdb42 _introduction.md lists them), on the
  properties the collection's
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
  Numbering follows `Agreement.numbering` (`standins/economic/orders.py`, which cites why): by default
  one above the highest number in use (the newest draft's number comes back after it is deleted; a gap
  lower down stays), or `lowest-free`. e-conomic documents no rule, so no code may assume one.
- Orders: `/orders/drafts` (written like draft invoices), `/orders/sent` and `/orders/archived` (read
  only; e-conomic publishes no `orders.sent`/`orders.archived` schema, so their filterable and sortable
  fields are those of `orders.drafts.get`). Order numbers are one series: a new order never takes a sent
  or archived order's number. An agreement with `inventory_module` refuses every write to `/orders`
  (e-conomic/slate@8abdb42 _orders.md; status `inventory_refusal_status`, undocumented).
- Layouts: a layout deleted (`Agreement.delete_layout`) leaves the `/layouts` collection, still answers
  `/layouts/{n}` with `deleted: true`, is flagged on the customer groups that use it and refused in a
  document (economic-schemas/layouts.layoutNumber.get and customer-groups.customerGroupNumber.get).
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
  and `Agreement.upgrade_order` (the order leaves `/orders/drafts` or `/orders/sent`, a sent one is
  archived in `/orders/archived`, and a new draft invoice with its content takes the next draft number;
  whether it keeps `references.other`, and whether a draft order is archived too, are undocumented
  switches: `upgrade_keeps_reference`, `archive_upgraded_drafts`); and,
  for the local sandbox, the stand-in's own routes `POST /_standin/orders/{n}/send` and
  `POST /_standin/orders/{n}/upgrade` (NOT e-conomic's API: both tokens required, 200 with the sent
  order or the new draft invoice, 404 when there is no such order; no rate tokens, no injected
  failures, not refused by `read_only`: a person in the web app did it, not the app).
- `DELETE /invoices/drafts/{n}` answers 200 `{"message", "deletedCount": 1, "deletedItems": [...]}`;
  `DELETE /orders/drafts/{n}` 204 without a body (e-conomic/slate@8abdb42 _orders.md); 404 `E06000`
  when there is no such draft. `DELETE /invoices/drafts` (or `/orders/drafts`) without a
  number deletes every draft in e-conomic: here it answers 400 and is recorded in `forbidden_calls`.
- `Idempotency-Key` on POST/DELETE: the first answer for a key, per agreement, method and path, is
  replayed for an hour with `X-ResultFromCache: true`, error answers (a failed create's 5xx,
  `fail_next(..., cached=True)`) included: e-conomic's description of the header excludes none.
- Rate: a token bucket per agreement (default 10000 tokens per 60 s, refilling continuously); every
  answer to a known agreement carries `X-RateLimiting: token-limit-10000-per-60-seconds: <used>/<limit>`
  and `X-CallCost`; an empty bucket answers 429 with `Retry-After`. `max_tokens_used` and
  `rate_refusals` say whether a run stayed inside the budget.

Failure injection (thread-safe, at any time): `fail_next`, `slow_next`, `latency`, `fail_on_create`,
`drop_after_create`, `drop_next` (any request served, its answer lost). Record: `calls[(method,
template)]`, `log` (every request, tokens redacted), `forbidden_calls`. Latency and hangs are slept outside every lock.

Error codes: `E04300` (validation), `E06000` (not found / does not exist), `E04500` (no identifier),
`E04730` (a value another needs), `E04740` (too many decimals) are e-conomic's documented codes. The
others (`E00500` 401, `E00400` 403, `E04010` required, `E04020` null, `E04000` other schema refusals,
`E04100` a number already used, `E00415`, `E07000` 429, `E00000` 5xx, `E00001`/`E00002`/`E00405`
other refusals) are this stand-in's own approximations.
"""

from __future__ import annotations

from standins.economic.agreement import FIRST_BOOKED_NUMBER, Agreement
from standins.economic.filters import FilterError, SortError, Token, matches, parse_filter, parse_sort, sort_documents
from standins.economic.resources import BOOKED, DRAFT_RESOURCES, RESOURCES, Resource
from standins.economic.schemas import BOOKED_SCHEMA
from standins.economic.serving import Seen
from standins.economic.standin import EconomicStandin
from standins.economic.wire import (
    BASE_CURRENCY,
    CENT,
    CURRENCIES,
    DEFAULT_PAGE_SIZE,
    DOES_NOT_EXIST,
    EXCHANGE_RATES,
    FORBIDDEN,
    IDEMPOTENCY_SECONDS,
    MAX_PAGE_SIZE,
    NEEDS_VALUE,
    NO_IDENTIFIER,
    NULL_REFUSED,
    NUMBER_USED,
    RATE_LIMITED,
    REQUIRED,
    SCHEMA_REFUSED,
    SERVER_ERROR,
    TOKEN_HEADERS,
    TOO_MANY_DECIMALS,
    UNAUTHORIZED,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    Kind,
    decode_self_id,
    dumps,
    encode_self_id,
    loads,
)

__all__ = [
    "BASE_CURRENCY",
    "BOOKED",
    "BOOKED_SCHEMA",
    "CENT",
    "CURRENCIES",
    "DEFAULT_PAGE_SIZE",
    "DOES_NOT_EXIST",
    "DRAFT_RESOURCES",
    "EXCHANGE_RATES",
    "FIRST_BOOKED_NUMBER",
    "FORBIDDEN",
    "IDEMPOTENCY_SECONDS",
    "MAX_PAGE_SIZE",
    "NEEDS_VALUE",
    "NO_IDENTIFIER",
    "NULL_REFUSED",
    "NUMBER_USED",
    "RATE_LIMITED",
    "REQUIRED",
    "RESOURCES",
    "SCHEMA_REFUSED",
    "SERVER_ERROR",
    "TOKEN_HEADERS",
    "TOO_MANY_DECIMALS",
    "UNAUTHORIZED",
    "UNSUPPORTED_MEDIA_TYPE",
    "VALIDATION_FAILED",
    "Agreement",
    "EconomicStandin",
    "FilterError",
    "Kind",
    "Resource",
    "Seen",
    "SortError",
    "Token",
    "decode_self_id",
    "dumps",
    "encode_self_id",
    "loads",
    "matches",
    "parse_filter",
    "parse_sort",
    "sort_documents",
]
