"""The e-conomic export's queue side: run a job, all or nothing and exactly once.

Progress lives on the draft headers (`Accounting` of each header in the `Work` table), so it sits
next to the status it ends in and every write to it is conditional:

0. Select: a job that names its drafts (`draftIds`, fixed when the job was created) keeps them; else
   the first attempt fixes the open drafts whose period has ended by the invoice date on the job
   record, so every later attempt exports exactly the same drafts.
1. Claim: `{"exportJob": J}` on every selected open draft, in transactions of up to 100 headers
   (ETag-conditional; a few at once). A claimed draft cannot be merged or deleted, and no other job
   can take it: of two jobs naming the same draft, the one whose claim lands second finds it held (or
   no longer open) and fails naming it before creating anything.
2. Look up, while the drafts are checked (`preflight.py`): one paged look-up of the documents whose
   `references.other` starts with `IB-<tenant>-` (`progress.leftovers`), kept for a draft only when
   that reference is exactly the draft's, `IB-<tenant>-<draft>`: a previous attempt may have created
   them and died before recording them. Drafts whose number is recorded are not looked up. The pages can
   miss a document while others are deleted, so on a redelivery, or for a draft with an orphan, a draft
   not found is asked for by its exact reference just before step 3 creates it (`progress.unsure`).
3. Create, up to `concurrency` drafts at once: adopt a found document, or POST one with the
   Idempotency-Key `J-<draft>` (a zombie earlier attempt posting the same draft gets the same
   document back); hand `documentNumber` and `reference` to the recorder (`progress.Recorder`), which
   writes them on the headers in conditional transactions of up to 100, each a moment after its
   documents were created, while the others are still being created.
4. Finish: every header becomes `exported` with its number, in transactions of 100 (a few at once);
   then the job.

A redelivered message (the worker died, the host retried) resumes: drafts with a recorded number are
skipped and the others are looked up (step 2) before anything is created again. If any document is
refused, every document of the job is deleted again (each one fetched first and deleted only if its
`references.other` is still ours, because e-conomic reuses numbers), the claims are released and the
job fails with the reasons (`rollback.py`). Only a transient failure (e-conomic or storage unavailable)
is raised so the queue retries; on the last attempt the job is rolled back and marked failed and poisoned
first. Anything else (a message that can never run, an unexpected error) ends the job failed at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.errors import AccountingAuthFailed, AccountingRefused, Unavailable
from shared.export.documents import (
    claimed_accounting,
    document_body,
    exported_header,
    number_in,
    reference_of,
    select_drafts,
)
from shared.export.jobs import FINISHED, FUNCTION_TIMEOUT, ExportedDocument, Job, JobActivity, Problem
from shared.export.messages import QueuedJobs
from shared.export.ports import (
    EconomicApi,
    ExportFailed,
    InvalidMessage,
    JobBusy,
    JobRepository,
    Transient,
    short,
)
from shared.export.preflight import DraftCheck, Planned
from shared.export.progress import Leftovers, Recorder, exact, leftovers, post_document, unsure
from shared.export.report import Reporter
from shared.export.rollback import Rollback
from shared.invoicing.ledger import BOOKED, EXPORTED, OPEN, DraftHeader, export_job_of
from shared.invoicing.ports import Ledger
from shared.invoicing.service import InvoicingService
from shared.platform.secrets import SecretError, SecretInvalid, SecretMissing

log = logging.getLogger("invoice_bridge.export")


class ExportWorker:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        ledger: Ledger,
        invoicing: InvoicingService,
        check: DraftCheck,
        rollback: Rollback,
        activity: JobActivity,
        economic: Callable[[str], EconomicApi],
        messages: QueuedJobs,
        report: Reporter,
        clock: Callable[[], datetime],
        timezone: ZoneInfo,
        before_run: Callable[[str], None],
        concurrency: int = 8,
    ) -> None:
        self._jobs = jobs
        self._ledger = ledger
        self._invoicing = invoicing
        self._preflight = check
        self._rollback = rollback
        self._activity = activity
        self._economic = economic
        self._messages = messages
        self._report = report
        self._clock = clock
        self._tz = timezone
        self._concurrency = max(1, concurrency)
        self.max_attempts = activity.max_attempts
        self.before_run = before_run
        """Called with the tenant before a job claims anything (the accounting sync starts watching the
        tenant, so its booked invoice numbers come back)."""

    def process(self, text: str, *, message_id: str, dequeue_count: int) -> Job:
        """Runs the job a queue message names (or describes). Raises to have the queue retry, which only
        a transient failure (Unavailable, Transient, JobBusy) does: anything else ends the job failed
        with the reason, and a message that can never run is recorded failed on its first delivery."""
        final = dequeue_count >= self.max_attempts
        try:
            job = self._job_for(text, message_id)
        except InvalidMessage as invalid:
            log.warning("%s; the message is dropped, not retried", invalid)
            return invalid.job
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
        except AccountingAuthFailed as error:
            return self._fail(
                job, [Problem("economic", f"the e-conomic integration is not valid: {error}")], poisoned=False
            )
        except (Unavailable, Transient) as error:  # e-conomic or storage unavailable: the queue tries again
            reason = Problem("attempt", f"attempt {job.attempts} of {self.max_attempts} failed: {short(error)}")
            if final:
                self._fail(self._current(job), [reason], poisoned=True)
            else:
                self._save(replace(self._current(job), state="queued", errors=(reason,)))
            raise
        except Exception as error:  # a defect or an answer no retry changes: rolled back, failed, not retried
            log.exception("Export job %s: attempt %d failed unexpectedly", job.job_id, job.attempts)
            return self._fail(job, [Problem("attempt", f"the export failed: {short(error)}")], poisoned=False)

    def _job_for(self, text: str, message_id: str) -> Job:
        return self._messages.job_for(text, message_id)

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
        unrecorded = [h for n in numbers if _unrecorded(h := headers[n])]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="leftovers") as pool:
            found = pool.submit(leftovers, economic, job, unrecorded)  # while the drafts are checked
            planned, problems = self._check(tenant, economic, [headers[n] for n in numbers], headers, job.layout)
            if problems:
                found.cancel()
                raise ExportFailed(problems)
            left = found.result()
        documents = self._create_all(job, economic, planned, left)
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

    def _connect_for_job(self, tenant: str) -> EconomicApi:
        try:
            return self._economic(tenant)
        except (SecretMissing, SecretInvalid) as error:
            raise ExportFailed(
                [Problem("economic", f"the e-conomic integration is not valid: {error.message}")]
            ) from None
        except SecretError as error:  # the vault is unavailable: retry later
            raise Transient(error.message) from None

    def _check(
        self,
        tenant: str,
        economic: EconomicApi,
        drafts: Sequence[DraftHeader],
        headers: dict[int, DraftHeader],
        layout: int | None,
    ) -> tuple[list[Planned[Any]], list[Problem]]:
        return self._preflight(tenant, economic, drafts, headers, layout)

    def _claim(self, job: Job, numbers: Sequence[int], headers: dict[int, DraftHeader]) -> dict[int, DraftHeader]:
        """Every selected draft held by this job (or already exported by it); fails naming the others."""
        for _ in range(5):
            problems: list[Problem] = []
            to_claim: list[DraftHeader] = []
            held = (export_job_of(h) for n in numbers if (h := headers.get(n)) is not None)
            others = self._activity.active(held) - {job.job_id}
            for number in numbers:
                header = headers.get(number)
                if header is None:
                    problems.append(Problem("draft", f"draft {number} does not exist"))
                elif header.status in (EXPORTED, BOOKED) and header.accounting.export_job == job.job_id:
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
            claimed = [replace(h, accounting=claimed_accounting(h, job.job_id), updated_at=now) for h in to_claim]
            conflicted = not self._replace_headers(claimed)
            headers = self._ledger.headers(job.tenant)
            if not conflicted:
                return headers
        raise Transient("the drafts kept changing while the export claimed them")

    def _create_all(
        self, job: Job, economic: EconomicApi, planned: Sequence[Planned[Any]], found: Leftovers
    ) -> dict[int, int]:
        """Creates (or adopts) each draft's document; raises ExportFailed after rolling back on refusal.
        `found`: what step 2's look-up found, by draft number."""
        documents: dict[int, int] = {}
        lock = threading.Lock()
        stop = threading.Event()
        refused: list[Problem] = []
        pending = []
        for plan in planned:
            number = plan.header.accounting.document_number
            if not _unrecorded(plan.header):
                documents[plan.header.number] = int(number) if isinstance(number, int) else 0
            else:
                pending.append(plan)
        recorder = Recorder(self._ledger, job, self._clock)

        def create(plan: Planned[Any]) -> None:
            if stop.is_set() or recorder.failure is not None:
                return
            try:
                header, number = self._create_one(job, economic, plan, found.get(plan.header.number, []))
            except AccountingRefused as error:
                with lock:
                    refused.append(Problem("economic.document", f"draft {plan.header.number}: {error}"))
                stop.set()
                return
            recorder.add(header, number)
            with lock:
                documents[plan.header.number] = number

        try:
            with ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="export") as pool:
                futures: list[Future[None]] = [pool.submit(create, plan) for plan in pending]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = next((f.exception() for f in done if f.exception() is not None), None)
                if failed is not None:
                    stop.set()
                    wait(futures)
                    raise failed
        except BaseException:
            with suppress(Exception):  # the attempt ends with its own error, not the recorder's
                recorder.close()
            raise
        recorder.close()  # what was created is recorded before a rollback reads the headers
        if refused:
            raise ExportFailed(refused)
        # Exported drafts recorded 0 above: their numbers are on the headers.
        if 0 in documents.values():
            headers = self._ledger.headers(job.tenant)
            for number, value in list(documents.items()):
                if value == 0:
                    documents[number] = int(headers[number].accounting["documentNumber"])
        return documents

    def _create_one(
        self, job: Job, economic: EconomicApi, plan: Planned[Any], found: list[dict[str, Any]]
    ) -> tuple[DraftHeader, int]:
        """The draft's document: adopted from `found` (step 2), or created. Returns the header as it
        stands now (the recorder's write is conditional on its version) and the document's number."""
        header = plan.header
        kind = job.document_type
        ref = reference_of(header)
        if not found and unsure(job, header):  # step 2's paged look-up may have missed it
            found = exact(economic, job, header)
        # Left by an earlier job whose rollback failed (or whose worker died): deleted, then made anew.
        cleared = self._rollback.clear_orphan(job, economic, header, found)
        fresh = cleared is not None
        if cleared is not None:
            header, found = cleared
        if found:
            number = min(number_in(kind, doc) for doc in found)
            log.info("Export job %s: draft %d already in e-conomic as %d (adopted)", job.job_id, header.number, number)
        else:
            body = document_body(
                header,
                plan.lines,
                customer=plan.customer,
                layout=plan.layout,
                invoice_date=job.invoice_date,
                group=job.group_lines,
                due_days=plan.due_days,
                payment_terms=plan.payment_terms,
            )
            number = post_document(job, economic, kind, ref, body, header.number, fresh=fresh)
        return header, number

    def _finish(self, job: Job, documents: Mapping[int, int]) -> dict[int, DraftHeader]:
        headers = self._ledger.headers(job.tenant)
        now = self._clock()
        todo = [headers[n] for n in documents if headers[n].status == OPEN]
        if not self._replace_headers([exported_header(job, h, documents[h.number], now) for h in todo]):
            raise Transient("a draft changed while the export was finishing")
        return self._ledger.headers(job.tenant)

    def _replace_headers(self, headers: Sequence[DraftHeader]) -> bool:
        """Writes `headers` in conditional transactions of up to `max_transaction`, a few at once (each
        is a round trip); False when any of them found a header changed (the others may be written)."""
        chunks = list(_chunks(headers, self._ledger.max_transaction))
        if len(chunks) <= 1:
            return all(self._ledger.replace_headers(chunk) for chunk in chunks)
        with ThreadPoolExecutor(max_workers=min(4, len(chunks)), thread_name_prefix="headers") as pool:
            return all(list(pool.map(self._ledger.replace_headers, chunks)))

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
        except Unavailable:
            headers = {}
        return self._notify(failed, headers)

    def _notify(self, job: Job, headers: Mapping[int, DraftHeader]) -> Job:
        if job.notified_at is not None:
            return job
        if not self._report.send(job, headers):
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


def _unrecorded(header: DraftHeader) -> bool:
    """Not exported and no document number recorded: its document may still have to be created."""
    return header.status != EXPORTED and not isinstance(header.accounting.document_number, int)


def _chunks(items: Sequence[DraftHeader], size: int) -> Iterator[Sequence[DraftHeader]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
