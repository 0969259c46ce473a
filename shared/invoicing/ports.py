"""What invoicing needs from outside, and the errors it raises.

- `Ledger` (`shared.invoicing.ledger`): drafts and the links from notes to them; `TableLedger` stores them.
- `DirectoryRepository` (`shared.invoicing.directory`): the billing directory; `TableDirectoryRepository`.
- Whether an export job still holds its drafts (`export_active`), from the export's job records.
- Raises `NotFound` (no such draft or entry), `Conflict` (a draft held by an export, or changed meanwhile),
  `Rejected` (what the run, merge or entry references is missing or not allowed) and `Invalid`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from shared.errors import Conflict, Invalid, NotFound, Rejected
from shared.invoicing.directory import DirectoryRepository
from shared.invoicing.ledger import Ledger

if TYPE_CHECKING:
    from shared.invoicing.directory import DirectoryService
    from shared.invoicing.service import Draft, InvoicingService


class InvoicingServices(Protocol):
    """What the invoicing handlers are handed by the composition root."""

    @property
    def directory(self) -> DirectoryService: ...
    @property
    def invoicing(self) -> InvoicingService: ...
    def render_pdf(self, draft: Draft) -> bytes: ...


__all__ = ["Conflict", "DirectoryRepository", "Invalid", "InvoicingServices", "Ledger", "NotFound", "Rejected"]
