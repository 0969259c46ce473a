"""What the export needs from the outside (e-conomic, the job store, a mailer, how failures are
signalled), and the errors it raises and uses internally."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

from shared.errors import FieldError, Forbidden
from shared.export.jobs import DocumentType, Job, Problem


class EconomicApi(Protocol):
    """The part of `shared.adapters.economic.EconomicClient` the export uses."""

    def customers(self) -> dict[int, dict[str, Any]]: ...
    def customer_groups(self) -> dict[int, dict[str, Any]]: ...
    def layouts(self) -> dict[int, dict[str, Any]]: ...
    def products(self) -> dict[str, dict[str, Any]]: ...
    def find_drafts(self, kind: DocumentType, reference: str) -> list[dict[str, Any]]: ...
    def get_draft(self, kind: DocumentType, number: int) -> dict[str, Any] | None: ...
    def create_draft(self, kind: DocumentType, body: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]: ...
    def delete_draft(self, kind: DocumentType, number: int, *, idempotency_key: str) -> None: ...
    def find_sent_orders(self, reference: str) -> list[dict[str, Any]]: ...
    def find_booked(self, reference: str) -> list[dict[str, Any]]: ...


class JobRepository(Protocol):
    def create(self, job: Job) -> Job | None: ...
    def get(self, job_id: str) -> Job | None: ...
    def replace(self, job: Job) -> Job | None: ...
    def delete(self, job_id: str) -> None: ...


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class Failures:
    """How the outside systems signal trouble, so the service needs no adapter imports."""

    rejected: tuple[type[Exception], ...]
    """Permanent: e-conomic refused a request (validation, 4xx)."""
    auth: tuple[type[Exception], ...]
    """The tenant's e-conomic tokens are missing or refused."""
    transient: tuple[type[Exception], ...]
    """Retry later: e-conomic or storage unavailable, timeouts."""
    unusable: tuple[type[Exception], ...] = ()
    """Any other failure of e-conomic's adapter: an answer that cannot be used (no JSON object, no
    collection). Checked after the others; the accounting sync answers it with 502."""


class InvalidMessage(Exception):
    """A queue message that can never run; the queue retries it and then moves it to the poison queue."""


class JobBusy(Exception):
    """The job is running elsewhere right now; the queue retries the message later."""


class ExportFailed(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = list(problems)


class Transient(Exception):
    """Wraps a transient failure with a readable reason for the job record."""


def economic_refused(tenant: str, error: Exception) -> Forbidden:
    return Forbidden(
        f"The e-conomic integration of {tenant} is not valid: {error}",
        [FieldError("economic", "the e-conomic tokens are missing or were refused")],
        code="economic",
    )


def short(error: Exception) -> str:
    """An error as the job record and the report name it: at most 500 characters."""
    text = str(error) or type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."
