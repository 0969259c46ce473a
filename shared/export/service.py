"""The e-conomic export: start (HTTP), run (queue), status, all or nothing and exactly once.

Progress lives on the draft headers (`Accounting` of each header in the `Work` table), so it sits
next to the status it ends in and every step is one conditional write:

1. Claim: `{"exportJob": J}` on every selected open draft, in transactions of up to 100 headers
   (ETag-conditional). A claimed draft cannot be merged or deleted, and no other job can take it.
2. Create, up to `concurrency` drafts at once: look for a document whose `references.other` is the
   draft's reference, `IB-<tenant>-<draft>` (a previous attempt may have created it and died before
   recording it); adopt it, or POST one with the Idempotency-Key `J-<draft>`; record `documentNumber`
   and `reference` on the header.
3. Finish: every header becomes `exported` with its number, in transactions of 100; then the job.

A redelivered message (the worker died, the host retried) resumes: drafts with a recorded number are
skipped and the others are looked up before anything is created again. If any document is refused,
every document of the job is deleted again (each one fetched first and deleted only if its
`references.other` is still ours, because e-conomic reuses numbers), the claims are released and the
job fails with the reasons. A transient failure (e-conomic or storage unavailable) is raised so the
queue retries; on the last attempt the job is rolled back and marked failed and poisoned first.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from shared.api_types import ApiResponse
from shared.errors import (
    ApiError,
    BadGateway,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)
from shared.export import report
from shared.export.documents import (
    default_invoice_date,
    document_body,
    legacy_reference,
    reference_of,
    select_drafts,
)
from shared.export.jobs import FINISHED, KEPT, MOVED, DocumentType, ExportedDocument, Job, Problem
from shared.export.preflight import Catalog, Planned, ProductOnly, preflight
from shared.export.schemas import (
    STATUS_ROUTE,
    ExportIn,
    ExportStarted,
    JobDocument,
    JobError,
    JobOut,
    QueuedExport,
    valid_job_id,
)
from shared.invoicing.directory import DirectoryService
from shared.invoicing.ledger import BOOKED, EXPORTED, OPEN, DraftHeader, Ledger, invoice_number
from shared.invoicing.service import InvoicingService, export_job_of
from shared.keys import OPERATOR_RIGHT, Principal
from shared.secrets import SecretInvalid, SecretMissing

log = logging.getLogger("invoice_bridge.export")

FUNCTION_TIMEOUT = timedelta(minutes=10)
AMBIGUOUS = (None, 500, 502, 504)
"""A create that failed so (no answer, or these statuses) may have stored the document: look it up
before posting again."""
"""host.json functionTimeout: a job still `running` on its last attempt after this has been given up."""


# -- what the service needs from the outside -------------------------------------------------------


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


def _economic_refused(tenant: str, error: Exception) -> Forbidden:
    return Forbidden(
        f"The e-conomic integration of {tenant} is not valid: {error}",
        [FieldError("economic", "the e-conomic tokens are missing or were refused")],
        code="economic",
    )


# -- the service -----------------------------------------------------------------------------------


class ExportService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        ledger: Ledger,
        invoicing: InvoicingService,
        directory: DirectoryService,
        tenant_exists: Callable[[str], bool],
        economic: Callable[[str], EconomicApi],
        enqueue: Callable[[str], None],
        mailer: Callable[[], Mailer | None],
        accounting_email: Callable[[str], str | None],
        failures: Failures,
        clock: Callable[[], datetime],
        timezone: ZoneInfo,
        concurrency: int = 8,
        max_attempts: int = 5,
    ) -> None:
        self._jobs = jobs
        self._ledger = ledger
        self._invoicing = invoicing
        self._directory = directory
        self._tenant_exists = tenant_exists
        self._economic = economic
        self._enqueue = enqueue
        self._mailer = mailer
        self._accounting_email = accounting_email
        self._failures = failures
        self._retry_later: tuple[type[Exception], ...] = (*failures.transient, Transient)
        self._undeletable: tuple[type[Exception], ...] = (
            *failures.transient,
            *failures.rejected,
            *failures.auth,
            *failures.unusable,
            Transient,
        )
        """Whatever e-conomic does during a rollback, the rollback ends and the job is recorded failed."""
        self._clock = clock
        self._tz = timezone
        self._concurrency = max(1, concurrency)
        self.max_attempts = max_attempts
        self.before_run: Callable[[str], None] = lambda tenant: None
        """Called with the tenant before a job claims anything (set by the composition root: the
        accounting sync starts watching the tenant, so its booked invoice numbers come back)."""

    # -- HTTP: start and status ---------------------------------------------------------------

    def start(self, who: Principal, data: ExportIn, *, generation: str | None, base_url: str) -> ApiResponse:
        tenant = data.reseller or who.tenant
        if (tenant != who.tenant or data.adminMode) and OPERATOR_RIGHT not in who.rights:
            field = "adminMode" if data.adminMode else "reseller"
            raise Forbidden(
                "Insufficient access level: exporting for another tenant or in admin mode needs the operator right.",
                [FieldError(field, "needs an API key with the operator right")],
                code="access_denied",
            )
        if tenant != who.tenant and not self._tenant_exists(tenant):
            raise NotFound(
                f"Reseller {tenant} not found.", [FieldError("reseller", f"no tenant {tenant}")], code="reseller"
            )
        invoice_date = data.invoiceDate or default_invoice_date(self._clock().astimezone(self._tz).date())
        headers = self._invoicing.repair(tenant)
        due = select_drafts(headers.values(), invoice_date, self._tz)
        active = self._active_jobs(due)
        busy = [h for h in due if export_job_of(h) in active]
        if busy:
            raise Conflict(
                "Some of the drafts are being exported by another job; wait for it to end.",
                [FieldError("invoiceDate", f"draft {h.number} is held by export job {export_job_of(h)}") for h in busy],
                code="busy",
            )
        omit = set(data.invoicesToOmit)
        chosen = [h for h in due if h.number not in omit]
        if chosen:
            economic = self._connect(tenant)
            try:
                _, problems = self._check(tenant, economic, chosen, headers, data.layout, products_only=True)
            except self._failures.auth as error:
                raise _economic_refused(tenant, error) from None
            except self._failures.transient as error:
                raise ServiceUnavailable(
                    f"e-conomic cannot be reached right now ({error}); retry shortly.", headers={"Retry-After": "30"}
                ) from None
            except self._failures.rejected as error:
                raise BadGateway(f"e-conomic refused to answer the preflight's questions: {error}") from None
            if problems:
                raise Unprocessable(
                    f"The export cannot run: {len(problems)} problem(s) found before anything was created.",
                    [FieldError(p.field, p.message) for p in problems],
                    code="multiple",
                )
        now = self._clock()
        job_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"export:{generation}")) if generation else str(uuid.uuid4())
        job = Job(
            job_id=job_id,
            tenant=tenant,
            document_type=data.documentType,  # type: ignore[arg-type]
            invoice_date=invoice_date,
            group_lines=data.groupInvoiceLines,
            layout=data.layout,
            omit=tuple(sorted(omit)),
            admin_mode=data.adminMode,
            requested_by=who.key_id,
            notify=(who.email,) if who.email else (),
            created_at=now,
            updated_at=now,
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

    def is_active(self, job_id: str) -> bool:
        """Whether the job may still work on its drafts: not ended, and not given up by the queue."""
        job = self._jobs.get(job_id)
        if job is None or job.state in FINISHED:
            return False
        return self.describe(job).state != "failed"

    def _active_jobs(self, headers: Iterable[DraftHeader]) -> set[str]:
        """The export jobs that hold some of these drafts and still run (one read per job, not per draft)."""
        jobs = {job for job in map(export_job_of, headers) if job is not None}
        return {job for job in jobs if self.is_active(job)}

    def status(self, who: Principal, job_id: str) -> JobOut:
        job = self._jobs.get(job_id)
        if job is None or (job.tenant != who.tenant and OPERATOR_RIGHT not in who.rights):
            raise NotFound(f"No export job {job_id}.", [FieldError("jobId", f"no job {job_id}")])
        return self.describe(job)

    def describe(self, job: Job) -> JobOut:
        state, poisoned, errors = job.state, job.poisoned, list(job.errors)
        abandoned = job.updated_at + FUNCTION_TIMEOUT * 2 < self._clock()
        if state == "running" and job.attempts >= self.max_attempts and abandoned:
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

    # -- queue: run a job ---------------------------------------------------------------------

    def process(self, text: str, *, message_id: str, dequeue_count: int) -> Job:
        """Runs the job a queue message names (or describes). Raises to have the queue retry."""
        final = dequeue_count >= self.max_attempts
        job = self._job_for(text, message_id, final)
        if job.state in FINISHED:
            log.info("Export job %s already %s; message %s dropped", job.job_id, job.state, message_id)
            return job
        if job.state == "running" and job.updated_at > self._clock() - FUNCTION_TIMEOUT:
            # Another message for the same job is being worked on (a worker that died stops renewing its
            # message, which only comes back after the platform's timeout). Try again later.
            raise JobBusy(f"export job {job.job_id} is being run by another worker")
        # Conditional on the version read: of two deliveries that both saw the job waiting, one runs it.
        started = self._jobs.replace(replace(job, state="running", attempts=job.attempts + 1, updated_at=self._clock()))
        if started is None:
            raise JobBusy(f"export job {job.job_id} was just taken by another worker")
        job = started
        try:
            return self._run(job)
        except ExportFailed as failed:
            return self._fail(job, failed.problems, poisoned=False)
        except self._failures.auth as error:
            return self._fail(
                job, [Problem("economic", f"the e-conomic integration is not valid: {error}")], poisoned=False
            )
        except Exception as error:  # transient (e-conomic, storage) or unexpected: the queue tries again
            if not isinstance(error, self._retry_later):
                log.exception("Export job %s: attempt %d failed unexpectedly", job.job_id, job.attempts)
            reason = Problem("attempt", f"attempt {job.attempts} of {self.max_attempts} failed: {_short(error)}")
            if final:
                self._fail(self._current(job), [reason], poisoned=True)
            else:
                self._save(replace(self._current(job), state="queued", errors=(reason,)))
            raise

    def _job_for(self, text: str, message_id: str, final: bool) -> Job:
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

    def _run(self, job: Job) -> Job:
        tenant = job.tenant
        economic = self._connect_for_job(tenant)
        self.before_run(tenant)
        headers = self._invoicing.repair(tenant)
        if job.drafts is None:
            due = select_drafts(headers.values(), job.invoice_date, self._tz)
            chosen = tuple(h.number for h in due if h.number not in set(job.omit))
            job = self._save(replace(job, drafts=chosen, total=len(due)))
        numbers = job.drafts or ()
        headers = self._claim(job, numbers, headers)
        planned, problems = self._check(tenant, economic, [headers[n] for n in numbers], headers, job.layout)
        if problems:
            raise ExportFailed(problems)
        documents = self._create_all(job, economic, planned)
        headers = self._finish(job, documents)
        done = replace(
            self._current(job),
            state="succeeded",
            documents=tuple(ExportedDocument(n, documents[n]) for n in numbers),
            errors=(),
        )
        done = self._save(done)
        log.info("Export job %s: %d documents created for %s", job.job_id, len(documents), tenant)
        return self._notify(done, headers)

    # -- steps --------------------------------------------------------------------------------

    def _connect(self, tenant: str) -> EconomicApi:
        """The tenant's e-conomic connection; reads both tokens first, so a missing one is a 403."""
        try:
            return self._economic(tenant)
        except (SecretMissing, SecretInvalid) as error:
            raise _economic_refused(tenant, error) from None

    def _connect_for_job(self, tenant: str) -> EconomicApi:
        try:
            return self._economic(tenant)
        except (SecretMissing, SecretInvalid) as error:
            raise ExportFailed(
                [Problem("economic", f"the e-conomic integration is not valid: {error.message}")]
            ) from None
        except ApiError as error:  # the vault is unavailable: retry later
            raise Transient(error.message) from None

    def _check(
        self,
        tenant: str,
        economic: EconomicApi,
        drafts: Sequence[DraftHeader],
        headers: dict[int, DraftHeader],
        layout: int | None,
        *,
        products_only: bool = False,
    ) -> tuple[list[Planned[Any]], list[Problem]]:
        """Preflight. The worker reads the whole lines (it builds the documents from them); the HTTP start
        only their product numbers, a tenth of the data to read."""
        if not drafts:
            return [], []
        numbers = [h.number for h in drafts]
        lines: Mapping[int, Sequence[Any]]
        # The four catalog reads run at once, and while our own lines are read (each is a round trip
        # to e-conomic; the lines are a scan of Table storage).
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="catalog") as pool:
            customers = pool.submit(economic.customers)
            groups = pool.submit(economic.customer_groups)
            layouts = pool.submit(economic.layouts)
            products = pool.submit(economic.products)
            if products_only:
                booked = self._invoicing.products_for(tenant, numbers, headers)
                lines = {n: [ProductOnly(p) for p in sorted(booked[n])] for n in numbers}
            else:
                lines = self._invoicing.lines_for(tenant, numbers, headers)
            catalog = Catalog(
                customers=customers.result(),
                customer_groups=groups.result(),
                layouts=frozenset(layouts.result()),
                products=frozenset(products.result()),
            )
        return preflight([(h, lines[h.number]) for h in drafts], self._directory.load(tenant), catalog, layout=layout)

    def _claim(self, job: Job, numbers: Sequence[int], headers: dict[int, DraftHeader]) -> dict[int, DraftHeader]:
        """Every selected draft held by this job (or already exported by it); fails naming the others."""
        for _ in range(5):
            problems: list[Problem] = []
            to_claim: list[DraftHeader] = []
            others = self._active_jobs(h for n in numbers if (h := headers.get(n)) is not None) - {job.job_id}
            for number in numbers:
                header = headers.get(number)
                if header is None:
                    problems.append(Problem("draft", f"draft {number} does not exist"))
                elif header.status in (EXPORTED, BOOKED) and header.accounting.get("exportJob") == job.job_id:
                    continue  # done by an earlier attempt (and booked since, perhaps)
                elif header.status != OPEN:
                    problems.append(Problem("draft", f"draft {number} is {header.status}, no longer open"))
                elif export_job_of(header) in others:
                    problems.append(Problem("draft", f"draft {number} is held by export job {export_job_of(header)}"))
                elif export_job_of(header) != job.job_id:
                    to_claim.append(header)
            if problems:
                raise ExportFailed(problems)
            now = self._clock()
            conflicted = False
            for chunk in _chunks(to_claim, self._ledger.max_transaction):
                claimed = [replace(h, accounting=_claimed(h, job.job_id), updated_at=now) for h in chunk]
                if not self._ledger.replace_headers(claimed):
                    conflicted = True
                    break
            headers = self._ledger.headers(job.tenant)
            if not conflicted:
                return headers
        raise Transient("the drafts kept changing while the export claimed them")

    def _create_all(self, job: Job, economic: EconomicApi, planned: Sequence[Planned[Any]]) -> dict[int, int]:
        """Creates (or finds) each draft's document; raises ExportFailed after rolling back on refusal."""
        documents: dict[int, int] = {}
        lock = threading.Lock()
        stop = threading.Event()
        refused: list[Problem] = []
        pending = []
        for plan in planned:
            number = plan.header.accounting.get("documentNumber")
            if plan.header.status == EXPORTED or isinstance(number, int):
                documents[plan.header.number] = int(number) if isinstance(number, int) else 0
            else:
                pending.append(plan)

        def create(plan: Planned[Any]) -> None:
            if stop.is_set():
                return
            try:
                number = self._create_one(job, economic, plan)
            except self._failures.rejected as error:
                with lock:
                    refused.append(Problem("economic.document", f"draft {plan.header.number}: {error}"))
                stop.set()
                return
            with lock:
                documents[plan.header.number] = number

        with ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="export") as pool:
            futures: list[Future[None]] = [pool.submit(create, plan) for plan in pending]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f.exception() for f in done if f.exception() is not None), None)
            if failed is not None:
                stop.set()
                wait(futures)
                raise failed
        if refused:
            raise ExportFailed(refused)
        # Exported drafts recorded 0 above: their numbers are on the headers.
        headers = self._ledger.headers(job.tenant)
        for number, value in list(documents.items()):
            if value == 0:
                documents[number] = int(headers[number].accounting["documentNumber"])
        return documents

    def _create_one(self, job: Job, economic: EconomicApi, plan: Planned[Any]) -> int:
        header = plan.header
        kind = job.document_type
        ref = reference_of(header)
        found = economic.find_drafts(kind, ref)
        orphan = header.accounting.get("orphan")
        if isinstance(orphan, dict):
            # Left by an earlier job whose rollback failed (or whose worker died): its content may be out
            # of date, and that job may have been of the other document type. Deleted, then made anew.
            left_kind = orphan.get("documentType")
            kinds: tuple[DocumentType, ...] = (
                (left_kind,) if left_kind in ("draftInvoice", "order") else ("draftInvoice", "order")
            )
            stale = [(k, doc) for k in kinds for doc in (found if k == kind else economic.find_drafts(k, ref))]
            left = orphan.get("documentNumber")
            left_ref = orphan.get("reference") or legacy_reference(header.number)
            if left_ref != ref and isinstance(left, int) and len(kinds) == 1:
                # Made under another reference (before references named the tenant): found by its
                # number, and only if it still carries that reference (e-conomic reuses numbers).
                doc = economic.get_draft(kinds[0], left)
                if doc is not None and _reference_of(doc) == left_ref:
                    stale.append((kinds[0], doc))
            for stale_kind, doc in stale:
                gone = _number(stale_kind, doc)
                economic.delete_draft(
                    stale_kind, gone, idempotency_key=f"{job.job_id}-{header.number}-orphan-{stale_kind}-{gone}"
                )
            # The orphan is dealt with: recorded before posting, so a later attempt adopts what this one
            # posts instead of deleting it as stale. The POST gets a fresh key: this job's own earlier
            # POST (made before a crash, deleted just now among the stale ones) must not be replayed.
            cleared = {k: v for k, v in header.accounting.items() if k != "orphan"}
            stored = self._ledger.put_header(replace(header, accounting=cleared), header.version)
            if stored is None:
                raise Transient(f"draft {header.number} changed while its leftovers were deleted")
            header = stored
            fresh = True
            if kind in kinds:
                found = []
        else:
            fresh = False
        if found:
            number = min(_number(kind, doc) for doc in found)
            log.info("Export job %s: draft %d already in e-conomic as %d (adopted)", job.job_id, header.number, number)
        else:
            body = document_body(
                header,
                plan.lines,
                customer=plan.customer,
                layout=plan.layout,
                invoice_date=job.invoice_date,
                group=job.group_lines,
            )
            number = self._post(job, economic, kind, ref, body, header.number, fresh=fresh)
        accounting = {
            **_released(header.accounting),
            "exportJob": job.job_id,
            "documentType": kind,
            "documentNumber": number,
            "reference": ref,
        }
        stored = self._ledger.put_header(
            replace(header, accounting=accounting, updated_at=self._clock()), header.version
        )
        if stored is None:
            raise Transient(f"draft {header.number} changed while its document was created")
        return number

    def _post(
        self,
        job: Job,
        economic: EconomicApi,
        kind: DocumentType,
        ref: str,
        body: dict[str, Any],
        draft: int,
        *,
        fresh: bool = False,
    ) -> int:
        """POSTs the document; after an answer that never came, looks it up before posting again.
        `fresh`: documents of the draft were just deleted; a key used before must not replay one."""
        key = f"{job.job_id}-{draft}" + ("-after-orphans" if fresh else "")
        for attempt in range(1, 4):
            try:
                return _number(kind, economic.create_draft(kind, body, idempotency_key=key))
            except self._failures.transient as error:
                if getattr(error, "status", 0) not in AMBIGUOUS or attempt == 3:
                    raise  # e-conomic answered (429/5xx after its retries): the queue retries later
                found = economic.find_drafts(kind, ref)
                if found:
                    return min(_number(kind, doc) for doc in found)
        raise AssertionError("unreachable")  # pragma: no cover

    def _finish(self, job: Job, documents: Mapping[int, int]) -> dict[int, DraftHeader]:
        headers = self._ledger.headers(job.tenant)
        now = self._clock()
        todo = [headers[n] for n in documents if headers[n].status == OPEN]
        for chunk in _chunks(todo, self._ledger.max_transaction):
            exported = [_exported(job, h, documents[h.number], now) for h in chunk]
            if not self._ledger.replace_headers(exported):
                raise Transient("a draft changed while the export was finishing")
        return self._ledger.headers(job.tenant)

    def _fail(self, job: Job, problems: Sequence[Problem], *, poisoned: bool) -> Job:
        job = self._current(job)  # the attempt may have fixed the draft list since `job` was read
        leftovers, moved = self._rollback(job)
        failed = replace(
            self._current(job),
            state="failed",
            errors=(*problems, *(problem for problem, _ in moved)),
            documents=tuple(document for _, document in moved if document is not None),
            leftovers=tuple(leftovers),
            poisoned=poisoned,
        )
        failed = self._save(failed)
        log.warning("Export job %s failed: %s", job.job_id, "; ".join(p.message for p in problems)[:500])
        try:
            headers = self._ledger.headers(job.tenant) if job.tenant else {}
        except self._failures.transient:
            headers = {}
        return self._notify(failed, headers)

    def _rollback(self, job: Job) -> tuple[list[ExportedDocument], list[tuple[Problem, ExportedDocument | None]]]:
        """Deletes what this job created, releases its claims; returns the documents it could not delete,
        and the drafts it kept because their document moved on in e-conomic (sent, upgraded, booked)
        while the job ran: reopening those would bill their notes twice."""
        if not job.tenant or not job.drafts:
            return [], []
        try:
            headers = self._ledger.headers(job.tenant)
            economic: EconomicApi | None = self._economic(job.tenant)
        except ApiError:
            economic = None
        except self._failures.transient:
            return [], []
        leftovers: list[ExportedDocument] = []
        moved: list[tuple[Problem, ExportedDocument | None]] = []
        """Drafts kept: why, and their document (they are the failed job's `documents`)."""
        kind = job.document_type
        for number in job.drafts:
            header = headers.get(number)
            # Open drafts this job holds, and drafts it already marked exported before it failed
            # (a finish interrupted on the last attempt): all or nothing.
            if header is not None and header.status == BOOKED and header.accounting.get("exportJob") == job.job_id:
                problem = Problem(
                    MOVED,
                    f"draft {number} was booked as invoice {invoice_number(header)} in e-conomic while the job "
                    "ran, so it was not rolled back: it stays booked",
                )
                moved.append((problem, _document(number, header.accounting.get("documentNumber"))))
                continue
            if (
                header is None
                or header.accounting.get("exportJob") != job.job_id
                or header.status not in (OPEN, EXPORTED)
            ):
                continue
            ref = reference_of(header)
            left: int | None = None
            recorded = header.accounting.get("documentNumber")
            try:
                if economic is None:
                    raise Transient("no e-conomic connection")
                candidates: list[int]
                if isinstance(recorded, int):
                    doc = economic.get_draft(kind, recorded)
                    candidates = [recorded] if doc is not None and _reference_of(doc) == ref else []
                else:  # a create may have reached e-conomic without us learning its number
                    candidates = [_number(kind, doc) for doc in economic.find_drafts(kind, ref)]
                # A document we know was created and is no longer among the drafts: deleted, or moved on.
                # (Not asked for drafts without a recorded number: mostly never created, and a rollback
                # of a big job would ask e-conomic three more times per draft.)
                where = _moved_on(economic, kind, ref) if not candidates and isinstance(recorded, int) else None
                if where is not None:
                    self._keep(job, header)
                    problem = Problem(
                        MOVED,
                        f"draft {number} was {where} in e-conomic while the job ran, so it was not rolled "
                        "back: it stays exported and the accounting sync records its invoice number",
                    )
                    moved.append((problem, _document(number, recorded)))
                    continue
                for candidate in candidates:
                    left = candidate
                    economic.delete_draft(kind, candidate, idempotency_key=f"{job.job_id}-{number}-delete-{candidate}")
                    left = None
            except self._undeletable as error:
                log.warning("Export job %s: could not delete the document of draft %d: %s", job.job_id, number, error)
                if header.status == EXPORTED:
                    # Its document may still be a draft, or booked by now: opening the draft could bill its
                    # notes twice. It stays exported (a consistent state); the sync follows the document.
                    problem = Problem(
                        KEPT,
                        f"draft {number}: its e-conomic {_DOCUMENT[kind]} {recorded} could not be deleted "
                        f"({_short(error)}), "
                        "so the draft stays exported with it; the accounting sync records its invoice number "
                        "once booked. If it should not be invoiced, delete it in e-conomic: the sync then flags "
                        "the draft, which can then be reopened",
                    )
                    moved.append((problem, _document(number, recorded)))
                    continue
                if left is None and isinstance(recorded, int):
                    left = recorded
            accounting = _released(header.accounting)
            earlier = header.accounting.get("orphan")
            if isinstance(earlier, dict):
                accounting["orphan"] = earlier  # not dealt with by this job: the next export still deletes it
            if left is not None:
                leftovers.append(ExportedDocument(number, left))
                accounting["orphan"] = {
                    "documentType": kind,
                    "documentNumber": left,
                    "exportJob": job.job_id,
                    "reference": ref,
                }
            try:
                self._ledger.put_header(
                    replace(header, status=OPEN, accounting=accounting, updated_at=self._clock()), header.version
                )
            except self._failures.transient:
                log.warning("Export job %s: could not release draft %d", job.job_id, number)
        return leftovers, moved

    def _keep(self, job: Job, header: DraftHeader) -> None:
        """The draft's document moved on in e-conomic during the job: the draft stays (or becomes)
        exported, for the accounting sync to follow."""
        log.warning("Export job %s: draft %d moved on in e-conomic meanwhile; kept exported", job.job_id, header.number)
        if header.status == EXPORTED:
            return
        exported = _exported(job, header, header.accounting.get("documentNumber"), self._clock())
        try:
            self._ledger.put_header(exported, header.version)
        except self._failures.transient:
            log.warning("Export job %s: could not mark draft %d exported", job.job_id, header.number)

    def _notify(self, job: Job, headers: Mapping[int, DraftHeader]) -> Job:
        if job.notified_at is not None:
            return job
        recipients = list(job.notify)
        try:
            accounting = self._accounting_email(job.tenant) if job.tenant else None
        except self._failures.transient:
            accounting = None
        if accounting:
            recipients.append(accounting)
        mailer = self._mailer()
        if not recipients or mailer is None:
            log.info(
                "Export job %s: no report sent (%s)", job.job_id, "no recipients" if mailer else "SMTP not configured"
            )
            return job
        from shared.adapters.smtp import build_message

        names = {n: h.customer.name for n, h in headers.items()}
        try:
            message = build_message(
                sender=None, to=recipients, subject=report.subject(job), text=report.body(job, names)
            )
            mailer.send(message)
        except Exception as error:  # the export itself is done; a lost report must not undo or repeat it
            log.warning("Export job %s: the report could not be sent: %s", job.job_id, error)
            return job
        return self._save(replace(self._current(job), notified_at=self._clock()))

    # -- job record ---------------------------------------------------------------------------

    def _current(self, job: Job) -> Job:
        return self._jobs.get(job.job_id) or job

    def _save(self, job: Job) -> Job:
        for _ in range(5):
            stored = self._jobs.replace(replace(job, updated_at=self._clock()))
            if stored is not None:
                return stored
            latest = self._jobs.get(job.job_id)
            if latest is None:
                break
            job = replace(job, version=latest.version)
        raise Transient(f"the record of job {job.job_id} could not be saved")


