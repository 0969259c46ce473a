"""A message on the `economic-export` queue: decoded (plain or base64-encoded JSON), validated, and
turned into the job it names (`{"jobId": ...}`: an export started over HTTP) or describes (a whole
request put on the queue directly). A message that can never run is recorded as a failed job on its
first delivery and dropped: no retry can change it. A whole request may name `draftIds`: they are fixed
on the job record it creates, and the worker's claim refuses any that is not an open draft of the tenant
(the job fails naming it); without `documentType` the tenant's default applies, else draftInvoice."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from shared.export.documents import default_invoice_date
from shared.export.jobs import Job, Problem, document_type_for
from shared.export.ports import InvalidMessage, JobRepository
from shared.export.schemas import QueuedExport, valid_job_id
from shared.invoicing.directory import TenantSettings
from shared.json_depth import NESTING_RULE, too_deep
from shared.text import SURROGATE_RULE, first_unencodable


class QueuedJobs:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        clock: Callable[[], datetime],
        timezone: ZoneInfo,
        settings: Callable[[str], TenantSettings] = lambda tenant: TenantSettings(),
    ) -> None:
        self._jobs = jobs
        self._settings = settings
        self._clock = clock
        self._tz = timezone

    def job_for(self, text: str, message_id: str) -> Job:
        """The job the message names or describes. Raises InvalidMessage, holding the failed job record,
        for a message that can never run: recorded under the job id it names (where the job's own
        record is, readable by its tenant), else under the message id."""
        try:
            raw = decode_message(text)
        except ValueError as error:
            raise self._invalid(message_id, message_id, Problem("message", _message_problem(error))) from None
        named = raw.get("jobId") if isinstance(raw, dict) else None
        record_id = named if isinstance(named, str) and valid_job_id(named) else message_id
        try:
            message = QueuedExport.model_validate(raw)
        except ValidationError as error:
            raise self._invalid(record_id, message_id, Problem("message", _message_problem(error))) from None
        if message.jobId is not None:
            if not valid_job_id(message.jobId):
                problem = Problem("message", "jobId: must be a job id as answered by the export request")
                raise self._invalid(message_id, message_id, problem)
            found = self._jobs.get(message.jobId)
            if found is None:
                problem = Problem("message", f"jobId: names job {message.jobId}, which does not exist")
                raise self._invalid(message.jobId, message_id, problem)
            return found
        if message.reseller is None:
            raise self._invalid(message_id, message_id, Problem("reseller", "is required in a queue message"))
        existing = self._jobs.get(message_id)
        if existing is not None:
            return existing
        now = self._clock()
        omit = set(message.invoicesToOmit)
        selected = message.draftIds
        document_type = document_type_for(message.documentType, self._settings(message.reseller))
        job = Job(
            job_id=message_id,
            tenant=message.reseller,
            document_type=document_type,
            invoice_date=message.invoiceDate or default_invoice_date(now.astimezone(self._tz).date()),
            group_lines=message.groupInvoiceLines,
            layout=message.layout,
            omit=tuple(sorted(omit)),
            admin_mode=message.adminMode,
            requested_by="queue",
            notify=(message.requestedBy,) if message.requestedBy else (),
            created_at=now,
            updated_at=now,
            drafts=tuple(n for n in selected if n not in omit) if selected is not None else None,
            total=len(selected) if selected is not None else 0,
        )
        return self._jobs.create(job) or self._jobs.get(message_id) or job

    def _invalid(self, job_id: str, message_id: str, problem: Problem) -> InvalidMessage:
        """The failed record of a message that can never run: a new one, or the waiting job it names
        marked failed (a job already running or finished is left as it is)."""
        now = self._clock()
        record = Job(
            job_id=job_id,
            tenant="",
            document_type="draftInvoice",
            invoice_date=now.date(),
            group_lines=False,
            layout=None,
            omit=(),
            admin_mode=False,
            requested_by="queue",
            notify=(),
            created_at=now,
            updated_at=now,
            state="failed",
            errors=(problem,),
        )
        reason = f"queue message {message_id} cannot run: {problem.field}: {problem.message}"
        if not valid_job_id(job_id):
            return InvalidMessage(f"{reason} (not recorded: the message id is not a usable job id)", record)
        stored = self._jobs.create(record)
        if stored is None and (existing := self._jobs.get(job_id)) is not None:
            stored = existing
            if existing.state == "queued":
                failed = replace(existing, state="failed", errors=(problem,), updated_at=now)
                stored = self._jobs.replace(failed) or self._jobs.get(job_id) or existing
        return InvalidMessage(f"{reason} (job {job_id})", stored or record)


def decode_message(text: str) -> Any:
    """A queue message's JSON: plain, or base64-encoded (what many queue tools and the Functions
    default encoding put on a queue)."""
    stripped = text.strip().lstrip("\ufeff")
    if stripped.startswith("{"):
        return _bounded_json(stripped)
    try:
        decoded = base64.b64decode("".join(stripped.split()), validate=True).decode("utf-8-sig")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("the message is neither JSON nor base64-encoded JSON") from None
    return _bounded_json(decoded)


def _bounded_json(text: str) -> Any:
    """json.loads, after the nesting check its recursion needs; ValueError for what it cannot read
    (invalid JSON, too deep, a number of over 4300 digits)."""
    if too_deep(text):
        raise ValueError(f"the message {NESTING_RULE}")
    document = json.loads(text)
    path = first_unencodable(document)
    if path is not None:
        raise ValueError(f"{path} {SURROGATE_RULE}")
    return document


def _message_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors(include_url=False)
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in first[:10])
    if isinstance(error, json.JSONDecodeError):
        return f"the message is not valid JSON ({error.msg})"
    return str(error)
