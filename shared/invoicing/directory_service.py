"""The billing directory as a service: entries are checked against what they reference before they are
stored, and an entry something still references is not deleted (409 naming the referrers)."""

from __future__ import annotations

from shared.errors import Conflict, FieldError, NotFound, Rejected
from shared.invoicing.directory import (
    ID_FIELDS,
    LABELS,
    Contract,
    Customer,
    Directory,
    Entry,
    Ticket,
    _reassignment_conflicts,
    missing_references,
    with_entry,
)
from shared.invoicing.ports import DirectoryRepository


class DirectoryService:
    def __init__(self, repository: DirectoryRepository) -> None:
        self._repo = repository

    def load(self, tenant: str) -> Directory:
        return self._repo.load(tenant)

    def put(self, tenant: str, entry: Entry) -> Entry:
        directory = self._repo.load(tenant)
        errors = missing_references(entry, directory)
        if isinstance(entry, Customer | Contract):
            errors += _reassignment_conflicts(entry, directory)
        if errors:
            raise Rejected("The entry references something that does not exist or does not match.", errors)
        self._repo.put(tenant, entry)
        return entry

    def check_import(self, tenant: str, entries: list[tuple[str, Entry]]) -> list[str]:
        """The references of each entry (labelled with where it came from) that the directory will
        not have after importing all of them."""
        directory = self._repo.load(tenant)
        for _, entry in entries:
            directory = with_entry(directory, entry)
        return [
            f"{label}: {error.field} {error.message}"
            for label, entry in entries
            for error in missing_references(entry, directory)
        ]

    def import_entries(self, tenant: str, entries: list[tuple[str, Entry]]) -> list[str]:
        """Stores every entry, in dependency order, or none and returns the problems."""
        problems = self.check_import(tenant, entries)
        if not problems:
            order = {Customer: 0, Contract: 1, Ticket: 2}
            self._repo.put_many(tenant, sorted((e for _, e in entries), key=lambda e: order[type(e)]))
        return problems

    def delete(self, tenant: str, kind: type[Entry], entry_id: int, *, drafted_customers: set[int]) -> None:
        """Refuses (409) while something still references the entry. `drafted_customers`: customers of
        open drafts, which the export still needs."""
        directory = self._repo.load(tenant)
        label = LABELS[kind]
        if entry_id not in directory.of(kind):
            raise NotFound(f"No {label} {entry_id}.")
        referrers: list[str] = []
        if kind is Customer:
            referrers += [
                f"service contract {c.contract_id}" for c in directory.contracts.values() if c.customer_id == entry_id
            ]
            referrers += [f"ticket {t.ticket_id}" for t in directory.tickets.values() if t.customer_id == entry_id]
            if entry_id in drafted_customers:
                referrers.append("open invoice drafts")
        elif kind is Contract:
            referrers += [f"ticket {t.ticket_id}" for t in directory.tickets.values() if t.contract_id == entry_id]
        if referrers:
            shown = ", ".join(referrers[:10]) + (f" and {len(referrers) - 10} more" if len(referrers) > 10 else "")
            raise Conflict(
                f"The {label} {entry_id} is still referenced by {shown}.",
                [FieldError(ID_FIELDS[kind], f"is still referenced by {shown}")],
            )
        self._repo.delete(tenant, kind, entry_id)
