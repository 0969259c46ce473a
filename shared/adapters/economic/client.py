"""`EconomicClient`: the transport to e-conomic's REST API over `requests` (tokens, JSON bodies,
retries with backoff and `Retry-After`, rate pacing, paging). Errors, retries and the rate budget are
explained in the package's docstring (`shared.adapters.economic`); the endpoints are in `documents`."""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from shared.adapters.economic.documents import DRAFTS, MAX_PAGE_SIZE, Documents
from shared.adapters.economic.errors import (
    MAX_MESSAGE,
    EconomicKeySpent,
    EconomicUnavailable,
    EconomicUnusable,
    error_from,
    shorten,
)
from shared.adapters.economic.rate import Pacer
from shared.adapters.economic.wire import dumps, parse, retry_after_seconds
from shared.platform.secrets import SecretValue

log = logging.getLogger("invoice_bridge.economic")

DEFAULT_BASE_URL = "https://restapi.e-conomic.com"
MAX_RETRY_AFTER = 300.0
"""A `Retry-After` longer than this is not slept: the call gives up at once (`EconomicUnavailable`
with `.retry_after`), so a caller such as a queue job can come back later instead."""

Tokens = Callable[[bool], tuple[SecretValue, SecretValue]]
"""(app secret token, agreement grant token); called with True to force a refresh after a 401."""

AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
"""Answers to a POST after which the document may exist: not retried blindly (429 and 503 are)."""

_NO_ANSWER = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
"""No (whole) answer: repeated for GET only. Not for POST (the document may exist now) nor DELETE: the
draft's number may belong to another document by the time it is sent again (e-conomic reuses numbers),
so `Documents.delete_draft` reads the draft and re-checks its reference first."""


@dataclass(frozen=True)
class _Call:
    status: int
    body: dict[str, Any]
    from_cache: bool


class EconomicClient(Documents):
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
        self._pacer = Pacer(clock, sleep, reserve)

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
                raise EconomicUnusable(f"e-conomic answered GET {path} without a collection")
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
                if method in ("POST", "DELETE"):
                    # POST: the document may exist now; DELETE: it may be gone and its number taken by
                    # another. The caller looks (by reference) before sending it again, with a fresh key.
                    done = "created" if method == "POST" else "deleted"
                    raise EconomicUnavailable(
                        f"e-conomic did not answer {method} {path} ({last}); the document may have been {done}"
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
            parsed = parse(response)
            if 200 <= status < 300:
                if not isinstance(parsed, dict):
                    if not response.content.strip():
                        parsed = {}
                    else:
                        raise EconomicUnusable(
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
            error = error_from(method, path, response, parsed, secrets)
            if not (status == 429 or status >= 500):
                raise error
            if idempotency_key is not None and response.headers.get("X-ResultFromCache", "").lower() == "true":
                # e-conomic replays the key's first answer for an hour (X-ResultFromCache; its OpenAPI
                # description, apis.e-conomic.com), errors not excluded (issue 15 item 13): this key is
                # spent. The caller looks the document up and uses a fresh key.
                raise EconomicKeySpent(
                    shorten(
                        f"{error.summary}, replayed from e-conomic's cache for this Idempotency-Key: "
                        f"{method} {path} must be checked and sent again with a new key",
                        MAX_MESSAGE,
                    ),
                    status=status,
                    error_code=error.error_code,
                    log_id=error.log_id,
                    problems=error.problems,
                )
            if method == "POST" and status in AMBIGUOUS_STATUSES:
                # The server may have stored the document before failing: the caller looks it up by
                # reference before posting again (e-conomic's replay of a POST's key is not verified).
                raise EconomicUnavailable(
                    shorten(f"{error.summary}; the document may have been created", MAX_MESSAGE),
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
                    shorten(text, MAX_MESSAGE),
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
