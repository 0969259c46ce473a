"""Export jobs in the `Exports` table: PartitionKey = job id, RowKey = "job". Writes after the first
are conditional on the ETag, so two deliveries of one message cannot overwrite each other's record.

The per-draft progress of a job lives on the draft headers themselves (`Accounting` in the `Work`
table, see `shared.export.worker`), next to the status it ends in.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.storage import check_entity, repository
from shared.export.jobs import ExportedDocument, Job, Problem

ROW = "job"
MAX_ERRORS = 200
FIELDS = {"Omit": "invoicesToOmit", "Notify": "requestedBy", "Drafts": "draftIds"}
"""The request field each unbounded property comes from, for a 413 naming it (`check_entity`)."""
MAX_ERRORS_CHARS = 30_000
"""Below the 32K UTF-16 units of one string property (counted in UTF-16, so astral characters count twice)."""


@repository
class TableJobRepository:
    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table

    def create(self, job: Job) -> Job | None:
        """None when a job with this id exists already."""
        try:
            metadata = self._table().create_entity(_to_entity(job))
        except ResourceExistsError:
            return None
        return replace(job, version=metadata.get("etag"))

    def get(self, job_id: str) -> Job | None:
        try:
            entity = self._table().get_entity(job_id, ROW)
        except ResourceNotFoundError:
            return None
        return _from_entity(entity)

    def replace(self, job: Job) -> Job | None:
        """Stores `job` if the stored record is still the version it was read at; None otherwise."""
        try:
            metadata = self._table().update_entity(
                _to_entity(job),
                mode=UpdateMode.REPLACE,
                etag=str(job.version),
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return replace(job, version=metadata.get("etag"))

    def delete(self, job_id: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self._table().delete_entity(job_id, ROW)


def _documents(items: tuple[ExportedDocument, ...]) -> str:
    # "draft:number" pairs keep a 3,000-draft job well inside one 32K-character property.
    return ",".join(f"{d.draft}:{d.number}" for d in items)


def _parse_documents(text: str) -> tuple[ExportedDocument, ...]:
    pairs = (item.split(":") for item in text.split(",") if item)
    return tuple(ExportedDocument(int(a), int(b)) for a, b in pairs)


def _errors(problems: tuple[Problem, ...]) -> str:
    """The job's errors as JSON that fits one property: the first ones, and how many more there were
    (a cut through the middle of the JSON would make every later read of the job fail)."""
    keep = min(len(problems), MAX_ERRORS)
    while True:
        errors = [p.as_dict() for p in problems[:keep]]
        if len(problems) > keep:
            errors.append({"Field": "errors", "Message": f"and {len(problems) - keep} more"})
        text = json.dumps(errors, ensure_ascii=False)
        if len(text.encode("utf-16-le")) <= 2 * MAX_ERRORS_CHARS or keep == 0:
            return text
        keep //= 2


def _to_entity(job: Job) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": job.job_id,
        "RowKey": ROW,
        "Tenant": job.tenant,
        "DocumentType": job.document_type,
        "InvoiceDate": job.invoice_date.isoformat(),
        "GroupLines": job.group_lines,
        "Omit": json.dumps(list(job.omit), separators=(",", ":")),
        "AdminMode": job.admin_mode,
        "RequestedBy": job.requested_by,
        "Notify": json.dumps(list(job.notify)),
        "CreatedAt": job.created_at,
        "UpdatedAt": job.updated_at,
        "State": job.state,
        "Attempts": job.attempts,
        "Total": job.total,
        "Documents": _documents(job.documents),
        "Leftovers": _documents(job.leftovers),
        "Errors": _errors(job.errors),
        "Poisoned": job.poisoned,
    }
    if job.layout is not None:
        entity["Layout"] = job.layout
    if job.drafts is not None:
        entity["Drafts"] = ",".join(str(n) for n in job.drafts)
    if job.notified_at is not None:
        entity["NotifiedAt"] = job.notified_at
    check_entity(entity, FIELDS)
    return entity


def _from_entity(e: Any) -> Job:
    drafts = e.get("Drafts")
    try:
        errors = tuple(Problem(p["Field"], p["Message"]) for p in json.loads(e.get("Errors") or "[]"))
    except (ValueError, KeyError, TypeError):
        errors = (Problem("errors", "the stored errors could not be read"),)
    return Job(
        job_id=e["PartitionKey"],
        tenant=e["Tenant"],
        document_type=e["DocumentType"],
        invoice_date=date.fromisoformat(e["InvoiceDate"]),
        group_lines=bool(e.get("GroupLines")),
        layout=e.get("Layout"),
        omit=tuple(json.loads(e.get("Omit") or "[]")),
        admin_mode=bool(e.get("AdminMode")),
        requested_by=e.get("RequestedBy", ""),
        notify=tuple(json.loads(e.get("Notify") or "[]")),
        created_at=e["CreatedAt"],
        updated_at=e["UpdatedAt"],
        state=e["State"],
        attempts=int(e.get("Attempts") or 0),
        drafts=tuple(int(n) for n in drafts.split(",") if n) if drafts is not None else None,
        total=int(e.get("Total") or 0),
        documents=_parse_documents(e.get("Documents") or ""),
        errors=errors,
        leftovers=_parse_documents(e.get("Leftovers") or ""),
        poisoned=bool(e.get("Poisoned")),
        notified_at=e.get("NotifiedAt"),
        version=e.metadata["etag"],
    )
