"""What the connector needs from outside, and the errors it raises.

- `WorkRepository`: the tenant's records of work; `TableWorkRepository` stores them.
- A per-tenant draft resolver (`InvoicingService.live_resolver`): where a billed note's draft stands now.
- Raises `Invalid` (a span or id the connector's rules refuse) and nothing else of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from shared.errors import Invalid
from shared.work import BilledIn, WorkQuery, WorkRecord

DraftResolver = Callable[[str], Callable[[int], BilledIn | None]]
"""Per tenant: where a stored draft number stands now (None: unbilled)."""


class WorkRepository(Protocol):
    def add(self, record: WorkRecord) -> bool:
        """False when a record with that id exists already."""
        ...

    def get(self, tenant: str, record_id: str) -> WorkRecord | None: ...

    def query(self, tenant: str, query: WorkQuery) -> list[WorkRecord]: ...

    def count(self, tenant: str) -> int: ...


__all__ = ["DraftResolver", "Invalid", "WorkRepository"]
