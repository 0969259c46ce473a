"""The billing directory of a tenant: customers, service contracts and tickets.

A contract belongs to a customer; a ticket belongs to a customer and may name a contract (of the
same customer). A row that references something missing is refused, naming what is missing; a
customer or contract that something still references cannot be deleted (409 naming the referrers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from shared.errors import FieldError


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
    """The e-conomic product number the lines are booked on; "" when the contract names none (the export
    then uses the tenant's default, `TenantSettings.default_product_number`)."""
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
    """The tenant's own settings (`billing/settings`). The accounting defaults apply where nothing more
    specific names a value (`shared.export.preflight` says the precedence)."""

    accounting_email: str | None = None
    """The tenant's accounting address: gets every e-conomic export report."""
    default_product_number: str | None = None
    """e-conomic product number of lines whose service contract names none."""
    payment_terms_number: int | None = None
    """e-conomic payment terms for a customer that has none in e-conomic."""
    layout_number: int | None = None
    """e-conomic layout when neither the export request, the customer nor its customer group names one."""
    document_type: str | None = None
    """draftInvoice or order: what an export makes when its request names no documentType."""


@dataclass(frozen=True)
class Directory:
    customers: Mapping[int, Customer] = field(default_factory=dict)
    contracts: Mapping[int, Contract] = field(default_factory=dict)
    tickets: Mapping[int, Ticket] = field(default_factory=dict)

    def of(self, kind: type[Entry]) -> Mapping[int, Entry]:
        """The customers, the contracts or the tickets, by id."""
        return self.customers if kind is Customer else self.contracts if kind is Contract else self.tickets


Entry = Customer | Contract | Ticket


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
