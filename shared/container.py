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
from shared.keys import KeyService
from shared.operations import ALL_OPERATIONS
from shared.repositories.idempotency import TableIdempotencyRepository
from shared.repositories.keys import TableKeyRepository
from shared.repositories.throttle import TableWindowStore
from shared.repositories.work import TableWorkRepository
from shared.throttle import SlidingWindowLimiter

TABLES = {"keys": "ApiKeys", "throttle": "Throttle", "idempotency": "Idempotency", "work": "Work"}


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
    connector = ConnectorService(TableWorkRepository(storage.table_ref(TABLES["work"])), clock=utcnow)
    api = HttpApi(
        keys=keys,
        limiter=SlidingWindowLimiter(TableWindowStore(storage.table_ref(TABLES["throttle"]))),
        idempotency=idempotency,
        timezone=settings.default_timezone,
        max_body_bytes=settings.max_body_bytes,
        specs=ALL_OPERATIONS,
        handlers={**connector_handlers(connector)},
    )
    return Container(settings=settings, storage=storage, keys=keys, idempotency=idempotency, api=api)


@functools.cache
def container() -> Container:
    """The process-wide container, built on first use (not at import, to keep cold starts short)."""
    return build()
