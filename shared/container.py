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
    directory: DirectoryService
    invoicing: InvoicingService


def build(env: Mapping[str, str] | None = None) -> Container:
    env = os.environ if env is None else env
    settings = Settings.from_env(env)
    storage = StorageAccount(
        StorageConnection.from_env(settings.storage_connection, env), table_prefix=settings.table_prefix
    )
    keys = KeyService(
        TableKeyRepository(storage.table_ref(TABLES["keys"])),
        clock=utcnow,
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
