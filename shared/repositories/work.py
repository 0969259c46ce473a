"""Work records in the `Work` table: PartitionKey = tenant (a tenant only ever reads its own
partition), RowKey = record id. Times are stored as UTC date-times (filterable) plus the offset the
caller used, so the record reads back in the caller's local time. Each record is written in one
transaction with its index rows and its connection's totals (`shared.repositories.work_index`)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.adapters.storage import check_entity, repository
from shared.errors import Unavailable
from shared.repositories.entity import int64, plain
from shared.repositories.odata import all_of, eq, literal
from shared.repositories.work_index import (
    INDEX_COLUMNS,
    KIND_TOTALS,
    MARKER_ROW,
    add_to_totals,
    entry_from,
    index_entities,
    range_filter,
    totals_from,
    totals_row,
    window_bounds,
)
from shared.text import readable
from shared.work import IndexEntry, Kind, WorkQuery, WorkRecord, WorkTotals

PARALLEL_READS = 16
_ATTEMPTS = 30

_IDS = {
    "TicketId": "ticket_id",
    "TicketPositionId": "ticket_position_id",
    "ServiceContractId": "service_contract_id",
    "ProjectId": "project_id",
    "ProjectPhaseId": "project_phase_id",
    "ProjectPhaseTaskId": "project_phase_task_id",
}
_TEXTS = {"BookText": "book_text", "NoteText": "note_text", "Hint": "hint", "Username": "username"}


@repository
class TableWorkRepository:
    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table

    def add(self, record: WorkRecord) -> bool:
        """The record, its index rows and its connection's totals, all or none (one transaction); the
        totals row is ETag-conditional, so a concurrent write of the same row makes this one retry."""
        table = self._table()
        record = from_entity(to_entity(record))  # as it reads back (whole seconds of pause, say)
        row = totals_row(record.key_id, record.record_id)
        for attempt in range(_ATTEMPTS):
            current = _get(table, record.tenant, row)
            totals = add_to_totals(record.tenant, row, record.key_id, current, [record])
            operations: list[Any] = [("create", to_entity(record))]
            operations += [("create", e) for e in index_entities(record)]
            operations.append(put_operation(totals, current))
            try:
                table.submit_transaction(operations)
            except TableTransactionError as error:
                if not condition_failed(error):
                    raise
                if _get(table, record.tenant, record.record_id) is not None:
                    return False
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            return True
        raise Unavailable("the totals of this connection are being written by too many calls at once", retry_after=1)

    def get(self, tenant: str, record_id: str) -> WorkRecord | None:
        try:
            return from_entity(self._table().get_entity(tenant, record_id))
        except ResourceNotFoundError:
            return None

    def query(self, tenant: str, query: WorkQuery) -> list[WorkRecord]:
        clauses = [eq("PartitionKey", tenant), _kinds(query.kinds)]
        clauses += _filters(query)
        return [from_entity(e) for e in self._table().query_entities(all_of(*clauses))]

    def count(self, tenant: str) -> int:
        work = all_of(eq("PartitionKey", tenant), _kinds(WorkQuery().kinds))
        return sum(1 for _ in self._table().query_entities(work, select=["RowKey"]))

    def indexed(self, tenant: str) -> bool:
        return _get(self._table(), tenant, MARKER_ROW) is not None

    def entries(
        self, tenant: str, query: WorkQuery, *, newest_first: bool, limit: int | None = None
    ) -> Iterator[IndexEntry]:
        low, high = window_bounds(newest_first, query.starts_at_or_after, query.ends_at_or_before)
        clauses = range_filter(tenant, low, high)
        clauses.append(" or ".join(eq("RecordKind", kind) for kind in sorted(query.kinds)))
        clauses += _filters(query)
        per_page = min(1000, limit) if limit else 1000
        rows = self._table().query_entities(all_of(*clauses), select=INDEX_COLUMNS, results_per_page=per_page)
        for n, row in enumerate(rows):
            if limit is not None and n >= limit:
                return
            yield entry_from(row)

    def totals(self, tenant: str) -> list[WorkTotals]:
        clauses = [*range_filter(tenant, "s|", "s}"), eq("Kind", KIND_TOTALS)]
        return [t for e in self._table().query_entities(all_of(*clauses)) for t in totals_from(e)]

    def get_many(self, tenant: str, record_ids: Sequence[str]) -> list[WorkRecord]:
        """Point reads in parallel. Not one query with an `or` of RowKeys: Table storage answers that
        by scanning the partition ("Design for querying", learn.microsoft.com/en-us/azure/storage/
        tables/table-storage-design-for-query), which is the cost this index exists to avoid."""
        table = self._table()
        if len(record_ids) <= 1:
            found = [_get(table, tenant, i) for i in record_ids]
        else:
            with ThreadPoolExecutor(min(PARALLEL_READS, len(record_ids))) as pool:
                found = list(pool.map(lambda i: _get(table, tenant, i), record_ids))
        return [from_entity(e) for e in found if e is not None]


def _get(table: TableClient, tenant: str, row: str) -> dict[str, Any] | None:
    try:
        return table.get_entity(tenant, row)
    except ResourceNotFoundError:
        return None


def put_operation(entity: dict[str, Any], current: dict[str, Any] | None) -> tuple[Any, ...]:
    """Create the row, or replace it only if it is still the version `current` was read as."""
    if current is None:
        return ("create", entity)
    etag = current.metadata["etag"]  # type: ignore[attr-defined]
    return (
        "update",
        entity,
        {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified},
    )


def condition_failed(error: HttpResponseError) -> bool:
    """A create that found the row, or a conditional update that found another version."""
    code = str(getattr(error, "error_code", None) or "")
    return error.status_code in (409, 412) or code in {"EntityAlreadyExists", "UpdateConditionNotSatisfied"}


def _filters(query: WorkQuery) -> list[str]:
    """The query's window and id filters, as records and their index rows both carry them."""
    clauses = []
    if query.starts_at_or_after is not None:
        clauses.append(f"DateFromUtc ge {literal(query.starts_at_or_after)}")
    if query.ends_at_or_before is not None:
        clauses.append(f"DateToUtc le {literal(query.ends_at_or_before)}")
    for name, value in (
        ("TicketId", query.ticket_id),
        ("ServiceContractId", query.service_contract_id),
        ("ProjectId", query.project_id),
    ):
        if value is not None:
            clauses.append(eq(name, value))
    if query.no_invoice is not None:
        clauses.append(eq("NoInvoice", query.no_invoice))
    return clauses


