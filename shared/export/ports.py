"""What the export needs from the outside (e-conomic, the job store, a mailer), what its handlers are
handed, and the errors it uses internally. e-conomic's and storage's failures arrive as the domain
errors of `shared.errors` (AccountingAuthFailed, AccountingRefused, AccountingError, Unavailable)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any, Protocol

from shared.export.jobs import DocumentType, Job, Problem


class EconomicApi(Protocol):
    """The part of `shared.adapters.economic.EconomicClient` the export uses."""

    def customers(self) -> dict[int, dict[str, Any]]: ...
    def customer_groups(self) -> dict[int, dict[str, Any]]: ...
    def layouts(self) -> dict[int, dict[str, Any]]: ...
    def products(self) -> dict[str, dict[str, Any]]: ...
    def find_drafts(self, kind: DocumentType, reference: str) -> list[dict[str, Any]]: ...
    def find_drafts_from(self, kind: DocumentType, prefix: str) -> list[dict[str, Any]]: ...
    def get_draft(self, kind: DocumentType, number: int) -> dict[str, Any] | None: ...
    def create_draft(self, kind: DocumentType, body: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]: ...
    def delete_draft(
        self, kind: DocumentType, number: int, *, idempotency_key: str, reference: str | None = None
    ) -> None: ...
    def find_sent_orders(self, reference: str) -> list[dict[str, Any]]: ...
    def find_archived_orders(self, reference: str) -> list[dict[str, Any]]: ...
    def payment_terms(self) -> dict[int, dict[str, Any]]: ...
    def find_booked(self, reference: str) -> list[dict[str, Any]]: ...


class JobRepository(Protocol):
    def create(self, job: Job) -> Job | None: ...
    def get(self, job_id: str) -> Job | None: ...
    def replace(self, job: Job) -> Job | None: ...
    def delete(self, job_id: str) -> None: ...


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class InvalidMessage(Exception):
    """A queue message that can never run: recorded as the failed `job` on its first delivery and dropped
    (the worker returns normally, so the host deletes it; no retry could change it)."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


class JobBusy(Exception):
    """The job is running elsewhere right now; the queue retries the message later."""


class ExportFailed(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = list(problems)


class Transient(Exception):
    """Wraps a transient failure with a readable reason for the job record."""


def short(error: Exception) -> str:
    """An error as the job record and the report name it: at most 500 characters."""
    text = str(error) or type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."
