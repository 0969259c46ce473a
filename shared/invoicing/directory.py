"""The billing directory of a tenant: customers, service contracts and tickets.

A contract belongs to a customer; a ticket belongs to a customer and may name a contract (of the
same customer). A row that references something missing is refused, naming what is missing; a
customer or contract that something still references cannot be deleted (409 naming the referrers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from shared.errors import Conflict, FieldError, NotFound, Rejected


@dataclass(frozen=True)
class Customer:
    customer_id: int
    name: str
    accounting_system_id: int | None
    """The customer's number in e-conomic; None until the customer exists there (the export refuses
    its drafts until it is set)."""
    billing_email: str
    currency: str
    """ISO 4217 code; the contracts' rates are in this currency."""


@dataclass(frozen=True)
class Contract:
    contract_id: int
    customer_id: int
    product_number: str
    """The e-conomic product number the lines are booked on."""
    hourly_rate: Decimal
    surcharge_percent: Decimal = Decimal(0)
    """Added as its own line for notes with `extraCharge`."""
    rounding_minutes: int = 1
    """Billable minutes are rounded up to a multiple of this."""


@dataclass(frozen=True)
class Ticket:
    ticket_id: int
    customer_id: int
    contract_id: int | None = None


@dataclass(frozen=True)
class TenantSettings:
    accounting_email: str | None = None
    """The tenant's accounting address: gets every e-conomic export report."""


@dataclass(frozen=True)
class Directory:
    customers: Mapping[int, Customer] = field(default_factory=dict)
    contracts: Mapping[int, Contract] = field(default_factory=dict)
    tickets: Mapping[int, Ticket] = field(default_factory=dict)

    def of(self, kind: type[Entry]) -> Mapping[int, Entry]:
        """The customers, the contracts or the tickets, by id."""
        return self.customers if kind is Customer else self.contracts if kind is Contract else self.tickets


Entry = Customer | Contract | Ticket


class DirectoryRepository(Protocol):
    def load(self, tenant: str) -> Directory: ...

    def put(self, tenant: str, entry: Entry) -> None:
        """Insert or replace."""
        ...

    def put_many(self, tenant: str, entries: Iterable[Entry]) -> None: ...

    def delete(self, tenant: str, kind: type[Entry], entry_id: int) -> None: ...


def missing_references(entry: Entry, directory: Directory) -> list[FieldError]:
    """What `entry` references that `directory` does not have (empty when it may be stored)."""
    errors: list[FieldError] = []
    if isinstance(entry, Contract | Ticket) and entry.customer_id not in directory.customers:
        errors.append(FieldError("customerId", f"customer {entry.customer_id} does not exist"))
    if isinstance(entry, Ticket) and entry.contract_id is not None:
        contract = directory.contracts.get(entry.contract_id)
        if contract is None:
            errors.append(FieldError("contractId", f"service contract {entry.contract_id} does not exist"))
        elif contract.customer_id != entry.customer_id:
            errors.append(
                FieldError(
                    "contractId",
                    f"service contract {entry.contract_id} belongs to customer {contract.customer_id}, "
                    f"not {entry.customer_id}",
                )
            )
    return errors


def with_entry(directory: Directory, entry: Entry) -> Directory:
    if isinstance(entry, Customer):
        return Directory({**directory.customers, entry.customer_id: entry}, directory.contracts, directory.tickets)
    if isinstance(entry, Contract):
        return Directory(directory.customers, {**directory.contracts, entry.contract_id: entry}, directory.tickets)
    return Directory(directory.customers, directory.contracts, {**directory.tickets, entry.ticket_id: entry})


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


LABELS: dict[type[Entry], str] = {Customer: "customer", Contract: "service contract", Ticket: "ticket"}
ID_FIELDS: dict[type[Entry], str] = {Customer: "customerId", Contract: "contractId", Ticket: "ticketId"}


def _reassignment_conflicts(entry: Customer | Contract, directory: Directory) -> list[FieldError]:
    # Moving a contract to another customer would leave its tickets pointing across customers.
    if isinstance(entry, Contract):
        old = directory.contracts.get(entry.contract_id)
        if old is not None and old.customer_id != entry.customer_id:
            tickets = [t.ticket_id for t in directory.tickets.values() if t.contract_id == entry.contract_id]
            if tickets:
                return [
                    FieldError(
                        "customerId",
                        f"cannot move the contract to another customer while tickets {tickets[:10]} use it",
                    )
                ]
    return []
