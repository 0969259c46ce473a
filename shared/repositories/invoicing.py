"""Invoice drafts in the `Work` table, next to the notes they bill (see `shared.invoicing.service`
for why): PartitionKey = tenant for all of them, so a header and up to 99 notes can change in one
entity-group transaction (at most 100 operations, one partition, 4 MiB, each row once).

Rows (column `Kind` tells them apart; the connector's listing reads only the two work kinds):
- `invoicing-counter` (Kind `InvoiceCounter`): `Last`, the highest draft number handed out.
- `invoicing-draft-<number, 10 digits>` (Kind `InvoiceDraft`): status, customer snapshot (JSON),
  period, totals (decimal strings), merge links, `Accounting` (JSON, for the export).
- Position notes get `DraftNumber` and their price snapshot (`Bill*` columns, with `BillDescription`
  and `BillSurchargeText` once a line's text is edited) when linked. The lines live on the notes, so a
  draft of any size needs no line rows, and a line can never be in a draft its note is not in.
- Manual lines (`shared.repositories.invoice_lines`) are rows of their own, carrying a draft number
  as notes do. An edit of a draft writes its header and those rows in one transaction (`write`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.adapters.storage import check_entity, repository
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.directory import Customer
from shared.invoicing.ledger import BilledNote, Change, DraftHeader, Link, Totals
from shared.invoicing.planning import ManualLine, NoteBilling, Period
from shared.repositories.entity import int64, plain
from shared.repositories.invoice_lines import (
    KIND_LINE,
    KIND_LINE_COUNTER,
    LINE_COUNTER_ROW,
    billing_columns,
    change_operations,
    if_unchanged,
    line_from,
)
from shared.repositories.odata import all_of, eq, literal
from shared.repositories.work import from_entity, to_entity
from shared.text import readable
from shared.work import POSITION_NOTE

T = TypeVar("T")
COUNTER_ROW = "invoicing-counter"
KIND_COUNTER = "InvoiceCounter"
KIND_DRAFT = "InvoiceDraft"
MAX_TRANSACTION = 100
FILTER_NUMBERS = 10
"""Draft numbers per query: Table storage allows at most 15 comparisons in one filter."""
_CONDITION_FAILED = {"UpdateConditionNotSatisfied", "EntityAlreadyExists", "ResourceNotFound", "ConditionNotMet"}
_BILL_COLUMNS = (
    "DraftNumber",
    "BillCustomerId",
    "BillContractId",
    "BillProductNumber",
    "BillRate",
    "BillMinutes",
    "BillAmount",
    "BillSurchargePercent",
    "BillSurcharge",
    "BillDescription",
    "BillSurchargeText",
)

_LINE_COLUMNS = ("RowKey", "DateFromUtc", "OffsetMinutes", "TicketId", "Username", "Hint")
"""What a billed note's lines need of it besides its `Bill*` columns (`shared.invoicing.planning.lines_of`):
less than half of its columns, one date of its four (parsing them is most of a big read's time)."""


def draft_row(number: int) -> str:
    return f"invoicing-draft-{number:010d}"


@repository
class TableLedger:
    def __init__(self, table: Callable[[], TableClient], *, max_transaction: int = MAX_TRANSACTION) -> None:
        self._table = table
        self.max_transaction = max_transaction

    def headers(self, tenant: str) -> dict[int, DraftHeader]:
        rows = self._table().query_entities(all_of(eq("PartitionKey", tenant), eq("Kind", KIND_DRAFT)))
        headers = (_header_from(e) for e in rows)
        return {h.number: h for h in headers}

    def notes_starting(self, tenant: str, start: datetime, end: datetime) -> list[BilledNote]:
        query = all_of(
            eq("PartitionKey", tenant),
            eq("Kind", POSITION_NOTE),
            f"DateFromUtc ge {literal(start)}",
            f"DateFromUtc lt {literal(end)}",
        )
        return [_note_from(e) for e in self._table().query_entities(query)]

    def billed_notes_starting(self, tenant: str, start: datetime, end: datetime) -> list[BilledNote]:
        query = all_of(
            eq("PartitionKey", tenant),
            eq("Kind", POSITION_NOTE),
            f"DateFromUtc ge {literal(start)}",
            f"DateFromUtc lt {literal(end)}",
        )
        rows = self._table().query_entities(query, select=[*_LINE_COLUMNS, *_BILL_COLUMNS])
        billed = (e for e in rows if e.get("DraftNumber") is not None and e.get("BillAmount") is not None)
        return [_line_note_from(tenant, e) for e in billed]

    def billed_products(self, tenant: str, start: datetime, end: datetime) -> list[tuple[int, str]]:
        query = all_of(
            eq("PartitionKey", tenant),
            eq("Kind", POSITION_NOTE),
            f"DateFromUtc ge {literal(start)}",
            f"DateFromUtc lt {literal(end)}",
        )
        rows = self._table().query_entities(query, select=["DraftNumber", "BillProductNumber"])
        return [
            (int(plain(e["DraftNumber"])), str(e["BillProductNumber"]))
            for e in rows
            if e.get("DraftNumber") is not None and e.get("BillProductNumber") is not None
        ]

    def notes_of(self, tenant: str, numbers: Collection[int]) -> list[BilledNote]:
        return self._carrying(tenant, POSITION_NOTE, numbers, _note_from)

    def manual_lines(self, tenant: str, numbers: Collection[int]) -> list[ManualLine]:
        return self._carrying(tenant, KIND_LINE, numbers, line_from)

    def _carrying(self, tenant: str, kind: str, numbers: Collection[int], read: Callable[[Any], T]) -> list[T]:
        """Rows of `kind` that carry one of the draft `numbers`, `FILTER_NUMBERS` numbers a query."""
        ordered = sorted(numbers)
        found: list[T] = []
        for i in range(0, len(ordered), FILTER_NUMBERS):
            any_number = " or ".join(eq("DraftNumber", n) for n in ordered[i : i + FILTER_NUMBERS])
            query = all_of(eq("PartitionKey", tenant), eq("Kind", kind), any_number)
            found += [read(e) for e in self._table().query_entities(query)]
        return found

    def manual_lines_between(self, tenant: str, low: int, high: int) -> list[ManualLine]:
        clauses = (f"DraftNumber ge {literal(low)}", f"DraftNumber le {literal(high)}")
        query = all_of(eq("PartitionKey", tenant), eq("Kind", KIND_LINE), *clauses)
        return [line_from(e) for e in self._table().query_entities(query)]

    def write(self, header: DraftHeader, changes: Sequence[Change]) -> DraftHeader | None:
        if len(changes) >= self.max_transaction:
            raise ValueError(f"at most {self.max_transaction - 1} changes fit into one transaction")
        entity = _header_entity(header)
        first: Any = ("create", entity) if header.version is None else ("update", entity, if_unchanged(header.version))
        try:
            results = self._table().submit_transaction([first, *change_operations(header.tenant, changes)])
        except TableTransactionError as error:
            if _condition_failed(error):
                return None
            raise
        return _with_version(header, results[0].get("etag"))

    def reserve(self, tenant: str, count: int) -> list[int]:
        return self._reserve(tenant, count, COUNTER_ROW, KIND_COUNTER)

    def reserve_lines(self, tenant: str, count: int) -> list[int]:
        return self._reserve(tenant, count, LINE_COUNTER_ROW, KIND_LINE_COUNTER)

    def _reserve(self, tenant: str, count: int, row_key: str, kind: str) -> list[int]:
        table = self._table()
        for _ in range(50):
            try:
                row = table.get_entity(tenant, row_key)
            except ResourceNotFoundError:
                try:
                    table.create_entity({"PartitionKey": tenant, "RowKey": row_key, "Kind": kind, "Last": int64(count)})
                except ResourceExistsError:
                    continue
                return list(range(1, count + 1))
            last = int(plain(row["Last"]))
            try:
                table.update_entity(
                    {"PartitionKey": tenant, "RowKey": row_key, "Kind": kind, "Last": int64(last + count)},
                    mode=UpdateMode.REPLACE,
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except HttpResponseError as error:
                if _condition_failed(error):
                    continue
                raise
            return list(range(last + 1, last + count + 1))
        raise RuntimeError(f"could not reserve numbers from {row_key}: the counter is too contended")

    def create_with_links(self, header: DraftHeader, links: Sequence[Link]) -> DraftHeader | None:
        if len(links) >= self.max_transaction:
            raise ValueError(f"at most {self.max_transaction - 1} links fit into one transaction")
        operations: list[Any] = [("create", _header_entity(header))]
        operations += [_link_operation(link) for link in links]
        try:
            results = self._table().submit_transaction(operations)
        except TableTransactionError as error:
            if _condition_failed(error):
                return None
            raise
        return _with_version(header, results[0].get("etag"))

    def put_header(self, header: DraftHeader, expected: object | None) -> DraftHeader | None:
        try:
            if expected is None:
                result = self._table().create_entity(_header_entity(header))
            else:
                result = self._table().update_entity(
                    _header_entity(header),
                    mode=UpdateMode.REPLACE,
                    etag=str(expected),
                    match_condition=MatchConditions.IfNotModified,
                )
        except HttpResponseError as error:
            if isinstance(error, ResourceExistsError) or _condition_failed(error):
                return None
            raise
        return _with_version(header, result.get("etag"))

    def link(self, tenant: str, links: Sequence[Link]) -> set[str]:
        return self._conditional_rewrites([(link.note, _link_operation(link)) for link in links])

    def unlink(self, tenant: str, notes: Sequence[BilledNote]) -> int:
        operations = [(note, ("update", to_entity(note.record), if_unchanged(note.version))) for note in notes]
        return len(self._conditional_rewrites(operations))

    def replace_headers(self, headers: Sequence[DraftHeader]) -> bool:
        operations: list[Any] = [("update", _header_entity(h), if_unchanged(h.version)) for h in headers]
        try:
            self._table().submit_transaction(operations)
        except TableTransactionError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def _conditional_rewrites(self, operations: Sequence[tuple[BilledNote, Any]]) -> set[str]:
        """Each operation in transactions of `max_transaction`; a transaction that fails on a
        condition is retried one operation at a time, so one changed note does not block the rest."""
        done: set[str] = set()
        table = self._table()
        for i in range(0, len(operations), self.max_transaction):
            chunk = operations[i : i + self.max_transaction]
            try:
                table.submit_transaction([op for _, op in chunk])
            except TableTransactionError as error:
                if not _condition_failed(error):
                    raise
            else:
                done.update(note.record.record_id for note, _ in chunk)
                continue
            for note, (_, entity, options) in chunk:
                try:
                    table.update_entity(entity, **options)
                except HttpResponseError as error:
                    if _condition_failed(error) or isinstance(error, ResourceNotFoundError):
                        continue
                    raise
                done.add(note.record.record_id)
        return done


def _condition_failed(error: HttpResponseError) -> bool:
    code = getattr(error, "error_code", None)
    return error.status_code in (409, 412) or (code is not None and str(code) in _CONDITION_FAILED)


def _link_operation(link: Link) -> tuple[str, dict[str, Any], dict[str, Any]]:
    return (
        "update",
        {**to_entity(link.note.record), **_billing_columns(link.billing)},
        if_unchanged(link.note.version),
    )


_billing_columns = billing_columns


def _line_note_from(tenant: str, e: Any) -> BilledNote:
    """A billed note read with `_LINE_COLUMNS` only: its record has what its lines need and stand-ins for
    the rest (`KeyId` empty, `CreatedAt` and `DateToUtc` its start), so it is never written back."""
    start = e["DateFromUtc"]
    known = {"PartitionKey": tenant, "Kind": POSITION_NOTE, "KeyId": "", "CreatedAt": start, "DateToUtc": start}
    return _billed({**e, **known}, e.metadata)


def _note_from(e: Any) -> BilledNote:
    return _billed(e, e.metadata)


def _billed(e: Any, metadata: Any) -> BilledNote:
    billing = None
    if e.get("DraftNumber") is not None and e.get("BillAmount") is not None:
        percent = e.get("BillSurchargePercent")
        surcharge = e.get("BillSurcharge")
        billing = NoteBilling(
            draft_number=int(plain(e["DraftNumber"])),
            customer_id=int(plain(e["BillCustomerId"])),
            contract_id=int(plain(e["BillContractId"])),
            product_number=e["BillProductNumber"],
            hourly_rate=Decimal(e["BillRate"]),
            minutes=int(e["BillMinutes"]),
            amount=Decimal(e["BillAmount"]),
            surcharge_percent=Decimal(percent) if percent is not None else None,
            surcharge=Decimal(surcharge) if surcharge is not None else None,
            description=e.get("BillDescription"),
            surcharge_description=e.get("BillSurchargeText"),
        )
    return BilledNote(from_entity(e), billing, metadata["etag"])


HEADER_FIELDS = {"MergedFrom": "draftIds", "Customer": "customer", "Accounting": "accounting"}
"""What a draft header's larger properties come from, for a 413 naming it (`check_entity`)."""


def _header_entity(h: DraftHeader) -> dict[str, Any]:
    c = h.customer
    entity: dict[str, Any] = {
        "PartitionKey": h.tenant,
        "RowKey": draft_row(h.number),
        "Kind": KIND_DRAFT,
        "Number": int64(h.number),
        "Status": h.status,
        "CustomerId": int64(c.customer_id),
        "Customer": json.dumps(
            {
                "id": c.customer_id,
                "name": c.name,
                "accountingSystemId": c.accounting_system_id,
                "billingEmail": c.billing_email,
                "currency": c.currency,
            },
            ensure_ascii=False,
        ),
        "PeriodFrom": str(h.period_from),
        "PeriodTo": str(h.period_to),
        "CreatedAt": h.created_at,
        "UpdatedAt": h.updated_at,
        "Minutes": int64(h.totals.minutes),
        "TimeTotal": str(h.totals.time),
        "SurchargeTotal": str(h.totals.surcharges),
        "ManualTotal": str(h.totals.manual),
        "Net": str(h.totals.net),
        "NoteCount": h.totals.notes,
        "LineCount": h.totals.lines,
        "MergedFrom": json.dumps(list(h.merged_from)),
        "Accounting": json.dumps(h.accounting.as_dict(), ensure_ascii=False),
    }
    if h.merged_into is not None:
        entity["MergedInto"] = int64(h.merged_into)
    if h.origin is not None:
        entity["Origin"] = h.origin
    check_entity(entity, HEADER_FIELDS)
    return entity


def _header_from(e: Any) -> DraftHeader:
    c = json.loads(e["Customer"])
    merged_into = e.get("MergedInto")
    return DraftHeader(
        tenant=e["PartitionKey"],
        number=int(plain(e["Number"])),
        status=e["Status"],
        customer=Customer(c["id"], readable(c["name"]), c["accountingSystemId"], c["billingEmail"], c["currency"]),
        period_from=Period.parse(e["PeriodFrom"]),
        period_to=Period.parse(e["PeriodTo"]),
        created_at=e["CreatedAt"],
        updated_at=e["UpdatedAt"],
        totals=Totals(
            minutes=int(plain(e["Minutes"])),
            time=Decimal(e["TimeTotal"]),
            surcharges=Decimal(e["SurchargeTotal"]),
            notes=int(e["NoteCount"]),
            lines=int(e["LineCount"]),
            manual=Decimal(e.get("ManualTotal", "0.00")),
        ),
        merged_into=int(plain(merged_into)) if merged_into is not None else None,
        merged_from=tuple(json.loads(e.get("MergedFrom", "[]"))),
        accounting=AccountingState.of(json.loads(e.get("Accounting", "{}"))),
        version=e.metadata["etag"],
        origin=e.get("Origin"),
    )


def _with_version(header: DraftHeader, etag: object) -> DraftHeader:
    return replace(header, version=etag)
