"""The one table from domain errors (`shared.errors`) to HTTP answers.

Every error answer carries the certified connector's `Message`/`Success` envelope: Logic Apps and Power
Automate treat any 2xx as success and carry on, so a failure is always a real HTTP error status, never
a 200 with `Success: false`. A `retry_after` becomes `Retry-After`; statuses Logic Apps retries (408,
429, 5xx) are given only to failures a retry may cure.
"""

from __future__ import annotations

import math
from typing import Any

from shared.errors import (
    AccountingAuthFailed,
    AccountingError,
    AccountingRefused,
    AccountingUnusable,
    Conflict,
    Denied,
    DomainError,
    Invalid,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    RateLimited,
    Rejected,
    TooLarge,
    Unauthenticated,
    Unavailable,
)
from shared.web.types import ApiResponse

STATUS: dict[type[DomainError], int] = {
    Invalid: 400,
    Unauthenticated: 401,
    Denied: 403,
    AccountingAuthFailed: 403,  # the tenant's e-conomic tokens: fixed by whoever configures the tenant
    NotFound: 404,
    Conflict: 409,  # Busy too, with Retry-After
    PreconditionFailed: 412,  # a stale If-Match
    TooLarge: 413,
    Rejected: 422,
    PreconditionRequired: 428,  # no If-Match
    RateLimited: 429,
    AccountingRefused: 502,  # e-conomic refused our question: not the caller's input
    AccountingUnusable: 502,
    AccountingError: 502,
    Unavailable: 503,  # AccountingUnavailable and StorageUnavailable too
}


def http_status(error: DomainError) -> int:
    """The status of `error`: its own class's entry, else the nearest base class's; 500 for none."""
    for cls in type(error).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 500


def error_body(error: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {"Message": error.message, "Success": False}
    if error.code:
        body["Code"] = error.code
    if error.errors:
        body["Errors"] = [e.as_dict() for e in error.errors]
    return body


def error_response(error: DomainError) -> ApiResponse:
    """The answer for `error`: its status, `Retry-After` when it has one, and the envelope."""
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    return ApiResponse(http_status(error), error_body(error), headers)
