"""The one adapter for e-conomic's REST API (https://restapi.e-conomic.com), over `requests`.

`EconomicClient` sends `X-AppSecretToken` / `X-AgreementGrantToken` on every request (read from a
`Tokens` callable, never stored in the session, never logged, never in an error message) and JSON
bodies in which money is `Decimal`, written digit for digit (a float is refused: it cannot hold a
cent exactly; so is `None`: e-conomic refuses `null`, leave the field out). Answers are parsed with
`Decimal` for every number with a fraction.

Failures become one of these exceptions (all `EconomicError`), each with a readable message of at most
~500 characters:
- `EconomicAuthError` (401/403): the tokens are missing or refused. A 401 first forces one token
  refresh (`tokens(True)`) and one retry;
- `EconomicNotFound` (404);
- `EconomicRejected` (other 4xx, e.g. `E04300` validation): permanent; `.problems` lists what is wrong,
  field by field (`lines[1].product: Product '99' not found.`);
- `EconomicUnavailable`: no answer (connection error, timeout) or 429/5xx still after `max_attempts`.
  429 and 5xx are retried with exponential backoff and jitter, honouring `Retry-After` (seconds or an
  HTTP date), for every method: POST and DELETE always carry an `Idempotency-Key`, and e-conomic
  answers a repeated key with the first answer for an hour (`X-ResultFromCache: true`). A request that
  got no answer is repeated only if it is a GET: a POST's document may exist by now (the caller looks it
  up by reference first), a DELETE's number may hold another document by now (`delete_draft` reads the
  draft and re-checks its reference first);
- `EconomicKeySpent` (an `EconomicUnavailable`): a 5xx or 429 replayed from that cache. Nothing says
  e-conomic leaves error answers out of it, so the key would get the same error for an hour: the caller
  looks the document up and sends again, if at all, with a fresh key;
- `EconomicUnusable`: a successful answer that cannot be used (not a JSON object, a listing without a
  collection, a document without its number).

Rate: e-conomic charges every call tokens from a bucket per agreement and reports it on every answer
(`X-RateLimiting: token-limit-10000-per-60-seconds: <used>/<limit>`, `X-CallCost`). The client keeps
its own conservative view of that bucket, shared by every thread using it (one client per agreement),
and once the used share would pass `1 - reserve` it spaces calls at the refill rate instead of
running into 429s. Far from the limit that costs one lock and a few arithmetic operations per call.

Modules: `errors` (the exceptions, and how an error answer becomes one), `wire` (JSON with `Decimal`,
filter values, `Retry-After`), `rate` (the client's view of the token bucket), `client`
(`EconomicClient`: tokens, the request loop, retries, paging) and `documents` (the endpoints the
service uses, mixed into the client).
"""

from shared.adapters.economic.client import (
    AMBIGUOUS_STATUSES,
    DEFAULT_BASE_URL,
    MAX_RETRY_AFTER,
    EconomicClient,
    Tokens,
)
from shared.adapters.economic.documents import (
    BOOKED,
    DRAFTS,
    MAX_PAGE_SIZE,
    SENT_ORDERS,
    Kind,
    document_number,
)
from shared.adapters.economic.errors import (
    MAX_MESSAGE,
    EconomicAuthError,
    EconomicError,
    EconomicKeySpent,
    EconomicNotFound,
    EconomicRejected,
    EconomicUnavailable,
    EconomicUnusable,
)
from shared.adapters.economic.wire import dumps, escape_filter_value, retry_after_seconds

__all__ = [
    "AMBIGUOUS_STATUSES",
    "BOOKED",
    "DEFAULT_BASE_URL",
    "DRAFTS",
    "MAX_MESSAGE",
    "MAX_PAGE_SIZE",
    "MAX_RETRY_AFTER",
    "SENT_ORDERS",
    "EconomicAuthError",
    "EconomicClient",
    "EconomicError",
    "EconomicKeySpent",
    "EconomicNotFound",
    "EconomicRejected",
    "EconomicUnavailable",
    "EconomicUnusable",
    "Kind",
    "Tokens",
    "document_number",
    "dumps",
    "escape_filter_value",
    "retry_after_seconds",
]
