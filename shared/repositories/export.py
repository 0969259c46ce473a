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

from shared.adapters.storage import repository
from shared.export.jobs import ExportedDocument, Job, Problem

ROW = "job"
MAX_ERRORS = 200


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


def _to_entity(job: Job) -> dict[str, Any]:
    errors = [p.as_dict() for p in job.errors[:MAX_ERRORS]]
    if len(job.errors) > MAX_ERRORS:
        errors.append({"Field": "errors", "Message": f"and {len(job.errors) - MAX_ERRORS} more"})
    entity: dict[str, Any] = {
        "PartitionKey": job.job_id,
        "RowKey": ROW,
        "Tenant": job.tenant,
        "DocumentType": job.document_type,
        "InvoiceDate": job.invoice_date.isoformat(),
        "GroupLines": job.group_lines,
        "Omit": json.dumps(list(job.omit)),
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
        "Errors": json.dumps(errors, ensure_ascii=False)[:30_000],
        "Poisoned": job.poisoned,
    }
    if job.layout is not None:
        entity["Layout"] = job.layout
    if job.drafts is not None:
        entity["Drafts"] = ",".join(str(n) for n in job.drafts)
    if job.notified_at is not None:
        entity["NotifiedAt"] = job.notified_at
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
