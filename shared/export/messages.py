"""A message on the `economic-export` queue: decoded (plain or base64-encoded JSON), validated, and
turned into the job it names (`{"jobId": ...}`: an export started over HTTP) or describes (a whole
request put on the queue directly). A message that can never run is recorded as a failed job."""

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
from shared.export.jobs import Job, Problem
from shared.export.ports import InvalidMessage, JobRepository
from shared.export.schemas import QueuedExport, valid_job_id


class QueuedJobs:
    def __init__(self, *, jobs: JobRepository, clock: Callable[[], datetime], timezone: ZoneInfo) -> None:
        self._jobs = jobs
        self._clock = clock
        self._tz = timezone

    def job_for(self, text: str, message_id: str, final: bool) -> Job:
        try:
            message = QueuedExport.model_validate(decode_message(text))
        except (ValueError, ValidationError) as error:
            problem = Problem("message", _message_problem(error))
            self._record_invalid(message_id, problem, final)
            raise InvalidMessage(f"queue message {message_id} cannot run: {problem.message}") from None
        if message.jobId is not None:
            if not valid_job_id(message.jobId):
                raise InvalidMessage(f"queue message {message_id} names an invalid job id")
            found = self._jobs.get(message.jobId)
            if found is None:
                raise InvalidMessage(f"queue message {message_id} names job {message.jobId}, which does not exist")
            return found
        if message.reseller is None:
            self._record_invalid(message_id, Problem("reseller", "is required in a queue message"), final)
            raise InvalidMessage(f"queue message {message_id} has no reseller")
        existing = self._jobs.get(message_id)
        if existing is not None:
            return existing
        now = self._clock()
        job = Job(
            job_id=message_id,
            tenant=message.reseller,
            document_type=message.documentType,  # type: ignore[arg-type]
            invoice_date=message.invoiceDate or default_invoice_date(now.astimezone(self._tz).date()),
            group_lines=message.groupInvoiceLines,
            layout=message.layout,
            omit=tuple(sorted(set(message.invoicesToOmit))),
            admin_mode=message.adminMode,
            requested_by="queue",
            notify=(message.requestedBy,) if message.requestedBy else (),
            created_at=now,
            updated_at=now,
        )
        return self._jobs.create(job) or self._jobs.get(message_id) or job

    def _record_invalid(self, message_id: str, problem: Problem, final: bool) -> Job | None:
        if not valid_job_id(message_id):
            return None
        now = self._clock()
        job = Job(
            job_id=message_id,
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
            poisoned=final,
        )
        stored = self._jobs.create(job)
        if stored is None:
            existing = self._jobs.get(message_id)
            if existing is not None and final and not existing.poisoned:
                self._jobs.replace(replace(existing, poisoned=True, attempts=existing.attempts + 1, updated_at=now))
        return stored


def decode_message(text: str) -> Any:
    """A queue message's JSON: plain, or base64-encoded (what many queue tools and the Functions
    default encoding put on a queue)."""
    stripped = text.strip().lstrip("\ufeff")
    if stripped.startswith("{"):
        return json.loads(stripped)
    try:
        decoded = base64.b64decode("".join(stripped.split()), validate=True).decode("utf-8-sig")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("the message is neither JSON nor base64-encoded JSON") from None
    return json.loads(decoded)


def _message_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors(include_url=False)
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in first[:10])
    if isinstance(error, json.JSONDecodeError):
        return f"the message is not valid JSON ({error.msg})"
    return str(error)
