"""Errors the API answers with. Every one carries the connector's `Message`/`Success` envelope.

Logic Apps and Power Automate treat any 2xx as success and carry on, so a failure is always a real
HTTP error status, never a 200 with `Success: false`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"Field": self.field, "Message": self.message}


@dataclass
class ApiError(Exception):
    message: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    code: str = ""
    """A short machine-readable reason where one status has several (403 `access_denied` / `economic`)."""
    status: ClassVar[int] = 500

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Message": self.message, "Success": False}
        if self.code:
            body["Code"] = self.code
        if self.errors:
            body["Errors"] = [e.as_dict() for e in self.errors]
        return body


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class Unprocessable(ApiError):
    status = 422


class TooManyRequests(ApiError):
    status = 429


class BadGateway(ApiError):
    """An outside system (e-conomic) answered something we cannot use."""

    status = 502


class ServiceUnavailable(ApiError):
    status = 503


def validation_failed(errors: list[FieldError]) -> BadRequest:
    fields = ", ".join(dict.fromkeys(e.field for e in errors))
    return BadRequest(f"The request is invalid: {fields}.", errors)
