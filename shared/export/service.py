"""The e-conomic export as its callers see it: one object with the HTTP side (`start.py`: start,
status) and the queue side (`worker.py`: process, all or nothing and exactly once), composed from
their parts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.export.jobs import Job, JobActivity
from shared.export.messages import QueuedJobs
from shared.export.ports import EconomicApi, JobRepository, Mailer
from shared.export.preflight import DraftCheck
from shared.export.report import Reporter
from shared.export.rollback import Rollback
from shared.export.schemas import ExportIn, JobOut
from shared.export.start import ExportStart
from shared.export.worker import ExportWorker
from shared.invoicing.directory import TenantSettings
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.ports import Ledger
from shared.invoicing.service import InvoicingService
from shared.platform.keys import Principal
from shared.web.types import ApiResponse


class ExportService(ExportWorker):
    """The worker, plus the HTTP side handed to an `ExportStart` sharing its parts."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        ledger: Ledger,
        invoicing: InvoicingService,
        directory: DirectoryService,
        activity: JobActivity,
        tenant_exists: Callable[[str], bool],
        economic: Callable[[str], EconomicApi],
        enqueue: Callable[[str], None],
        mailer: Callable[[], Mailer | None],
        accounting_email: Callable[[str], str | None],
        clock: Callable[[], datetime],
        timezone: ZoneInfo,
        before_run: Callable[[str], None],
        concurrency: int = 8,
        settings: Callable[[str], TenantSettings] = lambda tenant: TenantSettings(),
    ) -> None:
        """`settings`: the tenant's settings (its accounting defaults: `shared.export.preflight`)."""
        check = DraftCheck(invoicing, directory, settings)
        super().__init__(
            jobs=jobs,
            ledger=ledger,
            invoicing=invoicing,
            check=check,
            rollback=Rollback(ledger=ledger, economic=economic, clock=clock),
            activity=activity,
            economic=economic,
            messages=QueuedJobs(jobs=jobs, clock=clock, timezone=timezone, settings=settings),
            report=Reporter(mailer=mailer, accounting_email=accounting_email),
            clock=clock,
            timezone=timezone,
            before_run=before_run,
            concurrency=concurrency,
        )
        self._start = ExportStart(
            jobs=jobs,
            invoicing=invoicing,
            check=check,
            activity=activity,
            tenant_exists=tenant_exists,
            economic=economic,
            enqueue=enqueue,
            clock=clock,
            timezone=timezone,
            settings=settings,
        )

    def authorize(self, who: Principal, data: ExportIn) -> None:
        """Raises `Denied`/`NotFound` unless `who` may export for the tenant `data` names."""
        self._start.authorize(who, data)

    def start(self, who: Principal, data: ExportIn, *, generation: str | None, base_url: str) -> ApiResponse:
        return self._start.start(who, data, generation=generation, base_url=base_url)

    def status(self, who: Principal, job_id: str) -> JobOut:
        return self._start.status(who, job_id)

    def describe(self, job: Job) -> JobOut:
        return self._start.describe(job)

    def is_active(self, job_id: str) -> bool:
        """Whether the job may still work on its drafts: not ended, and not given up by the queue."""
        return self._activity.is_active(job_id)
