"""The one adapter for Azure Storage (tables and queues).

Connections follow the Azure Functions convention, so the app and the platform read the same
settings: `<name>` holds a connection string (Azurite locally), or `<name>__accountName` /
`<name>__tableServiceUri` / `<name>__queueServiceUri` select identity-based access with
`DefaultAzureCredential` (`<name>__clientId` picks a user-assigned managed identity).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import requests
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.core.pipeline.transport import HttpRequest, HttpResponse, RequestsTransport
from azure.data.tables import EntityProperty, TableClient, TableServiceClient

from shared.config import ConfigError
from shared.errors import FieldError, StorageUnavailable, TooLarge
from shared.timing import round_trip

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.queue import QueueServiceClient

# Fail fast instead of letting a request hang on an unreachable account: the caller gets a 503 and
# Logic Apps retries, which is better than a connector call that times out after minutes.
CLIENT_OPTIONS: dict[str, Any] = {
    "connection_timeout": 5,
    "read_timeout": 20,
    "retry_total": 2,
    "retry_backoff_factor": 0.2,
}


log = logging.getLogger("invoice_bridge.storage")

STORAGE_RETRY_AFTER = 5
"""Seconds a caller is asked to wait after a storage outage (Logic Apps retries a 503 with it)."""

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)


# Table storage's limits, https://learn.microsoft.com/en-us/rest/api/storageservices/understanding-the-table-service-data-model
# ("Property types", "Characteristics of entities"): a String (UTF-16) or Binary property holds at most
# 64 KiB, an entity at most 1 MiB (its keys, property names and values), 255 properties.
MAX_PROPERTY_BYTES = 64 * 1024
MAX_ENTITY_BYTES = 1024 * 1024
TOO_LARGE_CODES = ("PropertyValueTooLarge", "EntityTooLarge", "RequestBodyTooLarge")
"""Table storage's (and Azurite's) 400/413 error codes for what can never be stored: not an outage."""


def _value_bytes(value: Any) -> int:
    value = value.value if isinstance(value, EntityProperty) else value
    if isinstance(value, str):
        return len(value.encode("utf-16-le", errors="surrogatepass"))  # a lone surrogate is 2 bytes too
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, bool):
        return 1
    return 16 if not isinstance(value, int | float | datetime) else 8


def check_entity(entity: Mapping[str, Any], fields: Mapping[str, str] | None = None) -> None:
    """Raises `TooLarge` (413, never a 503 "retry") before `entity` is sent when Table storage would
    refuse it: a property over 64 KiB, or the whole over 1 MiB (counted as the service does: each
    property 8 bytes plus its name in UTF-16 plus its value; strings in UTF-16, 4 bytes of length each).
    `fields` names the input field a property holds (`Omit` -> `invoicesToOmit`), so the answer names
    what the caller sent."""
    names = fields or {}
    total = 4
    for name, value in entity.items():
        size = _value_bytes(value)
        if name not in ("PartitionKey", "RowKey") and size > MAX_PROPERTY_BYTES:
            field = names.get(name, name)
            raise TooLarge(
                f"{field} is too large to store ({size} bytes; at most {MAX_PROPERTY_BYTES}).",
                [FieldError(field, f"must take at most {MAX_PROPERTY_BYTES // 1024} KiB when stored (UTF-16)")],
            )
        total += size + (0 if name in ("PartitionKey", "RowKey") else 8 + 2 * len(name) + 4)
    if total > MAX_ENTITY_BYTES:
        largest = max((n for n in entity if n not in ("PartitionKey", "RowKey")), key=lambda n: _value_bytes(entity[n]))
        field = names.get(largest, largest)
        raise TooLarge(
            f"The record is too large to store ({total} bytes; at most {MAX_ENTITY_BYTES}); largest: {field}.",
            [FieldError(field, f"makes the stored record larger than {MAX_ENTITY_BYTES // 1024} KiB")],
        )


def too_large_code(error: AzureError) -> str | None:
    """Table storage's code when `error` says the entity or request is too large, else None."""
    if not isinstance(error, HttpResponseError) or error.status_code not in (400, 413):
        return None
    code = getattr(error, "error_code", None)
    text = f"{getattr(code, 'value', code)} {error}"
    return next((c for c in TOO_LARGE_CODES if c in text), None)


def storage_errors(method: Callable[P, R]) -> Callable[P, R]:
    """`AzureError` that escapes `method` becomes `StorageUnavailable`: outages and timeouts, and answers
    the repository did not handle as a domain answer (a repository catches `ResourceNotFoundError` and
    the like itself, where they mean something). Storage refusing something as too large
    (`TOO_LARGE_CODES`) is `TooLarge` instead: sending it again can never succeed."""

    @functools.wraps(method)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except AzureError as error:
            code = too_large_code(error)
            if code is not None:
                log.warning("storage call %s refused: %s", method.__qualname__, code)
                raise TooLarge(
                    f"The record is too large to store ({code}).",
                    [FieldError("body", "holds more than Table storage keeps in one record (64 KiB a field)")],
                ) from error
            log.warning("storage call %s failed: %s", method.__qualname__, type(error).__name__)
            raise StorageUnavailable(
                "Storage is unavailable right now; retry shortly.", retry_after=STORAGE_RETRY_AFTER
            ) from error

    return wrapped


