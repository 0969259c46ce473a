"""What the connector needs from outside, and the errors it raises.

- `WorkRepository` (`shared.work`): the tenant's records of work; `TableWorkRepository` stores them.
- A per-tenant draft resolver (`InvoicingService.live_resolver`): where a billed note's draft stands now.
- Raises `Invalid` (a span or id the connector's rules refuse) and nothing else of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from shared.errors import Invalid
from shared.work import BilledIn, WorkRepository

if TYPE_CHECKING:
    from shared.connector.service import ConnectorService

DraftResolver = Callable[[str], Callable[[int], BilledIn | None]]
"""Per tenant: where a stored draft number stands now (None: unbilled)."""


class ConnectorServices(Protocol):
    """What the connector's handlers are handed by the composition root."""

    @property
    def connector(self) -> ConnectorService: ...


__all__ = ["ConnectorServices", "DraftResolver", "Invalid", "WorkRepository"]
