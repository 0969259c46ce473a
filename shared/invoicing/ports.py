"""What invoicing needs from outside, and the errors it raises.

- `Ledger`: drafts and the links from notes to them; `TableLedger` stores them.
- `DirectoryRepository`: the billing directory; `TableDirectoryRepository`.
- Whether an export job still holds its drafts (`export_active`), from the export's job records.
- Raises `NotFound` (no such draft or entry), `Conflict` (a draft held by an export, or changed meanwhile),
  `Rejected` (what the run, merge or entry references is missing or not allowed) and `Invalid`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from shared.errors import Conflict, Invalid, NotFound, Rejected
from shared.invoicing.directory import Directory, Entry
from shared.invoicing.ledger import BilledNote, Change, DraftHeader, Link
from shared.invoicing.planning import ManualLine


class DirectoryRepository(Protocol):
    def load(self, tenant: str) -> Directory: ...

    def put(self, tenant: str, entry: Entry) -> None:
        """Insert or replace."""
        ...

    def put_many(self, tenant: str, entries: Iterable[Entry]) -> None: ...

    def delete(self, tenant: str, kind: type[Entry], entry_id: int) -> None: ...


class Ledger(Protocol):
    """Drafts and the links from notes to them. Every write that could race is conditional."""

    max_transaction: int
    """How many rows one atomic write may touch (Table storage: 100)."""

    def headers(self, tenant: str) -> dict[int, DraftHeader]: ...

    def notes_starting(self, tenant: str, start: datetime, end: datetime) -> list[BilledNote]:
        """Position notes with `start <= dateFrom < end`."""
        ...

    def billed_notes_starting(self, tenant: str, start: datetime, end: datetime) -> list[BilledNote]:
        """The billed position notes with `start <= dateFrom < end`, read with only what their lines need
        (`lines_of`): for building lines, never to be written back."""
        ...

    def billed_products(self, tenant: str, start: datetime, end: datetime) -> list[tuple[int, str]]:
        """(draft number, product number) of every billed position note with `start <= dateFrom < end`:
        two columns instead of whole notes, for checks that need no more."""
        ...

    def notes_of(self, tenant: str, numbers: Collection[int]) -> list[BilledNote]:
        """Position notes that carry one of these draft numbers."""
        ...

    def reserve(self, tenant: str, count: int) -> list[int]:
        """`count` new draft numbers, higher than any handed out before for the tenant."""
        ...

    def create_with_links(self, header: DraftHeader, links: Sequence[Link]) -> DraftHeader | None:
        """Atomically: create the header and link every note, each only if unchanged since it was
        read. None (and nothing written) when any note changed. At most `max_transaction - 1` links."""
        ...

    def put_header(self, header: DraftHeader, expected: object | None) -> DraftHeader | None:
        """Create (`expected` None) or replace the header if its version is still `expected`.
        None when the condition fails."""
        ...

    def link(self, tenant: str, links: Sequence[Link]) -> set[str]:
        """Link each note if unchanged since read; returns the ids of the notes that were linked."""
        ...

    def unlink(self, tenant: str, notes: Sequence[BilledNote]) -> int:
        """Clear the billing of each note if unchanged since read; returns how many were cleared."""
        ...

    def replace_headers(self, headers: Sequence[DraftHeader]) -> bool:
        """Atomically replace several headers, each only if its version is unchanged."""
        ...

    def manual_lines(self, tenant: str, numbers: Collection[int]) -> list[ManualLine]:
        """Manual lines that carry one of these draft numbers."""
        ...

    def manual_lines_between(self, tenant: str, low: int, high: int) -> list[ManualLine]:
        """Manual lines carrying a draft number from `low` to `high` (one query for many drafts)."""
        ...

    def reserve_lines(self, tenant: str, count: int) -> list[int]:
        """`count` new manual line numbers, higher than any handed out before for the tenant."""
        ...

    def write(self, header: DraftHeader, changes: Sequence[Change]) -> DraftHeader | None:
        """Atomically: create the header (`version` None) or replace it if its version is unchanged, and
        apply every change, each only if its row is unchanged since read. None (and nothing written)
        when any condition fails. At most `max_transaction - 1` changes."""
        ...


__all__ = ["Conflict", "DirectoryRepository", "Invalid", "Ledger", "NotFound", "Rejected"]
