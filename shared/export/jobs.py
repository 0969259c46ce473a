"""The record of an export job: what it was asked to export and how it went (stored by
`shared.repositories.export`), and whether a job is still active."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

DocumentType = Literal["draftInvoice", "order"]
JobState = Literal["queued", "running", "succeeded", "failed"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed"})


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
    """Fixed by the first attempt, so a redelivered message exports exactly the same drafts."""
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
