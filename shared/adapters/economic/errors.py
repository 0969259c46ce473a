"""The exceptions of the e-conomic adapter, and how an error answer becomes one of them.

Every message is readable, at most `MAX_MESSAGE` characters, and never holds a token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from shared.errors import (
    AccountingAuthFailed,
    AccountingError,
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
    if status in (401, 403):
        text += " Check the app secret token and the agreement's grant token."
    kind = _KINDS.get(status, EconomicUnavailable if status == 429 or status >= 500 else EconomicRejected)
    error = kind(
        shorten(_scrub(text, secrets), MAX_MESSAGE),
        status=status,
        error_code=str(code) if code else None,
        log_id=str(log_id) if log_id else None,
        problems=problems,
    )
    error.summary = shorten(_scrub(summary, secrets), MAX_MESSAGE // 2)
    return error
