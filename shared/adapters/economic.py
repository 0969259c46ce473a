"""The one adapter for e-conomic's REST API (https://restapi.e-conomic.com), over `requests`.

`EconomicClient` sends `X-AppSecretToken` / `X-AgreementGrantToken` on every request (read from a
`Tokens` callable, never stored in the session, never logged, never in an error message) and JSON
bodies in which money is `Decimal`, written digit for digit (a float is refused: it cannot hold a
cent exactly; so is `None`: e-conomic refuses `null`, leave the field out). Answers are parsed with
`Decimal` for every number with a fraction.

Failures become one of four exceptions, each with a readable message of at most ~500 characters:
- `EconomicAuthError` (401/403): the tokens are missing or refused. A 401 first forces one token
  refresh (`tokens(True)`) and one retry;
- `EconomicNotFound` (404);
- `EconomicRejected` (other 4xx, e.g. `E04300` validation): permanent; `.problems` lists what is wrong,
  field by field (`lines[1].product: Product '99' not found.`);
- `EconomicUnavailable`: no answer (connection error, timeout) or 429/5xx still after `max_attempts`.
  429 and 5xx are retried with exponential backoff and jitter, honouring `Retry-After` (seconds or an
  HTTP date), for every method: POST and DELETE always carry an `Idempotency-Key`, and e-conomic
  answers a repeated key with the first answer (`X-ResultFromCache: true`). A request that got no
  answer is repeated too, except a POST: its document may exist by now, and replay of the key is only
  known to work for DELETE on this API, so the caller looks the document up (by reference) first.

Rate: e-conomic charges every call tokens from a bucket per agreement and reports it on every answer
(`X-RateLimiting: token-limit-10000-per-60-seconds: <used>/<limit>`, `X-CallCost`). The client keeps
its own conservative view of that bucket, shared by every thread using it (one client per agreement),
and once the used share would pass `1 - reserve` it spaces calls at the refill rate instead of
running into 429s. Far from the limit that costs one lock and a few arithmetic operations per call.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from shared.platform.secrets import SecretValue

log = logging.getLogger("invoice_bridge.economic")

DEFAULT_BASE_URL = "https://restapi.e-conomic.com"
MAX_PAGE_SIZE = 1000
MAX_MESSAGE = 500
MAX_RETRY_AFTER = 300.0
"""A `Retry-After` longer than this is not slept: the call gives up at once (`EconomicUnavailable`
with `.retry_after`), so a caller such as a queue job can come back later instead."""

Kind = Literal["draftInvoice", "order"]
Tokens = Callable[[bool], tuple[SecretValue, SecretValue]]
"""(app secret token, agreement grant token); called with True to force a refresh after a 401."""

AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
"""Answers to a POST after which the document may exist: not retried blindly (429 and 503 are)."""

DRAFTS: dict[str, tuple[str, str]] = {
    "draftInvoice": ("/invoices/drafts", "draftInvoiceNumber"),
    "order": ("/orders/drafts", "orderNumber"),
}
BOOKED = "/invoices/booked"
SENT_ORDERS = "/orders/sent"
_FILTER_ESCAPES = str.maketrans({"$": "$$", "(": "$(", ")": "$)", "*": "$*", ",": "$,", "[": "$[", "]": "$]"})
_RATE = re.compile(r"token-limit-(\d+)-per-(\d+)-seconds\s*:\s*(\d+)\s*/\s*(\d+)", re.IGNORECASE)


# --- errors -----------------------------------------------------------------------------------------


class EconomicError(Exception):
    """A failed call to e-conomic. The message is readable and never holds a token."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        log_id: str | None = None,
        problems: list[str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.log_id = log_id
        self.problems = problems or []
        self.retry_after = retry_after
        self.summary = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r}, error_code={self.error_code!r})"


class EconomicAuthError(EconomicError):
    """401/403: the app secret token or the agreement grant token is missing or was refused."""


class EconomicNotFound(EconomicError):
    """404: no such resource."""


