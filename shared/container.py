"""Composition root: builds the services once per process from settings."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.accounting.customers import CustomerSync
from shared.accounting.invoices import InvoiceSync
from shared.accounting.routes import AccountingServices
from shared.adapters.storage import StorageAccount, StorageConnection
from shared.config import EXPORT_QUEUE, Settings
from shared.connector.routes import ConnectorServices
from shared.connector.service import ConnectorService
from shared.export.jobs import JobActivity
from shared.export.ports import Mailer
from shared.export.routes import ExportServices
from shared.export.service import ExportService
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.editing import DraftEditor
from shared.invoicing.report_routes import Format, SpecificationServices
from shared.invoicing.routes import InvoicingServices
from shared.invoicing.service import Draft, InvoicingService
from shared.invoicing.specification import DraftSpecification, Specifications
from shared.operations import ALL_OPERATIONS
from shared.platform.idempotency import Idempotency
from shared.platform.keys import KeyService
from shared.platform.secrets import EnvironmentSource, Secrets, SecretSource, SecretStore, SecretValue
from shared.platform.throttle import SlidingWindowLimiter
from shared.repositories.accounting import TableSyncStates
from shared.repositories.billing import TableDirectoryRepository, TableTenantSettings
from shared.repositories.export import TableJobRepository
from shared.repositories.idempotency import TableIdempotencyRepository
from shared.repositories.invoicing import TableLedger
from shared.repositories.keys import TableKeyRepository
from shared.repositories.throttle import TableWindowStore
from shared.repositories.work import TableWorkRepository
from shared.web.pipeline import HttpApi

if TYPE_CHECKING:
    from shared.adapters.economic import EconomicClient

TABLES = {
    "keys": "ApiKeys",
    "throttle": "Throttle",
    "idempotency": "Idempotency",
    "work": "Work",
    "billing": "Billing",
    "exports": "Exports",
    "sync": "AccountingSync",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Every service, built once per process; what the HTTP handlers are handed (each feature's
    `ports.py` names, as a Protocol, the part it needs)."""

    settings: Settings
    storage: StorageAccount
    keys: KeyService
    idempotency: Idempotency
    secrets: Secrets
    connector: ConnectorService
    directory: DirectoryService
    invoicing: InvoicingService
    editing: DraftEditor
    export: ExportService
    tenant_settings: TableTenantSettings
    invoice_sync: InvoiceSync
    customer_sync: CustomerSync
    specifications: Specifications

    def now(self) -> datetime:
        return utcnow()

    def tenant_exists(self, tenant: str) -> bool:
        """A tenant exists while it has API keys."""
        return bool(self.keys.list(tenant))

    def render_pdf(self, draft: Draft) -> bytes:
        from shared.invoicing.pdf import render  # fpdf2 is imported on the first PDF, not at cold start

        return render(draft, created=utcnow())

    def render_specification(self, drafts: list[DraftSpecification], format: Format) -> bytes:
        if format == "csv":
            from shared.invoicing.specification_csv import render_csv

            return render_csv(drafts)
        from shared.invoicing.specification_pdf import render_specification  # fpdf2 on first use

        return render_specification(drafts, created=utcnow())


@dataclass(frozen=True)
class Container(Services):
    api: HttpApi
    """Every key-authenticated HTTP operation (`shared.operations`), handed the services above."""


def _serves_every_feature(
    services: Services,
) -> tuple[ConnectorServices, InvoicingServices, SpecificationServices, ExportServices, AccountingServices]:
    """Checked by mypy: the services satisfy what every feature's handlers need."""
    return services, services, services, services, services


def secret_source(settings: Settings, env: Mapping[str, str]) -> SecretSource:
    """Key Vault when `KEY_VAULT_URL` is set, else app settings. No network here: the first secret
    read connects (and the Key Vault SDK is imported only when a vault is configured)."""
    if settings.key_vault_url:
        from shared.adapters.keyvault import KeyVaultSource

        return KeyVaultSource.with_default_credential(settings.key_vault_url, client_id=env.get("AZURE_CLIENT_ID"))
    return EnvironmentSource(env)


