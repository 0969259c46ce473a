"""Work records in the `Work` table: PartitionKey = tenant (a tenant only ever reads its own
partition), RowKey = record id. Times are stored as UTC date-times (filterable) plus the offset the
caller used, so the record reads back in the caller's local time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient

from shared.adapters.storage import check_entity, repository
from shared.repositories.entity import int64, plain
from shared.repositories.odata import all_of, eq, literal
from shared.text import readable
from shared.work import Kind, WorkQuery, WorkRecord

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
        try:
            self._table().create_entity(to_entity(record))
        except ResourceExistsError:
            return False
        return True

    def get(self, tenant: str, record_id: str) -> WorkRecord | None:
        try:
            return from_entity(self._table().get_entity(tenant, record_id))
        except ResourceNotFoundError:
            return None

    def query(self, tenant: str, query: WorkQuery) -> list[WorkRecord]:
        clauses = [eq("PartitionKey", tenant), _kinds(query.kinds)]
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
        return [from_entity(e) for e in self._table().query_entities(all_of(*clauses))]

    def count(self, tenant: str) -> int:
        work = all_of(eq("PartitionKey", tenant), _kinds(WorkQuery().kinds))
        return sum(1 for _ in self._table().query_entities(work, select=["RowKey"]))


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
