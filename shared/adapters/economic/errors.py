"""The exceptions of the e-conomic adapter, and how an error answer becomes one of them.

Every message is readable, at most `MAX_MESSAGE` characters, and never holds a token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from shared.errors import (
    AccountingAuthFailed,
    AccountingError,
    AccountingKeySpent,
    AccountingNotFound,
    AccountingRefused,
    AccountingUnavailable,
    AccountingUnusable,
)

MAX_MESSAGE = 500


class EconomicError(AccountingError):
    """A failed call to e-conomic. The message is readable and never holds a token. Each subclass is
    also the domain error it means (`shared.errors`), so callers catch meanings, not this adapter."""

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
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.error_code = error_code
        self.log_id = log_id
        self.problems = problems or []
        self.summary = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r}, error_code={self.error_code!r})"


class EconomicAuthError(EconomicError, AccountingAuthFailed):
    """401/403: the app secret token or the agreement grant token is missing or was refused."""


class EconomicNotFound(EconomicError, AccountingNotFound):
    """404: no such resource."""


class EconomicRejected(EconomicError, AccountingRefused):
    """Another 4xx (validation `E04300`, a bad filter, ...): sending the same request again will not help."""


class EconomicUnavailable(EconomicError, AccountingUnavailable):
    """No answer, or 429/5xx after every attempt: try again later."""


class EconomicKeySpent(EconomicUnavailable, AccountingKeySpent):
    """A 5xx or 429 replayed from e-conomic's Idempotency-Key cache (`X-ResultFromCache: true`): e-conomic
    replays a key's first answer for an hour (its OpenAPI description, apis.e-conomic.com) and nothing
    says error answers are left out (issue 15 item 13), so retrying the same key cannot help. The caller
    looks the document up and, if it is missing, writes again with a fresh key."""


class EconomicUnusable(EconomicError, AccountingUnusable):
    """A successful answer the adapter cannot use: not a JSON object, a listing without a collection, a
    document without its number. Neither the request's fault nor a passing outage."""


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
                text = f"{text} (got {shorten(str(value), 40)!r})"
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


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with any token in it masked (should e-conomic ever echo one). Tokens of a few characters
    (tests) are left alone: masking every "g" would garble the message and protect nothing."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


_KINDS: dict[int, type[EconomicError]] = {401: EconomicAuthError, 403: EconomicAuthError, 404: EconomicNotFound}


INVENTORY_MODULE = (
    "e-conomic refuses orders on this agreement: agreements with the inventory module cannot create or "
    "change orders through the API. Export with documentType draftInvoice instead"
)
"""e-conomic/slate@8abdb42 source/includes/_orders.md: "data creation and modification on resources in
/orders will not be available on agreements that have inventory module enabled"."""


def _inventory_refusal(method: str, path: str, status: int, summary: str, problems: list[str]) -> str | None:
    """Whether an error answer is e-conomic refusing a write to /orders because of the inventory module:
    "certain" when the answer names the module, "possible" for a refusal that names no field (a field
    refusal is validation, E04300 with `errors`), else None. What e-conomic answers then (status, text)
    is not documented, so both are read."""
    if method == "GET" or not path.startswith("/orders") or status in (401, 404, 429) or not 400 <= status < 500:
        return None
    if "inventory" in summary.casefold():
        return "certain"
    return "possible" if not problems else None


def error_from(
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
    kind = _KINDS.get(status, EconomicUnavailable if status == 429 or status >= 500 else EconomicRejected)
    inventory = _inventory_refusal(method, path, status, summary, problems)
    if inventory == "certain":
        text = f"{INVENTORY_MODULE} ({text})"
        kind = EconomicRejected  # a 403 here is the module, not the tokens: trying the tokens again won't help
    elif status in (401, 403):
        text += " Check the app secret token and the agreement's grant token."
    if inventory == "possible":
        text += (
            f" If the agreement has e-conomic's inventory module: {INVENTORY_MODULE[0].lower()}{INVENTORY_MODULE[1:]}."
        )
    error = kind(
        shorten(_scrub(text, secrets), MAX_MESSAGE),
        status=status,
        error_code=str(code) if code else None,
        log_id=str(log_id) if log_id else None,
        problems=problems,
    )
    error.summary = shorten(_scrub(summary, secrets), MAX_MESSAGE // 2)
    return error