def build(env: Mapping[str, str] | None = None) -> Container:
    env = os.environ if env is None else env
    settings = Settings.from_env(env)
    storage = StorageAccount(
        StorageConnection.from_env(settings.storage_connection, env), table_prefix=settings.table_prefix
    )
    secrets = Secrets(
        SecretStore(
            secret_source(settings, env),
            ttl=settings.secret_cache_seconds,
            max_staleness=settings.secret_max_staleness_seconds,
        )
    )
    keys = KeyService(
        TableKeyRepository(storage.table_ref(TABLES["keys"])),
        clock=utcnow,
        pepper=secrets.api_key_pepper,
        default_limit=settings.throttle_limit,
        default_period_seconds=settings.throttle_period_seconds,
        cache_seconds=settings.key_cache_seconds,
    )
    idempotency = Idempotency(
        TableIdempotencyRepository(storage.table_ref(TABLES["idempotency"])),
        clock=utcnow,
        ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    directory = DirectoryService(TableDirectoryRepository(storage.table_ref(TABLES["billing"])))
    jobs = TableJobRepository(storage.table_ref(TABLES["exports"]))
    activity = JobActivity(jobs, clock=utcnow, max_attempts=settings.export_max_attempts)
    ledger = TableLedger(storage.table_ref(TABLES["work"]))  # stateless: one for every service
    invoicing = InvoicingService(
        ledger,
        directory,
        clock=utcnow,
        timezone=settings.default_timezone,
        lease=timedelta(seconds=settings.invoicing_lease_seconds),
        export_active=activity.is_active,
    )
    editing = DraftEditor(
        invoicing,
        ledger,
        directory,
        clock=utcnow,
        timezone=settings.default_timezone,
    )
    connector = ConnectorService(
        TableWorkRepository(storage.table_ref(TABLES["work"])), clock=utcnow, drafts=invoicing.live_resolver
    )
    tenant_settings = TableTenantSettings(storage.table_ref(TABLES["billing"]))
    economic = EconomicConnections(secrets, settings)
    invoice_sync = InvoiceSync(
        ledger=ledger,
        states=TableSyncStates(storage.table_ref(TABLES["sync"])),
        economic=economic,
        clock=utcnow,
        page_size=settings.sync_page_size,
        known_tenants=TableDirectoryRepository(storage.table_ref(TABLES["billing"])).tenants,
    )
    export = ExportService(
        jobs=jobs,
        ledger=ledger,
        invoicing=invoicing,
        directory=directory,
        activity=activity,
        tenant_exists=lambda tenant: bool(keys.list(tenant)),
        economic=economic,
        enqueue=lambda text: storage.send(EXPORT_QUEUE, text),
        mailer=_mailer_factory(env, secrets),
        accounting_email=lambda tenant: tenant_settings.get(tenant).accounting_email,
        clock=utcnow,
        timezone=settings.default_timezone,
        before_run=invoice_sync.watch,
        concurrency=settings.export_concurrency,
        settings=tenant_settings.get,
    )
    customer_sync = CustomerSync(directory, economic, invoicing.drafted_customers)
    services = Services(
        settings=settings,
        storage=storage,
        keys=keys,
        idempotency=idempotency,
        secrets=secrets,
        connector=connector,
        directory=directory,
        invoicing=invoicing,
        editing=editing,
        export=export,
        tenant_settings=tenant_settings,
        invoice_sync=invoice_sync,
        customer_sync=customer_sync,
        specifications=Specifications(ledger, invoicing, timezone=settings.default_timezone),
    )
    api = HttpApi(
        keys=keys,
        limiter=SlidingWindowLimiter(TableWindowStore(storage.table_ref(TABLES["throttle"]))),
        idempotency=idempotency,
        timezone=settings.default_timezone,
        max_body_bytes=settings.max_body_bytes,
        specs=ALL_OPERATIONS,
        services=services,
    )
    return Container(**{f.name: getattr(services, f.name) for f in fields(Services)}, api=api)


class EconomicConnections:
    """One e-conomic client per tenant and process (its rate-limit view is per agreement). Creating
    one reads both tokens, so a missing token is reported before anything is sent."""

    def __init__(self, secrets: Secrets, settings: Settings) -> None:
        self._secrets = secrets
        self._settings = settings
        self._clients: dict[str, EconomicClient] = {}
        self._lock = threading.Lock()

    def __call__(self, tenant: str) -> EconomicClient:
        from shared.adapters.economic import EconomicClient

        tokens = _TenantTokens(self._secrets, tenant)
        tokens(False)  # raises SecretMissing naming the secret when a token is not configured
        with self._lock:
            client = self._clients.get(tenant)
            if client is None:
                client = EconomicClient(
                    tokens,
                    base_url=self._settings.economic_base_url,
                    max_attempts=self._settings.economic_max_attempts,
                    backoff=self._settings.economic_backoff_ms / 1000,
                )
                self._clients[tenant] = client
        return client


class _TenantTokens:
    def __init__(self, secrets: Secrets, tenant: str) -> None:
        self._secrets = secrets
        self._tenant = tenant
        self._last: tuple[SecretValue, SecretValue] | None = None

    def __call__(self, stale: bool) -> tuple[SecretValue, SecretValue]:
        last = self._last if stale else None
        app = self._secrets.economic_app_secret_token(stale=last[0] if last else None)
        grant = self._secrets.economic_grant_token(self._tenant, stale=last[1] if last else None)
        self._last = (app, grant)
        return app, grant


def _mailer_factory(env: Mapping[str, str], secrets: Secrets) -> Callable[[], Mailer | None]:
    """The SMTP mailer, built on first use; None (no e-mail) when SMTP_HOST is not set."""

    @functools.cache
    def mailer() -> Mailer | None:
        from shared.adapters.smtp import SmtpMailer, SmtpSettings, password_reader

        smtp = SmtpSettings.from_env(env)
        return SmtpMailer(smtp, password_reader(secrets.smtp_password)) if smtp is not None else None

    return mailer


@functools.cache
def container() -> Container:
    """The process-wide container, built on first use (not at import, to keep cold starts short)."""
    return build()
