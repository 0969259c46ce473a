"""Errors by meaning, in one module. Services, repositories and adapters raise these and nothing else
crosses a layer: a repository wraps `AzureError`, the e-conomic adapter wraps `requests` and e-conomic's
answers. Each feature's `ports.py` names the ones it raises.

None of them knows HTTP: one table at the HTTP edge (`shared.web.status`) maps each to a status code and
the connector's `Message`/`Success` envelope, and the queue worker decides "retry or give up" from the
same classes (`Unavailable` is the only kind worth retrying).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One rule one input field breaks: `field` as the caller wrote it (`link[0].customerId`)."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"Field": self.field, "Message": self.message}


class DomainError(Exception):
    """A request that cannot be carried out, with a readable message and the fields it concerns.

    `code` is a short machine-readable reason where one meaning has several causes (`access_denied`,
    `economic`, `busy`, `multiple`, `reseller`); `retry_after` (seconds) says when trying again may help.
    """

    def __init__(
        self,
        message: str,
        errors: Iterable[FieldError] = (),
        *,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = list(errors)
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class Invalid(DomainError):
    """The input breaks a rule; `errors` names each field and rule. Sending it again cannot help."""


class Unauthenticated(DomainError):
    """No credentials, or credentials nobody issued."""


class Denied(DomainError):
    """The caller is known but lacks the right (or the scope) for this."""


class NotFound(DomainError):
    """What the request names does not exist (for this caller)."""


class Conflict(DomainError):
    """The thing's current state does not allow it (held by a job, changed meanwhile, used differently)."""


class PreconditionFailed(Conflict):
    """The thing changed since the caller read it: the version the caller named (`If-Match`) is not
    its current one. Read it again and redo the change."""


class PreconditionRequired(DomainError):
    """The change must name the version it was made from (`If-Match`), so it cannot overwrite a change
    the caller has not seen."""


class Busy(Conflict):
    """Someone else is working on it right now; trying again after `retry_after` may succeed."""


class TooLarge(DomainError):
    """The input is larger than the service takes."""


class Rejected(DomainError):
    """Well-formed input that cannot be carried out as asked: it references what is missing, breaks a
    precondition, or reuses an idempotency key for something else. Each reason is in `errors`."""


class RateLimited(DomainError):
    """The caller's budget of calls is spent; `retry_after` says when the next one is admitted."""


class Unavailable(DomainError):
    """Something this service depends on cannot be reached now (storage, Key Vault, a lease held by a
    crashed run): retry after `retry_after`. The only kind of failure a queue retry may cure."""


class StorageUnavailable(Unavailable):
    """Table or queue storage did not answer, or answered with an error not handled as a domain answer."""


# -- the accounting system (e-conomic) ------------------------------------------------------------------


class AccountingError(DomainError):
    """e-conomic could not do what was asked. Subclasses say why; the message never holds a token."""


class AccountingRefused(AccountingError):
    """e-conomic refused the request (validation, a filter it does not take): permanent for this input."""


class AccountingNotFound(AccountingRefused):
    """e-conomic has no such resource."""


class AccountingAuthFailed(AccountingError, Denied):
    """The tenant's e-conomic tokens are missing or were refused: the tenant is denied e-conomic."""


class AccountingUnavailable(Unavailable, AccountingError):
    """e-conomic did not answer, or answered 429/5xx after every attempt: try again later."""


class AccountingKeySpent(AccountingUnavailable):
    """e-conomic replayed an error answer (5xx, 429) it keeps for the request's Idempotency-Key
    (`X-ResultFromCache: true`): the same key gets that answer for an hour, so look the document up and
    write again, if at all, with a fresh key."""


class AccountingUnusable(AccountingError):
    """e-conomic answered with something that cannot be used (not JSON, no collection)."""


def invalid(errors: list[FieldError]) -> Invalid:
    """The 400 for a list of field errors, its message naming each field once."""
    fields = ", ".join(dict.fromkeys(e.field for e in errors))
    return Invalid(f"The request is invalid: {fields}.", errors)


def integration_refused(tenant: str, reason: object) -> AccountingAuthFailed:
    """The answer when a tenant's e-conomic tokens are missing, unusable or refused by e-conomic."""
    return AccountingAuthFailed(
        f"The e-conomic integration of {tenant} is not valid: {reason}",
        [FieldError("economic", "the e-conomic tokens are missing or were refused")],
        code="economic",
    )
