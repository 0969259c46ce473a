"""The record of an export job: what it was asked to export and how it went (stored by
`shared.repositories.export`), and whether a job is still active."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, Protocol, cast

from shared.invoicing.directory import TenantSettings

DocumentType = Literal["draftInvoice", "order"]
JobState = Literal["queued", "running", "succeeded", "failed"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed"})
FUNCTION_TIMEOUT = timedelta(minutes=10)
"""host.json functionTimeout: a job still `running` on its last attempt after this has been given up."""


def document_type_for(requested: str | None, settings: TenantSettings) -> DocumentType:
    """What a job makes: the request's `documentType`, else the tenant's default (`billing/settings`,
    only draftInvoice or order read back), else draftInvoice. Fixed on the job record when it is created."""
    return cast(DocumentType, requested or settings.document_type or "draftInvoice")


@dataclass(frozen=True)
class Problem:
    """One reason an export cannot run or failed: the integration's error code as `field`."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"Field": self.field, "Message": self.message}


@dataclass(frozen=True)
class ExportedDocument:
    draft: int
    number: int


@dataclass(frozen=True)
class Job:
    job_id: str
    tenant: str
    document_type: DocumentType
    invoice_date: date
    group_lines: bool
    layout: int | None
    omit: tuple[int, ...]
    admin_mode: bool
    requested_by: str
    """Key id of the caller, or "queue" for a message put on the queue directly."""
    notify: tuple[str, ...]
    """Who gets the report (the requester's e-mail, if known); the tenant's accounting address is added."""
    created_at: datetime
    updated_at: datetime
    state: JobState = "queued"
    attempts: int = 0
    drafts: tuple[int, ...] | None = None
    """The drafts the request named (`draftIds`), fixed when the job is created; else fixed by the first
    attempt. Either way a redelivered message exports exactly the same drafts."""
    total: int = 0
    """Drafts selected including the omitted ones (the integration's `total`)."""
    documents: tuple[ExportedDocument, ...] = ()
    errors: tuple[Problem, ...] = ()
    leftovers: tuple[ExportedDocument, ...] = ()
    """Documents a failed job could not delete from e-conomic (named in the report)."""
    poisoned: bool = False
    notified_at: datetime | None = None
    version: object | None = field(default=None, compare=False)

    @property
    def exported(self) -> int:
        """All selected drafts once the job succeeded; for a failed job, the drafts its rollback had to
        leave exported (their documents were booked or sent meanwhile, or could not be deleted)."""
        return len(self.documents) if self.state in ("succeeded", "failed") else 0


MOVED = "economic.moved"
"""The `Problem.field` of a draft a failed job kept exported: its document was booked, sent or upgraded
in e-conomic while the job ran, so it could not be rolled back."""
KEPT = "economic.kept"
"""The `Problem.field` of an exported draft whose document a failed job could not delete: the draft
stays exported with it (opening it could bill its notes twice, should the document be booked)."""


class JobLookup(Protocol):
    def get(self, job_id: str) -> Job | None: ...


class JobActivity:
    """Is this job still active? Needs only the job store, so the composition root builds it before the
    invoicing service (which leaves drafts held by an active job alone) and the export."""

    def __init__(self, jobs: JobLookup, *, clock: Callable[[], datetime], max_attempts: int = 5) -> None:
        self._jobs = jobs
        self._clock = clock
        self.max_attempts = max_attempts

    def given_up(self, job: Job) -> bool:
        """The worker died during the last attempt: the host has moved the message to the poison queue."""
        abandoned = job.updated_at + FUNCTION_TIMEOUT * 2 < self._clock()
        return job.state == "running" and job.attempts >= self.max_attempts and abandoned

    def is_active(self, job_id: str) -> bool:
        """Whether the job may still work on its drafts: not ended, and not given up by the queue."""
        job = self._jobs.get(job_id)
        if job is None or job.state in FINISHED:
            return False
        return not self.given_up(job)

    def active(self, job_ids: Iterable[str | None]) -> set[str]:
        """Those of these jobs that still run (one read per job, however often it is named)."""
        return {job for job in set(job_ids) if job is not None and self.is_active(job)}
