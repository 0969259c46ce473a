"""The HTTP side of the e-conomic export: start a job (preflight, job record, queue message), and
answer its status. The queue side that runs it is `worker.py`.

Which drafts: with `draftIds`, exactly those (each must be an open draft of the tenant not held by
another running export, else 422 naming `draftIds`), fixed on the job record when it is created; else
every open draft whose period has ended by the invoice date, fixed by the job's first attempt
(`worker.py` step 0). `invoicesToOmit` leaves drafts out of either. The start claims nothing: two
exports naming the same draft may both be accepted, and the worker's ETag-conditional claim (step 1)
lets only one of them take it; the other fails naming the draft and creates nothing for it.

The document type is the request's `documentType`, else the tenant's default (`billing/settings`),
else draftInvoice; it is fixed on the job record."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.errors import (
    AccountingAuthFailed,
    AccountingRefused,
    AccountingUnusable,
    Conflict,
    Denied,
    FieldError,
    NotFound,
    Rejected,
    Unavailable,
    integration_refused,
)
from shared.export.documents import default_invoice_date, select_drafts
from shared.export.jobs import Job, JobActivity, Problem, document_type_for
from shared.export.ports import EconomicApi, JobRepository
from shared.export.preflight import DraftCheck, Planned
from shared.export.schemas import STATUS_ROUTE, ExportIn, ExportStarted, JobDocument, JobError, JobOut
from shared.invoicing.directory import TenantSettings
from shared.invoicing.ledger import OPEN, DraftHeader, export_job_of, not_open
from shared.invoicing.service import InvoicingService
from shared.platform.keys import OPERATOR_RIGHT, Principal
from shared.platform.secrets import SecretInvalid, SecretMissing
from shared.web.types import ApiResponse


class ExportStart:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        invoicing: InvoicingService,
        check: DraftCheck,
        activity: JobActivity,
        tenant_exists: Callable[[str], bool],
        economic: Callable[[str], EconomicApi],
        enqueue: Callable[[str], None],
        clock: Callable[[], datetime],
        timezone: ZoneInfo,
        settings: Callable[[str], TenantSettings] = lambda tenant: TenantSettings(),
    ) -> None:
        self._jobs = jobs
        self._settings = settings
        self._invoicing = invoicing
        self._preflight = check
        self._activity = activity
        self._tenant_exists = tenant_exists
        self._economic = economic
        self._enqueue = enqueue
        self._clock = clock
        self._tz = timezone

    def authorize(self, who: Principal, data: ExportIn) -> str:
        """The tenant `who` may export for with `data`: its own, or any existing one with the operator
        right (also for `adminMode`). Run before an Idempotency-Key replay too (`OperationSpec.authorize`)."""
        tenant = data.reseller or who.tenant
        if (tenant != who.tenant or data.adminMode) and OPERATOR_RIGHT not in who.rights:
            field = "adminMode" if data.adminMode else "reseller"
            raise Denied(
                "Insufficient access level: exporting for another tenant or in admin mode needs the operator right.",
                [FieldError(field, "needs an API key with the operator right")],
                code="access_denied",
            )
        if tenant != who.tenant and not self._tenant_exists(tenant):
            raise NotFound(
                f"Reseller {tenant} not found.", [FieldError("reseller", f"no tenant {tenant}")], code="reseller"
            )
        return tenant

    def start(self, who: Principal, data: ExportIn, *, generation: str | None, base_url: str) -> ApiResponse:
        tenant = self.authorize(who, data)
        invoice_date = data.invoiceDate or default_invoice_date(self._clock().astimezone(self._tz).date())
        headers = self._invoicing.repair(tenant)
        if data.draftIds is not None:
            due = self._selected(data.draftIds, headers)
        else:
            due = select_drafts(headers.values(), invoice_date, self._tz)
            active = self._activity.active(map(export_job_of, due))
            busy = [h for h in due if export_job_of(h) in active]
            if busy:
                raise Conflict(
                    "Some of the drafts are being exported by another job; wait for it to end.",
                    [
                        FieldError("invoiceDate", f"draft {h.number} is held by export job {export_job_of(h)}")
                        for h in busy
                    ],
                    code="busy",
                )
        settings = self._settings(tenant)  # read once: the document type here, the defaults in the check
        document_type = document_type_for(data.documentType, settings)
        omit = set(data.invoicesToOmit)
        chosen = [h for h in due if h.number not in omit]
        if chosen:
            economic = self._connect(tenant)
            try:
                _, problems = self._check(tenant, economic, chosen, headers, data.layout, settings)
            except AccountingAuthFailed as error:
                raise integration_refused(tenant, error) from None
            except Unavailable as error:
                raise Unavailable(
                    f"e-conomic cannot be reached right now ({error}); retry shortly.", retry_after=30
                ) from None
            except AccountingRefused as error:
                raise AccountingUnusable(f"e-conomic refused to answer the preflight's questions: {error}") from None
            if problems:
                raise Rejected(
                    f"The export cannot run: {len(problems)} problem(s) found before anything was created.",
                    [FieldError(p.field, p.message) for p in problems],
                    code="multiple",
                )
        now = self._clock()
        job_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"export:{generation}")) if generation else str(uuid.uuid4())
        job = Job(
            job_id=job_id,
            tenant=tenant,
            document_type=document_type,
            invoice_date=invoice_date,
            group_lines=data.groupInvoiceLines,
            layout=data.layout,
            omit=tuple(sorted(omit)),
            admin_mode=data.adminMode,
            requested_by=who.key_id,
            notify=(who.email,) if who.email else (),
            created_at=now,
            updated_at=now,
            # Selected drafts are fixed now; the period rule's are fixed by the first attempt.
            drafts=tuple(h.number for h in chosen) if data.draftIds is not None else None,
            total=len(due) if data.draftIds is not None else 0,
        )
        created = self._jobs.create(job)
        # A retried request (same Idempotency-Key) finds its job: its message went out unless the first
        # try died in between, so only a job that never ran is queued again.
        existing = None if created is not None else self._jobs.get(job_id)
        if created is not None or (existing is not None and existing.state == "queued" and existing.attempts == 0):
            try:
                self._enqueue(json.dumps({"jobId": job_id}))
            except Exception:
                if created is not None:
                    self._jobs.delete(job_id)
                raise
        status_url = f"{base_url.rstrip('/')}/{STATUS_ROUTE.format(jobId=job_id)}"
        body = ExportStarted(
            Message=f"Export of {len(chosen)} draft(s) queued; GET the status URL for the result.",
            Success=True,
            jobId=job_id,
            statusUrl=status_url,
            total=len(due),
            drafts=[h.number for h in chosen],
        )
        # No Location header: Logic Apps' HTTP action would poll it without the apikey query parameter
        # (and fail with 401). The job's outcome reaches people by e-mail; the URL is in the body.
        return ApiResponse(202, body.model_dump(mode="json"))

    def _selected(self, numbers: Sequence[int], headers: dict[int, DraftHeader]) -> list[DraftHeader]:
        """The drafts `draftIds` names, by number; 422 naming `draftIds` for each that is not an open
        draft of the tenant, or is held by an export job that still runs."""
        found = [headers[n] for n in numbers if n in headers]
        active = self._activity.active(map(export_job_of, found))
        held = {h.number: export_job_of(h) for h in found if h.status == OPEN and export_job_of(h) in active}
        errors = []  # in the order the request names them
        for number in numbers:
            errors += not_open([number], headers, "draftIds")
            if number in held:
                errors.append(FieldError("draftIds", f"draft {number} is held by export job {held[number]}"))
        if errors:
            raise Rejected(f"{len(errors)} of the selected drafts cannot be exported.", errors)
        return sorted(found, key=lambda h: h.number)

    def status(self, who: Principal, job_id: str) -> JobOut:
        job = self._jobs.get(job_id)
        if job is None or (job.tenant != who.tenant and OPERATOR_RIGHT not in who.rights):
            raise NotFound(f"No export job {job_id}.", [FieldError("jobId", f"no job {job_id}")])
        return self.describe(job)

    def describe(self, job: Job) -> JobOut:
        state, poisoned, errors = job.state, job.poisoned, list(job.errors)
        if self._activity.given_up(job):
            # The worker died during the last attempt: the host has moved the message to the poison queue.
            state, poisoned = "failed", True
            errors.append(
                Problem("queue", "the worker stopped during its last attempt; the message is in the poison queue")
            )
        return JobOut(
            success=state == "succeeded",
            total=job.total,
            exported=job.exported,
            jobId=job.job_id,
            state=state,
            tenant=job.tenant,
            documentType=job.document_type,
            invoiceDate=job.invoice_date.isoformat(),
            attempts=job.attempts,
            poisoned=poisoned,
            documents=[JobDocument(draftId=d.draft, number=d.number) for d in job.documents],
            leftovers=[JobDocument(draftId=d.draft, number=d.number) for d in job.leftovers],
            errors=[JobError(Field=p.field, Message=p.message) for p in errors],
            createdAt=job.created_at,
            updatedAt=job.updated_at,
        )

    def _check(
        self,
        tenant: str,
        economic: EconomicApi,
        drafts: Sequence[DraftHeader],
        headers: dict[int, DraftHeader],
        layout: int | None,
        settings: TenantSettings,
    ) -> tuple[list[Planned[Any]], list[Problem]]:
        return self._preflight(tenant, economic, drafts, headers, layout, products_only=True, defaults=settings)

    def _connect(self, tenant: str) -> EconomicApi:
        """The tenant's e-conomic connection; reads both tokens first, so a missing one is a 403."""
        try:
            return self._economic(tenant)
        except (SecretMissing, SecretInvalid) as error:
            raise integration_refused(tenant, error) from None
