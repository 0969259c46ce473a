"""A tenant with invoice drafts, an e-conomic agreement in the stand-in and a mailbox: what the export
tests (and the benchmark) start from."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from azure.storage.queue import QueueClient

from devhost.processes import Azurite
from shared.config import EXPORT_QUEUE
from shared.container import TABLES, Container, build
from shared.errors import StorageUnavailable
from shared.export.jobs import Job
from shared.export.schemas import ExportIn
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.directory import Contract, Customer
from shared.invoicing.ledger import EXPORTED, DraftHeader
from shared.invoicing.planning import Period
from shared.platform.keys import Principal
from shared.platform.secrets import economic_grant_token_ref
from shared.repositories.work import TableWorkRepository
from standins.economic import Agreement, EconomicStandin
from tests.support.app import app_env_for
from tests.support.invoicing import BERLIN, note

OCT = Period(2026, 10)
INVOICE_DATE = "2026-11-01"


@contextmanager
def header_writes_fail(world: World, fails: Callable[[Sequence[DraftHeader]], bool]) -> Iterator[None]:
    """The export's `ledger.replace_headers` raises StorageUnavailable (what `@repository` raises) for each
    batch of headers `fails` picks; the others are written."""
    ledger = world.container.export._ledger
    original = ledger.replace_headers

    def write(headers: Sequence[DraftHeader]) -> bool:
        if fails(headers):
            raise StorageUnavailable("storage unavailable")
        return original(headers)

    ledger.replace_headers = write  # type: ignore[method-assign]
    try:
        yield
    finally:
        ledger.replace_headers = original  # type: ignore[method-assign]


def export_env(azurite: Azurite, economic: EconomicStandin, smtp: Any | None, **overrides: str) -> dict[str, str]:
    env = app_env_for(
        azurite,
        ECONOMIC_BASE_URL=economic.base_url,
        ECONOMIC_APP_SECRET_TOKEN=economic.app_secret_token,
        EXPORT_CONCURRENCY="4",
        ECONOMIC_MAX_ATTEMPTS="2",
        ECONOMIC_BACKOFF_MS="10",
    )
    if smtp is not None:
        env.update(SMTP_HOST=smtp.host, SMTP_PORT=str(smtp.port), SMTP_SECURITY="none", SMTP_FROM="bridge@example.com")
    env.update(overrides)
    return env


class World:
    """One tenant: customers 1..n linked to e-conomic customer 1 (Acme A/S, group 1 with layout 19),
    a contract on product "1" at 950.00/h, `notes` October notes per customer, invoiced into one
    open draft per customer."""

    def __init__(
        self,
        env: dict[str, str],
        economic: EconomicStandin,
        *,
        customers: int = 3,
        notes: int = 4,
        tenant: str | None = None,
        grant: bool = True,
        email: str | None = "requester@example.com",
        agreement: Agreement | None = None,
    ) -> None:
        """`agreement`: an e-conomic agreement another world already uses (two tenants, one agreement)."""
        self.tenant = tenant or "ex-" + uuid.uuid4().hex[:10]
        token = agreement.grant_token if agreement is not None else "grant-" + self.tenant
        self.env = dict(env)
        if grant:
            self.env[economic_grant_token_ref(self.tenant).setting_name] = token
        self.agreement: Agreement = agreement or economic.add_agreement(token, tenant=self.tenant).seed_defaults()
        self.economic = economic
        self.container: Container = build(self.env)
        self.container.tenant_settings.put(self.tenant, _settings("accounting@" + self.tenant + ".example"))
        self.container.directory.import_entries(
            self.tenant,
            [("c", Customer(i, f"Customer {i}", 1, f"c{i}@example.com", "DKK")) for i in range(1, customers + 1)]
            + [("k", Contract(100 + i, i, "1", Decimal("950.00"), Decimal(10), 15)) for i in range(1, customers + 1)],
        )
        work = TableWorkRepository(self.container.storage.table_ref(TABLES["work"]))
        start = OCT.start(BERLIN) + timedelta(days=2)
        for i in range(customers * notes):
            work.add(
                note(
                    self.tenant,
                    start + timedelta(hours=3 * i),
                    minutes=45 + 15 * (i % 4),
                    service_contract_id=101 + i % customers,
                    extra_charge=i % 5 == 0,
                    hint=f"Work item {i}",
                )
            )
        self.drafts = [h.number for h in self.container.invoicing.run(self.tenant, OCT).drafts]
        self.email = email

    def principal(self, *rights: str, tenant: str | None = None) -> Principal:
        return Principal(
            "key-" + self.tenant, tenant or self.tenant, "test", frozenset(rights or ("reseller",)), 100, 60, self.email
        )

    def start(self, *rights: str, **fields: Any) -> dict[str, Any]:
        """Starts an export as a reseller key would and returns the 202 body."""
        data = ExportIn.model_validate({"invoiceDate": INVOICE_DATE, **fields})
        response = self.container.export.start(
            self.principal(*rights), data, generation=None, base_url="http://127.0.0.1:7071"
        )
        assert response.status == 202, response.body
        assert isinstance(response.body, dict)
        return response.body

    def queue(self) -> QueueClient:
        return QueueClient.from_connection_string(self.env["AzureWebJobsStorage"], EXPORT_QUEUE)

    def message_for(self, job_id: str) -> str:
        """Takes the job's message off the queue (other messages are left alone)."""
        queue = self.queue()
        for message in queue.receive_messages(messages_per_page=32, visibility_timeout=1):
            if job_id in message.content:
                queue.delete_message(message)
                return str(message.content)
        raise AssertionError(f"no queue message for job {job_id}")

    def run(self, job_id: str, *, dequeue_count: int = 1, text: str | None = None) -> Job:
        return self.container.export.process(
            text or self.message_for(job_id), message_id="m-" + job_id, dequeue_count=dequeue_count
        )

    def job(self, job_id: str) -> Job:
        job = self.container.export._jobs.get(job_id)
        assert job is not None
        return job

    def headers(self) -> dict[int, DraftHeader]:
        return self.container.invoicing.repair(self.tenant)

    def documents(self, kind: str = "draftInvoice") -> dict[int, dict[str, Any]]:
        return dict(self.agreement.drafts(kind))  # type: ignore[arg-type]

    def create_document(
        self, reference: str, *, key: str, description: str = "old", price: Decimal = Decimal("1.00")
    ) -> int:
        """A one-line draft invoice for customer 1 in e-conomic, made through the tenant's own client (as
        an earlier export, or someone else, left it); its number."""
        body = {
            "date": INVOICE_DATE,
            "currency": "DKK",
            "customer": {"customerNumber": 1},
            "recipient": {"name": "Acme A/S", "vatZone": {"vatZoneNumber": 1}},
            "paymentTerms": {"paymentTermsNumber": 1},
            "layout": {"layoutNumber": 19},
            "references": {"other": reference},
            "lines": [
                {
                    "lineNumber": 1,
                    "description": description,
                    "product": {"productNumber": "1"},
                    "quantity": Decimal("1.00"),
                    "unitNetPrice": price,
                }
            ],
        }
        client = self.container.export._economic(self.tenant)
        return int(client.create_draft("draftInvoice", body, idempotency_key=key)["draftInvoiceNumber"])

    def finish_without_recording(self, job_id: str) -> str:
        """Runs the job's first attempt: every document is created and every draft marked exported, but
        storing the job as succeeded fails (storage blip), so the queue will deliver the message again.
        Returns the message."""
        text = self.message_for(job_id)
        export = self.container.export
        jobs = export._jobs
        original = jobs.replace

        def succeeded_is_not_saved(job: Any) -> Any:
            if job.state == "succeeded":
                # What the job repository (`@repository`) raises for any AzureError.
                raise StorageUnavailable("storage unavailable")
            return original(job)

        jobs.replace = succeeded_is_not_saved  # type: ignore[method-assign]
        try:
            with pytest.raises(StorageUnavailable):
                export.process(text, message_id="m-" + job_id, dequeue_count=1)
        finally:
            jobs.replace = original  # type: ignore[method-assign]
        assert all(h.status == EXPORTED for h in self.headers().values())
        return text

    def claimed_by_dead_job(self, draft: int, recorded: dict[str, Any]) -> str:
        """The draft is claimed by an export job that ended without releasing it (its worker died), with
        what that job `recorded` of its document; the dead job's id."""
        dead = "dead-job-" + self.tenant
        stamp = now()
        job = Job(
            job_id=dead,
            tenant=self.tenant,
            document_type="draftInvoice",
            invoice_date=date(2026, 11, 1),
            group_lines=False,
            layout=None,
            omit=(),
            admin_mode=False,
            requested_by="queue",
            notify=(),
            created_at=stamp,
            updated_at=stamp,
            state="failed",
            attempts=5,
            drafts=(draft,),
            poisoned=True,
        )
        assert self.container.export._jobs.create(job)
        header = self.headers()[draft]
        claim = {"exportJob": dead, **recorded}
        assert self.container.export._ledger.put_header(
            replace(header, accounting=AccountingState.of(claim)), header.version
        )
        return dead


def _settings(email: str) -> Any:
    from shared.invoicing.directory import TenantSettings

    return TenantSettings(accounting_email=email)


def now() -> datetime:
    return datetime.now(UTC)