def _kinds(kinds: frozenset[Kind]) -> str:
    # The partition also holds invoicing rows (drafts, the draft counter): never read them as work.
    return " or ".join(eq("Kind", kind) for kind in sorted(kinds))


def to_entity(r: WorkRecord) -> dict[str, Any]:
    offset_from = r.date_from.utcoffset() or timedelta(0)
    offset_to = r.date_to.utcoffset() or timedelta(0)
    entity: dict[str, Any] = {
        "PartitionKey": r.tenant,
        "RowKey": r.record_id,
        "Kind": r.kind,
        "KeyId": r.key_id,
        "RecordedBy": r.recorded_by,
        "CreatedAt": r.created_at,
        "DateFromUtc": r.date_from.astimezone(UTC),
        "DateToUtc": r.date_to.astimezone(UTC),
        "OffsetMinutes": int(offset_from.total_seconds() // 60),
        "OffsetToMinutes": int(offset_to.total_seconds() // 60),
        "PauseSeconds": int(r.pause.total_seconds()),
        "NoInvoice": r.no_invoice,
        "ExtraCharge": r.extra_charge,
    }
    if r.quantity is not None:
        entity["Quantity"] = str(r.quantity)
    for column, attr in _IDS.items():
        value = getattr(r, attr)
        if value is not None:
            entity[column] = int64(value)
    for column, attr in _TEXTS.items():
        value = getattr(r, attr)
        if value is not None:
            entity[column] = value
    check_entity(entity, {column: _camel(attr) for column, attr in _TEXTS.items()})
    return entity


def _camel(attr: str) -> str:
    head, *rest = attr.split("_")
    return head + "".join(part.capitalize() for part in rest)


def from_entity(e: dict[str, Any]) -> WorkRecord:
    tz_from = timezone(timedelta(minutes=int(e.get("OffsetMinutes", 0))))
    tz_to = timezone(timedelta(minutes=int(e.get("OffsetToMinutes", e.get("OffsetMinutes", 0)))))
    quantity = e.get("Quantity")
    created: datetime = e["CreatedAt"]
    ids: dict[str, int] = {attr: int(plain(e[col])) for col, attr in _IDS.items() if e.get(col) is not None}
    # readable(): a lone surrogate stored before the edge refused it must not make the row unreadable.
    texts: dict[str, str] = {attr: readable(e[col]) for col, attr in _TEXTS.items() if e.get(col) is not None}
    draft = e.get("DraftNumber")
    return WorkRecord(
        tenant=e["PartitionKey"],
        record_id=e["RowKey"],
        kind=e["Kind"],
        key_id=e["KeyId"],
        recorded_by=e.get("RecordedBy", ""),
        created_at=created,
        date_from=e["DateFromUtc"].astimezone(tz_from),
        date_to=e["DateToUtc"].astimezone(tz_to),
        pause=timedelta(seconds=int(e.get("PauseSeconds", 0))),
        no_invoice=bool(e.get("NoInvoice", False)),
        extra_charge=bool(e.get("ExtraCharge", False)),
        quantity=Decimal(quantity) if quantity is not None else None,
        draft_number=int(plain(draft)) if draft is not None else None,
        **ids,  # type: ignore[arg-type]
        **texts,  # type: ignore[arg-type]
    )
