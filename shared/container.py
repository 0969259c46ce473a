"""Composition root: builds the services once per process from settings."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.adapters.storage import StorageAccount, StorageConnection
from shared.config import Settings
from shared.connector import ConnectorService
from shared.http_api import HttpApi, connector_handlers
from shared.idempotency import Idempotency
from shared.invoicing.api import invoicing_handlers
from shared.invoicing.directory import DirectoryService
from shared.invoicing.service import Draft, InvoicingService
from shared.keys import KeyService
from shared.operations import ALL_OPERATIONS
from shared.repositories.billing import TableDirectoryRepository
from shared.repositories.idempotency import TableIdempotencyRepository
from shared.repositories.invoicing import TableLedger
from shared.repositories.keys import TableKeyRepository
from shared.repositories.throttle import TableWindowStore
from shared.repositories.work import TableWorkRepository
from shared.secrets import EnvironmentSource, Secrets, SecretSource, SecretStore
from shared.throttle import SlidingWindowLimiter

TABLES = {"keys": "ApiKeys", "throttle": "Throttle", "idempotency": "Idempotency", "work": "Work", "billing": "Billing"}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Container:
    settings: Settings
    storage: StorageAccount
    keys: KeyService
    idempotency: Idempotency
    api: HttpApi
    """Every key-authenticated HTTP operation (`shared.operations`)."""
    secrets: Secrets
    directory: DirectoryService
    invoicing: InvoicingService


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
    invoicing = InvoicingService(
        TableLedger(storage.table_ref(TABLES["work"])),
        directory,
        clock=utcnow,
        timezone=settings.default_timezone,
        lease=timedelta(seconds=settings.invoicing_lease_seconds),
    )
    connector = ConnectorService(
        TableWorkRepository(storage.table_ref(TABLES["work"])), clock=utcnow, drafts=invoicing.live_resolver
    )
    api = HttpApi(
        keys=keys,
        limiter=SlidingWindowLimiter(TableWindowStore(storage.table_ref(TABLES["throttle"]))),
        idempotency=idempotency,
        timezone=settings.default_timezone,
        max_body_bytes=settings.max_body_bytes,
        specs=ALL_OPERATIONS,
        handlers={**connector_handlers(connector), **invoicing_handlers(directory, invoicing, _concept_pdf)},
    )
    return Container(
        settings=settings,
        storage=storage,
        keys=keys,
        idempotency=idempotency,
        api=api,
        secrets=secrets,
        directory=directory,
        invoicing=invoicing,
    )


def _concept_pdf(draft: Draft) -> bytes:
    from shared.invoicing.pdf import render  # fpdf2 is imported on the first PDF, not at cold start

    return render(draft, created=utcnow())


@functools.cache
def container() -> Container:
    """The process-wide container, built on first use (not at import, to keep cold starts short)."""
    return build()
