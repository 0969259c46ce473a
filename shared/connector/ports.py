"""What the connector needs from outside, and the errors it raises.

- `WorkRepository`: the tenant's records of work; `TableWorkRepository` stores them.
- A per-tenant draft resolver (`InvoicingService.live_resolver`): where a billed note's draft stands now.
- Raises `Invalid` (a span or id the connector's rules refuse) and nothing else of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from shared.errors import Invalid
from shared.work import BilledIn, IndexEntry, WorkQuery, WorkRecord, WorkTotals

DraftResolver = Callable[[str], Callable[[int], BilledIn | None]]
"""Per tenant: where a stored draft number stands now (None: unbilled)."""


class WorkRepository(Protocol):
    def add(self, record: WorkRecord) -> bool:
        """False when a record with that id exists already."""
        ...

    def get(self, tenant: str, record_id: str) -> WorkRecord | None: ...

    def query(self, tenant: str, query: WorkQuery) -> list[WorkRecord]: ...

    def count(self, tenant: str) -> int: ...

    def indexed(self, tenant: str) -> bool:
        """True once every stored record of the tenant has its index entries and is in the totals
        (`manage work reindex` has run); records written since are indexed as they are written."""
        ...

    def entries(
        self, tenant: str, query: WorkQuery, *, newest_first: bool, limit: int | None = None
    ) -> Iterator[IndexEntry]:
        """The index entries matching `query`, by start time (newest first or oldest first), ties by
        creation time, then record id; read page by page, reading only the query's date window."""
        ...

    def totals(self, tenant: str) -> list[WorkTotals]: ...

    def get_many(self, tenant: str, record_ids: Sequence[str]) -> list[WorkRecord]:
        """The records with these ids, in that order (ids without a record are left out)."""
        ...


__all__ = ["DraftResolver", "Invalid", "WorkRepository"]
