"""What accounting needs from the outside: the parts of the e-conomic API it uses, the store of the
sync's per-tenant state (and that state's record), what its handlers are handed, and the errors it
raises of its own (`SyncBusy`; else `shared.errors`: Denied, NotFound, Rejected, AccountingAuthFailed,
AccountingRefused, AccountingUnusable, Unavailable)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared.errors import Busy


class BookedApi(Protocol):
    """The part of `shared.adapters.economic.EconomicClient` the sync uses."""

    def booked_pages(self, filter: str, *, pagesize: int = ...) -> Iterator[list[dict[str, Any]]]: ...
    def find_booked(self, reference: str) -> list[dict[str, Any]]: ...
    def list_drafts(self, kind: Any) -> list[dict[str, Any]]: ...
    def sent_orders(self) -> list[dict[str, Any]]: ...
    def find_drafts(self, kind: Any, reference: str) -> list[dict[str, Any]]: ...
    def find_sent_orders(self, reference: str) -> list[dict[str, Any]]: ...
    def find_archived_orders(self, reference: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class SyncState:
    tenant: str
    watermark: int | None = None
    """The highest `bookedInvoiceNumber` read so far (None: never read)."""
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_result: Mapping[str, Any] = field(default_factory=dict)
    running_until: datetime | None = None
    run_id: str | None = None
    version: object | None = None


class SyncStates(Protocol):
    def get(self, tenant: str) -> SyncState | None: ...
    def put(self, state: SyncState) -> SyncState | None:
        """Create (version None) or replace if unchanged; None when the condition fails."""
        ...

    def tenants(self) -> list[str]: ...


class SyncBusy(Busy):
    """Another run holds the tenant's lease; retry after it ends."""


class EconomicCustomers(Protocol):
    """The part of `shared.adapters.economic.EconomicClient` the customer sync uses."""

    def customers(self) -> dict[int, dict[str, Any]]:
        """Every e-conomic customer by `customerNumber` (the adapter pages through GET /customers)."""
        ...
