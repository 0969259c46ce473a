"""The billing directory in the `Billing` table: PartitionKey = tenant, RowKey = `<type>-<id>` (ids
zero-padded so rows sort by id), `Type` = Customer/Contract/Ticket. Money and percentages are stored
as decimal strings, never floats."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.storage import repository
from shared.invoicing.directory import Contract, Customer, Directory, Entry, TenantSettings, Ticket
from shared.repositories.entity import int64, plain
from shared.repositories.odata import eq
from shared.text import readable

SETTINGS_ROW = "settings"
SETTINGS_TYPE = "Settings"
_PREFIX: dict[type[Entry], str] = {Customer: "customer", Contract: "contract", Ticket: "ticket"}
BATCH = 100


def row_key(kind: type[Entry], entry_id: int) -> str:
    return f"{_PREFIX[kind]}-{entry_id:016d}"


@repository
class TableDirectoryRepository:
    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table

    def load(self, tenant: str) -> Directory:
        customers: dict[int, Customer] = {}
        contracts: dict[int, Contract] = {}
        tickets: dict[int, Ticket] = {}
        for e in self._table().query_entities(eq("PartitionKey", tenant)):
            if e.get("Type") == SETTINGS_TYPE:
                continue
            entry = _from_entity(e)
            if isinstance(entry, Customer):
                customers[entry.customer_id] = entry
            elif isinstance(entry, Contract):
                contracts[entry.contract_id] = entry
            else:
                tickets[entry.ticket_id] = entry
        return Directory(customers, contracts, tickets)

    def tenants(self) -> list[str]:
        """Every tenant with a customer in its directory (one column of the customer rows)."""
        rows = self._table().query_entities(eq("Type", "Customer"), select=["PartitionKey"])
        return sorted({str(e["PartitionKey"]) for e in rows})

    def put(self, tenant: str, entry: Entry) -> None:
        self._table().upsert_entity(_to_entity(tenant, entry), mode=UpdateMode.REPLACE)

    def put_many(self, tenant: str, entries: Iterable[Entry]) -> None:
        # Callers pass entries in dependency order (customers, contracts, tickets); each batch of 100
        # is one transaction, and a re-run of the same import is an upsert.
        batch: list[Any] = []
        for entry in entries:
            batch.append(("upsert", _to_entity(tenant, entry), {"mode": UpdateMode.REPLACE}))
            if len(batch) == BATCH:
                self._table().submit_transaction(batch)
                batch = []
        if batch:
            self._table().submit_transaction(batch)

    def delete(self, tenant: str, kind: type[Entry], entry_id: int) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self._table().delete_entity(tenant, row_key(kind, entry_id))


def _to_entity(tenant: str, entry: Entry) -> dict[str, Any]:
    base: dict[str, Any] = {
        "PartitionKey": tenant,
        "RowKey": row_key(type(entry), _id(entry)),
        "Type": type(entry).__name__,
    }
    if isinstance(entry, Customer):
        return {
            **base,
            "CustomerId": int64(entry.customer_id),
            "Name": entry.name,
            "BillingEmail": entry.billing_email,
            "Currency": entry.currency,
            **({"AccountingSystemId": int64(entry.accounting_system_id)} if entry.accounting_system_id else {}),
        }
    if isinstance(entry, Contract):
        return {
            **base,
            "ContractId": int64(entry.contract_id),
            "CustomerId": int64(entry.customer_id),
            "ProductNumber": entry.product_number,
            "HourlyRate": str(entry.hourly_rate),
            "SurchargePercent": str(entry.surcharge_percent),
            "RoundingMinutes": entry.rounding_minutes,
        }
    entity = {**base, "TicketId": int64(entry.ticket_id), "CustomerId": int64(entry.customer_id)}
    if entry.contract_id is not None:
        entity["ContractId"] = int64(entry.contract_id)
    return entity


def _id(entry: Entry) -> int:
    if isinstance(entry, Customer):
        return entry.customer_id
    if isinstance(entry, Contract):
        return entry.contract_id
    return entry.ticket_id


def _int(e: dict[str, Any], column: str) -> int:
    return int(plain(e[column]))


def _from_entity(e: dict[str, Any]) -> Entry:
    kind = e["Type"]
    if kind == "Customer":
        return Customer(
            customer_id=_int(e, "CustomerId"),
            name=readable(e["Name"]),  # a lone surrogate stored before the edge refused it
            accounting_system_id=_int(e, "AccountingSystemId") if e.get("AccountingSystemId") is not None else None,
            billing_email=e["BillingEmail"],
            currency=e["Currency"],
        )
    if kind == "Contract":
        return Contract(
            contract_id=_int(e, "ContractId"),
            customer_id=_int(e, "CustomerId"),
            product_number=e["ProductNumber"],
            hourly_rate=Decimal(e["HourlyRate"]),
            surcharge_percent=Decimal(e.get("SurchargePercent", "0")),
            rounding_minutes=int(e.get("RoundingMinutes", 1)),
        )
    contract = e.get("ContractId")
    return Ticket(
        ticket_id=_int(e, "TicketId"),
        customer_id=_int(e, "CustomerId"),
        contract_id=int(plain(contract)) if contract is not None else None,
    )


@repository
class TableTenantSettings:
    """The tenant's own settings, one row (`settings`) in its Billing partition."""

    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table

    def get(self, tenant: str) -> TenantSettings:
        try:
            e = self._table().get_entity(tenant, SETTINGS_ROW)
        except ResourceNotFoundError:
            return TenantSettings()
        # Rows written before the accounting defaults existed have only AccountingEmail: the rest is None.
        terms, layout = e.get("PaymentTermsNumber"), e.get("LayoutNumber")
        document_type = e.get("DocumentType")
        return TenantSettings(
            accounting_email=e.get("AccountingEmail") or None,
            default_product_number=e.get("DefaultProductNumber") or None,
            payment_terms_number=int(plain(terms)) if terms is not None else None,
            layout_number=int(plain(layout)) if layout is not None else None,
            document_type=document_type if document_type in ("draftInvoice", "order") else None,
        )

    def put(self, tenant: str, settings: TenantSettings) -> None:
        """Replaces the row: a setting that is None is not stored (and reads back as None)."""
        entity: dict[str, Any] = {"PartitionKey": tenant, "RowKey": SETTINGS_ROW, "Type": SETTINGS_TYPE}
        for column, value in (
            ("AccountingEmail", settings.accounting_email),
            ("DefaultProductNumber", settings.default_product_number),
            ("PaymentTermsNumber", int64(settings.payment_terms_number) if settings.payment_terms_number else None),
            ("LayoutNumber", int64(settings.layout_number) if settings.layout_number else None),
            ("DocumentType", settings.document_type),
        ):
            if value:
                entity[column] = value
        self._table().upsert_entity(entity, mode=UpdateMode.REPLACE)