# -- helpers ---------------------------------------------------------------------------------------


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


def _short(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."


def _number(kind: str, doc: Mapping[str, Any]) -> int:
    return int(doc["orderNumber"] if kind == "order" else doc["draftInvoiceNumber"])


def _reference_of(doc: Mapping[str, Any]) -> str | None:
    value = (doc.get("references") or {}).get("other")
    return str(value) if value is not None else None


def _claimed(header: DraftHeader, job_id: str) -> dict[str, Any]:
    """The draft's accounting data once `job_id` holds it. A claim left by a job that ended without
    releasing it (its worker died) may have a document in e-conomic with stale lines: marked as an
    orphan, so that document is deleted and a fresh one created instead of adopting it."""
    accounting = {**_kept(header.accounting), "exportJob": job_id}
    previous = export_job_of(header)
    if previous is not None and previous != job_id:
        # What that job recorded of its document goes along: its type, number and reference are how it
        # is found again (by number, if it was made under another reference).
        recorded = {
            k: header.accounting[k] for k in ("documentType", "documentNumber", "reference") if k in header.accounting
        }
        accounting["orphan"] = {"exportJob": previous, **recorded}
    return accounting


def _exported(job: Job, header: DraftHeader, document_number: object, now: datetime) -> DraftHeader:
    """The draft as this job leaves it exported: e-conomic's document and how to find it again."""
    accounting = {
        "system": "e-conomic",
        "exportJob": job.job_id,
        "documentType": job.document_type,
        "documentNumber": document_number,
        "reference": reference_of(header),
        "invoiceDate": job.invoice_date.isoformat(),
        "exportedAt": now.isoformat(),
    }
    return replace(header, status=EXPORTED, accounting=accounting, updated_at=now)


def _document(draft: int, number: object) -> ExportedDocument | None:
    return ExportedDocument(draft, number) if isinstance(number, int) else None


_DOCUMENT: dict[str, str] = {"draftInvoice": "draft invoice", "order": "order"}


def _moved_on(economic: EconomicApi, kind: DocumentType, ref: str) -> str | None:
    """Where a document of ours that is no longer a draft of its kind went, in the direction documents
    move (sent order, invoice draft upgraded from the order, booked invoice); None: nowhere (deleted)."""
    if kind == "order":
        if economic.find_sent_orders(ref):
            return "sent as an order"
        if economic.find_drafts("draftInvoice", ref):
            return "upgraded to an invoice draft"
    booked = economic.find_booked(ref)
    if booked:
        numbers = sorted(str(d.get("bookedInvoiceNumber")) for d in booked)
        return f"booked as invoice {', '.join(numbers)}"
    return None


def _released(accounting: Mapping[str, Any]) -> dict[str, Any]:
    """The header's accounting data with neither this export's marks nor an orphan to clean up."""
    return {k: v for k, v in _kept(accounting).items() if k != "orphan"}


def _kept(accounting: Mapping[str, Any]) -> dict[str, Any]:
    """The header's accounting data without this export's progress marks."""
    marks = ("exportJob", "documentType", "documentNumber", "reference")
    return {k: v for k, v in accounting.items() if k not in marks}


def _chunks(items: Sequence[DraftHeader], size: int) -> Iterator[Sequence[DraftHeader]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
