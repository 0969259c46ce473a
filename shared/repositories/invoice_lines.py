"""Manual invoice lines in the `Work` table, in the tenant's partition next to the drafts and notes
(`shared.repositories.invoicing`), so a line, the notes and the draft header change in one
entity-group transaction.

Rows:
- `invoicing-line-counter` (Kind `InvoiceLineCounter`): `Last`, the highest line number handed out.
- `invoicing-line-<number, 10 digits>` (Kind `InvoiceLine`): `DraftNumber` (the draft it was added
  to; like a note's, it resolves through merges), product number, description, quantity, unit price
  and amount (decimal strings), optional `Period`, `CreatedAt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import UpdateMode

from shared.adapters.storage import check_entity
from shared.invoicing.ledger import Change, DropLine, PutLine, Rebill
from shared.invoicing.planning import ManualLine, NoteBilling, Period
from shared.repositories.entity import int64, plain
from shared.repositories.work import to_entity

LINE_COUNTER_ROW = "invoicing-line-counter"
KIND_LINE_COUNTER = "InvoiceLineCounter"
KIND_LINE = "InvoiceLine"
LINE_FIELDS = {"Description": "description", "ProductNumber": "productNumber"}
"""What a line's larger properties come from, for a 413 naming it (`check_entity`)."""


def line_row(number: int) -> str:
    return f"invoicing-line-{number:010d}"


def line_entity(tenant: str, line: ManualLine) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": tenant,
        "RowKey": line_row(line.number),
        "Kind": KIND_LINE,
        "Number": int64(line.number),
        "DraftNumber": int64(line.draft_number),
        "ProductNumber": line.product_number,
        "Description": line.description,
        "Quantity": str(line.quantity),
        "UnitPrice": str(line.unit_price),
        "Amount": str(line.amount),
        "CreatedAt": line.created_at,
    }
    if line.period is not None:
        entity["Period"] = str(line.period)
    check_entity(entity, LINE_FIELDS)
    return entity


def line_from(e: Any) -> ManualLine:
    period = e.get("Period")
    return ManualLine(
        number=int(plain(e["Number"])),
        draft_number=int(plain(e["DraftNumber"])),
        product_number=str(e["ProductNumber"]),
        description=str(e["Description"]),
        quantity=Decimal(e["Quantity"]),
        unit_price=Decimal(e["UnitPrice"]),
        period=Period.parse(period) if period else None,
        created_at=e["CreatedAt"],
        version=e.metadata["etag"],
    )


def if_unchanged(version: object) -> dict[str, Any]:
    return {"mode": UpdateMode.REPLACE, "etag": str(version), "match_condition": MatchConditions.IfNotModified}


def billing_columns(b: NoteBilling) -> dict[str, Any]:
    columns: dict[str, Any] = {
        "DraftNumber": int64(b.draft_number),
        "BillCustomerId": int64(b.customer_id),
        "BillContractId": int64(b.contract_id),
        "BillProductNumber": b.product_number,
        "BillRate": str(b.hourly_rate),
        "BillMinutes": b.minutes,
        "BillAmount": str(b.amount),
    }
    if b.surcharge is not None and b.surcharge_percent is not None:
        columns["BillSurchargePercent"] = str(b.surcharge_percent)
        columns["BillSurcharge"] = str(b.surcharge)
    if b.description is not None:
        columns["BillDescription"] = b.description
    if b.surcharge_description is not None:
        columns["BillSurchargeText"] = b.surcharge_description
    return columns


def change_operations(tenant: str, changes: Sequence[Change]) -> list[Any]:
    """The transaction operations of `changes`, each conditional on the version it was read at (a new
    manual line: on not existing yet)."""
    operations: list[Any] = []
    for change in changes:
        if isinstance(change, Rebill):
            entity = to_entity(change.note.record)
            if change.billing is not None:
                entity = {**entity, **billing_columns(change.billing)}
                check_entity(entity, {"BillDescription": "description", "BillSurchargeText": "description"})
            operations.append(("update", entity, if_unchanged(change.note.version)))
        elif isinstance(change, PutLine):
            entity = line_entity(tenant, change.line)
            if change.line.version is None:
                operations.append(("create", entity))
            else:
                operations.append(("update", entity, if_unchanged(change.line.version)))
        elif isinstance(change, DropLine):
            key = {"PartitionKey": tenant, "RowKey": line_row(change.line.number)}
            operations.append(
                ("delete", key, {"etag": str(change.line.version), "match_condition": MatchConditions.IfNotModified})
            )
    return operations