class EconomicRejected(EconomicError):
    """Another 4xx (validation `E04300`, a bad filter, ...): sending the same request again will not help."""


class EconomicUnavailable(EconomicError):
    """No answer, or 429/5xx after every attempt: try again later."""


# --- JSON -------------------------------------------------------------------------------------------


def dumps(value: Any) -> str:
    """JSON text for a request body. `Decimal` is written exactly as it is (`Decimal("12.50")` ->
    `12.50`); a float or `None` is refused (`ValueError`/`TypeError` naming where), as are non-string
    keys and non-finite decimals."""
    return _dumps(value, "body")


def _dumps(value: Any, where: str) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{where}: {value} is not a number e-conomic accepts")
        return format(value, "f")
    if value is None:
        raise ValueError(f"{where}: e-conomic refuses null; leave the field out")
    if isinstance(value, float):
        raise TypeError(f"{where}: use Decimal, not float, for numbers with decimals")
    if isinstance(value, Mapping):
        parts = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: keys must be strings")
            parts.append(f"{json.dumps(key, ensure_ascii=False)}:{_dumps(item, f'{where}.{key}')}")
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dumps(item, f"{where}[{i}]") for i, item in enumerate(value)) + "]"
    raise TypeError(f"{where}: cannot send {type(value).__name__} as JSON")


def escape_filter_value(value: str) -> str:
    """A value for e-conomic's `filter` syntax: `$ ( ) * , [ ]` escaped (`$$`, `$(`, ...)."""
    return value.translate(_FILTER_ESCAPES)


# --- reading error answers --------------------------------------------------------------------------


def _problems(node: Any, path: str) -> list[str]:
    """`errors` of an e-conomic refusal as readable lines, e.g. `lines[1].product: Product '99' not found.`
    Understands both shapes: `{"field": {"errors": [...]}}` nested like the request, array elements as
    `{"items": [{"arrayIndex": i, ...}]}` or (older) a list of `{"arrayIndex": i, ...}`; each error has
    `errorMessage` (older: `message`) and `inputValue` (older: `value`)."""
    found: list[str] = []
    if isinstance(node, list):
        for position, item in enumerate(node):
            if isinstance(item, Mapping):
                index = item.get("arrayIndex", position)
                found.extend(_problems(item, f"{path}[{index}]"))
            elif isinstance(item, str):
                found.append(f"{path}: {item}" if path else item)
        return found
    if not isinstance(node, Mapping):
        return found
    errors = node.get("errors")
    if isinstance(errors, list):
        for error in errors:
            if isinstance(error, str):
                found.append(f"{path}: {error}" if path else error)
                continue
            if not isinstance(error, Mapping):
                continue
            text = str(error.get("errorMessage") or error.get("message") or error.get("errorCode") or "invalid")
            value = error.get("inputValue", error.get("value"))
            if value is not None and not isinstance(value, Mapping | list) and str(value) not in text:
                text = f"{text} (got {_short(str(value), 40)!r})"
            where = path or str(error.get("propertyName") or "")
            found.append(f"{where}: {text}" if where else text)
    for key, child in node.items():
        if key in ("errors", "arrayIndex"):
            continue
        if key == "items" and isinstance(child, list):
            found.extend(_problems(child, path))
        elif isinstance(child, Mapping | list):
            found.extend(_problems(child, f"{path}.{key}" if path else str(key)))
    return found


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with any token in it masked (should e-conomic ever echo one). Tokens of a few characters
    (tests) are left alone: masking every "g" would garble the message and protect nothing."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


_NO_ANSWER = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
"""No (whole) answer: repeated for GET and DELETE (which carries an Idempotency-Key), not for POST."""

_KINDS: dict[int, type[EconomicError]] = {401: EconomicAuthError, 403: EconomicAuthError, 404: EconomicNotFound}