def repository(cls: C) -> C:
    """Class decorator for a storage repository: every public method wraps the SDK's errors."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member):
            setattr(cls, name, storage_errors(member))
    return cls


POOL_SIZE = 64
"""Connections kept open per endpoint: above the worker's thread count, so no request waits for one."""


class TimedTransport(RequestsTransport):  # type: ignore[misc]
    """HTTP transport that records the wall time of every round trip (retries included) in
    `shared.timing`, over one pooled session."""

    def __init__(self) -> None:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        super().__init__(session=session, session_owner=True)

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        with round_trip():
            response: HttpResponse = super().send(request, **kwargs)
        return response


@dataclass(frozen=True)
class StorageConnection:
    name: str
    connection_string: str | None = None
    table_url: str | None = None
    queue_url: str | None = None
    client_id: str | None = None

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] | None = None) -> StorageConnection:
        env = os.environ if env is None else env
        conn = env.get(name, "").strip()
        if conn:
            return cls(name=name, connection_string=conn)
        account = env.get(f"{name}__accountName", "").strip()
        table_url = env.get(f"{name}__tableServiceUri", "").strip() or (
            f"https://{account}.table.core.windows.net" if account else ""
        )
        queue_url = env.get(f"{name}__queueServiceUri", "").strip() or (
            f"https://{account}.queue.core.windows.net" if account else ""
        )
        if not table_url and not queue_url:
            raise ConfigError(
                f"storage connection {name} is not configured: set {name} to a connection string, "
                f"or {name}__accountName for identity-based access"
            )
        return cls(
            name=name,
            table_url=table_url or None,
            queue_url=queue_url or None,
            client_id=env.get(f"{name}__clientId") or None,
        )

    def credential(self) -> TokenCredential:
        from azure.identity import DefaultAzureCredential

        if self.client_id:
            return DefaultAzureCredential(managed_identity_client_id=self.client_id)
        return DefaultAzureCredential()


class StorageAccount:
    """Clients for one storage account, shared by every request of the process (they are thread-safe).

    Tables are created on first use, once per process, so a fresh Azurite or a new account needs
    no set-up step.
    """

    def __init__(self, connection: StorageConnection, *, table_prefix: str = "") -> None:
        self.connection = connection
        self.table_prefix = table_prefix
        self._lock = threading.Lock()
        self._tables: dict[str, TableClient] = {}
        self._queues: dict[str, Any] = {}
        self._table_service: TableServiceClient | None = None
        self._queue_service: QueueServiceClient | None = None

    @property
    def table_service(self) -> TableServiceClient:
        if self._table_service is None:
            options = {**CLIENT_OPTIONS, "transport": TimedTransport()}
            conn = self.connection
            if conn.connection_string:
                service = TableServiceClient.from_connection_string(conn.connection_string, **options)
            elif conn.table_url:
                service = TableServiceClient(endpoint=conn.table_url, credential=conn.credential(), **options)
            else:
                raise ConfigError(f"storage connection {conn.name} has no table endpoint")
            self._table_service = service
        return self._table_service

    @property
    def queue_service(self) -> QueueServiceClient:
        if self._queue_service is None:
            from azure.storage.queue import QueueServiceClient

            options = {**CLIENT_OPTIONS, "transport": TimedTransport()}
            conn = self.connection
            if conn.connection_string:
                service = QueueServiceClient.from_connection_string(conn.connection_string, **options)
            elif conn.queue_url:
                service = QueueServiceClient(account_url=conn.queue_url, credential=conn.credential(), **options)
            else:
                raise ConfigError(f"storage connection {conn.name} has no queue endpoint")
            self._queue_service = service
        return self._queue_service

    def table(self, name: str) -> TableClient:
        full_name = f"{self.table_prefix}{name}"
        client = self._tables.get(full_name)
        if client is not None:
            return client
        with self._lock:
            client = self._tables.get(full_name)
            if client is None:
                with contextlib.suppress(ResourceExistsError):
                    self.table_service.create_table(full_name)
                client = self.table_service.get_table_client(full_name)
                self._tables[full_name] = client
        return client

    @storage_errors
    def send(self, queue_name: str, text: str) -> None:
        """Puts `text` on the queue as it is (host.json `messageEncoding` is "none"), creating the queue
        on first use."""
        from azure.storage.queue import QueueClient

        client: QueueClient | None = self._queues.get(queue_name)
        if client is None:
            with self._lock:
                client = self._queues.get(queue_name)
                if client is None:
                    client = self.queue_service.get_queue_client(queue_name)
                    with contextlib.suppress(ResourceExistsError):
                        client.create_queue()
                    self._queues[queue_name] = client
        client.send_message(text)

    def table_ref(self, name: str) -> Callable[[], TableClient]:
        """A table fetched (and created) on first use, so building services needs no network."""
        return lambda: self.table(name)

    def ping(self) -> None:
        """One cheap call that proves the table endpoint answers and our credentials are accepted."""
        next(iter(self.table_service.list_tables(results_per_page=1).by_page()), None)