def _error_from(
    method: str, path: str, response: requests.Response, body: Any, secrets: tuple[str, ...]
) -> EconomicError:
    """The exception for an error answer: its kind by status, its text from e-conomic's error body
    (`message`, `errorCode`, `logId`, and the field problems of a validation refusal)."""
    status = response.status_code
    document = body if isinstance(body, Mapping) else {}
    code = document.get("errorCode")
    log_id = document.get("logId")
    problems = [_scrub(p, secrets) for p in _problems(document.get("errors"), "")]
    summary = f"{status} {document.get('message') or response.reason or 'without a message'}"
    details = [str(x) for x in (code, f"logId {log_id}" if log_id else None) if x]
    if details:
        summary += f" ({', '.join(details)})"
    if problems:
        summary += " " + "; ".join(problems)
    text = f"e-conomic answered {method} {path} with {summary}"
    if status in (401, 403):
        text += " Check the app secret token and the agreement's grant token."
    kind = _KINDS.get(status, EconomicUnavailable if status == 429 or status >= 500 else EconomicRejected)
    error = kind(
        _short(_scrub(text, secrets), MAX_MESSAGE),
        status=status,
        error_code=str(code) if code else None,
        log_id=str(log_id) if log_id else None,
        problems=problems,
    )
    error.summary = _short(_scrub(summary, secrets), MAX_MESSAGE // 2)
    return error


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


# --- rate awareness ---------------------------------------------------------------------------------


@dataclass
class _BucketView:
    limit: int
    window: int
    used: float  # estimated tokens used as of `at`, our own calls in flight included
    at: float


class _Pacer:
    """The client's view of e-conomic's token buckets, shared by every thread of one client.

    Before each call: if the estimated used tokens plus this call's cost would pass `limit * (1 -
    reserve)`, the call waits until refill makes room (the waits of concurrent callers queue up, one
    cost's refill apart). The estimate errs high: after an answer it is the `used` reported plus every
    call of ours still in flight (those the answer may not have counted yet), and it only ever
    decreases by refill (`limit / window` per second)."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None], reserve: float) -> None:
        if not 0 <= reserve < 1:
            raise ValueError("reserve must be at least 0 and below 1")
        self._clock, self._sleep, self._reserve = clock, sleep, reserve
        self._lock = threading.Lock()
        self._buckets: dict[tuple[int, int], _BucketView] = {}
        self._inflight: dict[int, float] = {}
        self._tickets = itertools.count()
        self._cost = 1
        self.waited = 0.0
        """Seconds spent waiting for the budget, in total (for tests and metrics)."""

    def before(self) -> int:
        with self._lock:
            ticket = next(self._tickets)
            now = self._clock()
            wait = 0.0
            for bucket in self._buckets.values():
                rate = bucket.limit / bucket.window
                used = max(0.0, bucket.used - (now - bucket.at) * rate)
                ceiling = bucket.limit * (1 - self._reserve)
                if used + self._cost > ceiling:
                    wait = max(wait, (used + self._cost - ceiling) / rate)
                bucket.used, bucket.at = used + self._cost, now
            self._inflight[ticket] = now + wait
            if wait > 0:
                self.waited += wait
        if wait > 0:
            log.info("e-conomic: close to the agreement's rate budget, waiting %.2f s", wait)
            self._sleep(wait)
        return ticket

    def after(self, ticket: int, headers: Mapping[str, str] | None) -> None:
        with self._lock:
            self._inflight.pop(ticket, None)
            if headers is None:
                return
            cost = headers.get("X-CallCost", "")
            if cost.isdigit() and int(cost) > 0:
                self._cost = int(cost)
            reported = _RATE.findall(headers.get("X-RateLimiting", ""))
            if not reported:
                return
            now = self._clock()
            pending = len(self._inflight) * self._cost
            for limit_text, window_text, used_text, _ in reported:
                limit, window = int(limit_text), int(window_text)
                if limit <= 0 or window <= 0:
                    continue
                self._buckets[(limit, window)] = _BucketView(limit, window, float(used_text) + pending, now)

    def exhausted(self) -> None:
        """A 429 from the bucket: count it as full."""
        with self._lock:
            now = self._clock()
            for bucket in self._buckets.values():
                bucket.used, bucket.at = float(bucket.limit), now


# --- the client -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    status: int
    body: dict[str, Any]
    from_cache: bool


class EconomicClient:
    """One e-conomic agreement. Thread-safe: one client is meant to be shared by every thread that
    works for the agreement (its rate view and connection pool are shared)."""

    def __init__(
        self,
        tokens: Tokens,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5, 30),
        max_attempts: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        reserve: float = 0.1,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._tokens = tokens
        self.base_url = base_url.rstrip("/")
        self._session = session if session is not None else _pooled_session()
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep
        self._pacer = _Pacer(clock, sleep, reserve)

    def __repr__(self) -> str:
        return f"EconomicClient({self.base_url!r})"

    @property
    def rate_waited(self) -> float:
        """Seconds this client has waited to stay inside the agreement's rate budget."""
        return self._pacer.waited

    # --- HTTP -----------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        return self._call("GET", path, params=params).body

    def get_all(
        self, path: str, *, filter: str | None = None, sort: str | None = None, pagesize: int = MAX_PAGE_SIZE
    ) -> list[dict[str, Any]]:
        """Every item of a collection, page by page (`skippages`), `filter` in e-conomic's syntax."""
        return [item for page in self.pages(path, filter=filter, sort=sort, pagesize=pagesize) for item in page]

    def pages(
        self, path: str, *, filter: str | None = None, sort: str | None = None, pagesize: int = MAX_PAGE_SIZE
    ) -> Iterator[list[dict[str, Any]]]:
        """A collection one page at a time (`skippages` 0, 1, ...), so a caller can act on each page
        before asking for the next. With a `sort` on a field that only grows (`bookedInvoiceNumber`), a
        page stays the same while new items arrive: they come after it."""
        if not 1 <= pagesize <= MAX_PAGE_SIZE:
            raise ValueError(f"pagesize must be 1-{MAX_PAGE_SIZE}")
        seen = 0
        for page in itertools.count():
            params: dict[str, str | int] = {"skippages": page, "pagesize": pagesize}
            if filter:
                params["filter"] = filter
            if sort:
                params["sort"] = sort
            answer = self.get(path, params)
            collection = answer.get("collection")
            if not isinstance(collection, list):
                raise EconomicError(f"e-conomic answered GET {path} without a collection")
            items = [item for item in collection if isinstance(item, dict)]
            seen += len(items)
            if items:
                yield items
            pagination = answer.get("pagination") or {}
            results = pagination.get("results")
            if not collection or not pagination.get("nextPage") or (isinstance(results, int) and seen >= results):
                return

    def post(self, path: str, body: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        return self._call("POST", path, body=body, idempotency_key=idempotency_key).body

    def delete(self, path: str, *, idempotency_key: str) -> dict[str, Any]:
        collection = urlsplit(path).path.rstrip("/")
        if collection in {p for p, _ in DRAFTS.values()}:
            # e-conomic deletes EVERY draft of the agreement on DELETE /invoices/drafts: never send it.
            raise ValueError(f"refusing DELETE {collection} without a document number")
        return self._call("DELETE", path, idempotency_key=idempotency_key).body

    # --- what the export uses -------------------------------------------------------------------

    def customers(self) -> dict[int, dict[str, Any]]:
        return {c["customerNumber"]: c for c in self.get_all("/customers") if isinstance(c.get("customerNumber"), int)}

    def customer_groups(self) -> dict[int, dict[str, Any]]:
        groups = self.get_all("/customer-groups")
        return {g["customerGroupNumber"]: g for g in groups if isinstance(g.get("customerGroupNumber"), int)}

    def layouts(self) -> dict[int, dict[str, Any]]:
        """Layouts a document can use (those marked `deleted` are left out)."""
        layouts = self.get_all("/layouts")
        return {
            layout["layoutNumber"]: layout
            for layout in layouts
            if isinstance(layout.get("layoutNumber"), int) and not layout.get("deleted")
        }

    def products(self) -> dict[str, dict[str, Any]]:
        return {str(p["productNumber"]): p for p in self.get_all("/products") if p.get("productNumber") is not None}

    def find_drafts(self, kind: Kind, reference: str) -> list[dict[str, Any]]:
        """Drafts whose `references.other` is exactly `reference` (e-conomic's filter ignores case;
        this does not). Listings carry no `lines`: use `get_draft` for the whole document."""
        path, _ = _drafts(kind)
        found = self.get_all(path, filter=f"references.other$eq:{escape_filter_value(reference)}")
        return [d for d in found if (d.get("references") or {}).get("other", reference) == reference]

    def get_draft(self, kind: Kind, number: int) -> dict[str, Any] | None:
        path, _ = _drafts(kind)
        try:
            return self.get(f"{path}/{_positive(number)}")
        except EconomicNotFound:
            return None

    def create_draft(self, kind: Kind, body: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """The created document (201), or the first answer again when `idempotency_key` was used before."""
        path, _ = _drafts(kind)
        return self.post(path, body, idempotency_key=idempotency_key)

    def delete_draft(self, kind: Kind, number: int, *, idempotency_key: str) -> None:
        """Deletes one draft. A draft that is not there (404) counts as deleted: there is nothing to do."""
        path, _ = _drafts(kind)
        try:
            self.delete(f"{path}/{_positive(number)}", idempotency_key=idempotency_key)
        except EconomicNotFound:
            log.info("e-conomic: %s %d was already gone", kind, number)

    # --- what the accounting sync uses ---------------------------------------------------------

    def booked_pages(self, filter: str, *, pagesize: int = MAX_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Booked invoices matching `filter`, by ascending `bookedInvoiceNumber`, a page at a time.
        Listings carry no lines: number, date, amounts, customer and `references` are all there."""
        return self.pages(BOOKED, filter=filter, sort="bookedInvoiceNumber", pagesize=pagesize)

    def find_booked(self, reference: str) -> list[dict[str, Any]]:
        """Booked invoices whose `references.other` is exactly `reference`."""
        found = self.get_all(BOOKED, filter=f"references.other$eq:{escape_filter_value(reference)}")
        return [d for d in found if (d.get("references") or {}).get("other", reference) == reference]

    def list_drafts(self, kind: Kind) -> list[dict[str, Any]]:
        """Every draft invoice (or order) of the agreement, without lines."""
        path, _ = _drafts(kind)
        return self.get_all(path)

    def find_sent_orders(self, reference: str) -> list[dict[str, Any]]:
        """Sent orders whose `references.other` is exactly `reference`."""
        found = self.get_all(SENT_ORDERS, filter=f"references.other$eq:{escape_filter_value(reference)}")
        return [d for d in found if (d.get("references") or {}).get("other", reference) == reference]

    def sent_orders(self) -> list[dict[str, Any]]:
        """Orders registered as sent (`/orders/sent`): locked, waiting to be upgraded to an invoice."""
        return self.get_all(SENT_ORDERS)

    # --- the request loop -----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> _Call:
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        if method in ("POST", "DELETE") and not idempotency_key:
            raise ValueError(f"{method} needs an idempotency key")
        data = dumps(body).encode("utf-8") if body is not None else None
        url = self.base_url + path
        refresh, refreshed = False, False
        attempt = 0
        last = ""
        while True:
            attempt += 1
            app, grant = self._tokens(refresh)
            refresh = False
            secrets = (app.reveal(), grant.reveal())
            headers = {
                "X-AppSecretToken": secrets[0],
                "X-AgreementGrantToken": secrets[1],
                "Accept": "application/json",
            }
            if data is not None:
                headers["Content-Type"] = "application/json"
            if idempotency_key is not None:
                headers["Idempotency-Key"] = idempotency_key
            ticket = self._pacer.before()
            try:
                response = self._session.request(
                    method, url, params=params, data=data, headers=headers, timeout=self._timeout
                )
            except _NO_ANSWER as failure:
                self._pacer.after(ticket, None)
                last = "timed out" if isinstance(failure, requests.Timeout) else "connection failed"
                if method == "POST":
                    # The document may exist now. e-conomic's replay of the Idempotency-Key on this API is
                    # not documented, so the caller looks it up (by reference) before posting again.
                    raise EconomicUnavailable(
                        f"e-conomic did not answer {method} {path} ({last}); the document may have been created"
                    ) from None
                if attempt >= self._max_attempts:
                    raise EconomicUnavailable(
                        f"e-conomic did not answer {method} {path} after {attempt} attempts (last: {last})"
                    ) from None
                delay = self._delay(attempt, None)
                log.warning("e-conomic %s %s: %s; retry %d in %.1f s", method, path, last, attempt, delay)
                self._sleep(delay)
                continue
            self._pacer.after(ticket, response.headers)
            status = response.status_code
            parsed = _parse(response)
            if 200 <= status < 300:
                if not isinstance(parsed, dict):
                    if not response.content.strip():
                        parsed = {}
                    else:
                        raise EconomicError(
                            f"e-conomic answered {status} to {method} {path} with something that is not a JSON object",
                            status=status,
                        )
                cached = response.headers.get("X-ResultFromCache", "").lower() == "true"
                return _Call(status, parsed, cached)
            if status == 401 and not refreshed:
                refreshed, refresh = True, True
                attempt -= 1  # a token refresh is not a failed attempt
                log.info("e-conomic %s %s: 401, refreshing the tokens once", method, path)
                continue
            error = _error_from(method, path, response, parsed, secrets)
            if not (status == 429 or status >= 500):
                raise error
            if method == "POST" and status in AMBIGUOUS_STATUSES:
                # The server may have stored the document before failing: the caller looks it up by
                # reference before posting again (e-conomic's replay of a POST's key is not verified).
                raise EconomicUnavailable(
                    _short(f"{error.summary}; the document may have been created", MAX_MESSAGE),
                    status=status,
                    error_code=error.error_code,
                    log_id=error.log_id,
                )
            if status == 429 and "X-RateLimiting" not in response.headers:
                self._pacer.exhausted()
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            last = error.summary
            if attempt >= self._max_attempts or (retry_after is not None and retry_after > MAX_RETRY_AFTER):
                text = f"e-conomic did not answer {method} {path} after {attempt} attempts (last: {last})"
                raise EconomicUnavailable(
                    _short(text, MAX_MESSAGE),
                    status=status,
                    error_code=error.error_code,
                    log_id=error.log_id,
                    problems=error.problems,
                    retry_after=retry_after,
                )
            delay = self._delay(attempt, retry_after)
            log.warning("e-conomic %s %s: %s; retry %d in %.1f s", method, path, last, attempt, delay)
            self._sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Full-size exponential backoff with jitter in its upper half; at least `Retry-After`."""
        cap = min(self._max_backoff, self._backoff * 2 ** (attempt - 1))
        if retry_after is not None:
            return retry_after + random.uniform(0, min(cap, self._backoff) / 2)
        return random.uniform(cap / 2, cap)


def _pooled_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _parse(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None


def _drafts(kind: str) -> tuple[str, str]:
    try:
        return DRAFTS[kind]
    except KeyError:
        raise ValueError(f"unknown document kind {kind!r}: draftInvoice or order") from None


def _positive(number: int) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"not a document number: {number!r}")
    return number


def document_number(kind: Kind, document: Mapping[str, Any]) -> int:
    """`draftInvoiceNumber` of a draft invoice, `orderNumber` of an order."""
    _, field = _drafts(kind)
    number = document.get(field)
    if isinstance(number, bool) or not isinstance(number, int):
        raise EconomicError(f"e-conomic's {kind} document has no {field}")
    return number
