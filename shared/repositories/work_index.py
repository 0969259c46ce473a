"""The listing's index and totals, in the tenant's partition of the `Work` table beside the records.

Table storage keeps a partition sorted by RowKey and nothing else; any other filter or order reads
the whole partition ("Design for querying", https://learn.microsoft.com/en-us/azure/storage/tables/table-storage-design-for-query).
So a record is written together with, in ONE entity group transaction (same PartitionKey, all or
nothing: https://learn.microsoft.com/en-us/rest/api/storageservices/performing-entity-group-transactions):

- `t|<inverted start>|<created>|<record id>` (Kind `WorkIndex`): newest start first, as the
  "Log tail pattern" of the design guide (inverted ticks) keeps a log newest first;
- `u|<start>|<created>|<record id>` (Kind `WorkIndex`): oldest start first ("Index entities pattern");
- its connection's totals row `s|<key digest>|<shard>` (Kind `WorkTotals`), ETag-conditional:
  records and worked minutes per kind and billability. Four shards per connection, chosen by record
  id, so that parallel writes of one connection seldom wait for each other.

Times in keys are microseconds since 0001-01-01 UTC, 18 digits (inverted: 10^18 - 1 minus that), so
the RowKey order is start time, then creation time, then record id: the order the listing sorts by.
An index row copies only what never changes after a record is written (ids, times, minutes, user).
`m|indexed` (Kind `WorkMarker`) says every record written before the new layout is indexed too.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from shared.repositories.entity import int64, plain
from shared.repositories.odata import literal
from shared.work import ACTIVITY_RECORDING, POSITION_NOTE, IndexEntry, Kind, WorkRecord, WorkTotals

KIND_INDEX = "WorkIndex"
KIND_TOTALS = "WorkTotals"
KIND_MARKER = "WorkMarker"
MARKER_ROW = "m|indexed"
SHARDS = 4
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_WIDTH = 18
_TOP = 10**_WIDTH - 1
INDEX_COLUMNS = [
    "RecordId",
    "RecordKind",
    "KeyId",
    "CreatedAt",
    "DateFromUtc",
    "DateToUtc",
    "OffsetMinutes",
    "OffsetToMinutes",
    "Minutes",
    "NoInvoice",
    "UserName",
    "TicketId",
    "ServiceContractId",
    "ProjectId",
]
_COMBOS: list[tuple[Kind, bool]] = [(k, ni) for k in (ACTIVITY_RECORDING, POSITION_NOTE) for ni in (False, True)]


def _micros(value: datetime) -> int:
    return (value.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


def newest_key(at: datetime) -> str:
    """The `t|` prefix of records starting at `at`: smaller keys start later."""
    return f"t|{_TOP - _micros(at):0{_WIDTH}d}"


def oldest_key(at: datetime) -> str:
    return f"u|{_micros(at):0{_WIDTH}d}"


def index_entities(r: WorkRecord) -> list[dict[str, Any]]:
    created = f"{_micros(r.created_at):0{_WIDTH}d}"
    columns: dict[str, Any] = {
        "PartitionKey": r.tenant,
        "Kind": KIND_INDEX,
        "RecordId": r.record_id,
        "RecordKind": r.kind,
        "KeyId": r.key_id,
        "CreatedAt": r.created_at,
        "DateFromUtc": r.date_from.astimezone(UTC),
        "DateToUtc": r.date_to.astimezone(UTC),
        "OffsetMinutes": int((r.date_from.utcoffset() or timedelta(0)).total_seconds() // 60),
        "OffsetToMinutes": int((r.date_to.utcoffset() or timedelta(0)).total_seconds() // 60),
        "Minutes": int64(r.minutes),
        "NoInvoice": r.no_invoice,
        "UserName": r.user_name,
    }
    for column, value in (
        ("TicketId", r.ticket_id),
        ("ServiceContractId", r.service_contract_id),
        ("ProjectId", r.project_id),
    ):
        if value is not None:
            columns[column] = int64(value)
    return [
        {**columns, "RowKey": f"{newest_key(r.date_from)}|{created}|{r.record_id}"},
        {**columns, "RowKey": f"{oldest_key(r.date_from)}|{created}|{r.record_id}"},
    ]


def entry_from(e: dict[str, Any]) -> IndexEntry:
    tz_from = timezone(timedelta(minutes=int(e.get("OffsetMinutes", 0))))
    tz_to = timezone(timedelta(minutes=int(e.get("OffsetToMinutes", 0))))
    ids = {
        attr: int(plain(e[col]))
        for col, attr in (
            ("TicketId", "ticket_id"),
            ("ServiceContractId", "service_contract_id"),
            ("ProjectId", "project_id"),
        )
        if e.get(col) is not None
    }
    return IndexEntry(
        record_id=e["RecordId"],
        kind=e["RecordKind"],
        key_id=e["KeyId"],
        created_at=e["CreatedAt"],
        date_from=e["DateFromUtc"].astimezone(tz_from),
        date_to=e["DateToUtc"].astimezone(tz_to),
        minutes=int(plain(e["Minutes"])),
        no_invoice=bool(e.get("NoInvoice", False)),
        user_name=e["UserName"],
        **ids,
    )


def window_bounds(newest_first: bool, start: datetime | None, end: datetime | None) -> tuple[str, str]:
    """RowKey bounds [low, high) of the index rows whose start is >= `start` and < `end` (a record
    that ends by `end` starts before it)."""
    if newest_first:
        low = f"t|{_TOP - _micros(end) + 1:0{_WIDTH}d}" if end is not None else "t|"
        high = f"t|{_TOP - _micros(start) + 1:0{_WIDTH}d}" if start is not None else "t}"
    else:
        low = oldest_key(start) if start is not None else "u|"
        high = oldest_key(end) if end is not None else "u}"
    return low, high


def range_filter(tenant: str, low: str, high: str) -> list[str]:
    return [f"PartitionKey eq {literal(tenant)}", f"RowKey ge {literal(low)}", f"RowKey lt {literal(high)}"]


def totals_row(key_id: str, record_id: str) -> str:
    digest = hashlib.sha256(key_id.encode()).hexdigest()[:24]
    shard = int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16) % SHARDS
    return f"s|{digest}|{shard}"


def _column(kind: Kind, no_invoice: bool) -> str:
    return f"{kind}{'NoInvoice' if no_invoice else 'Billable'}"


def add_to_totals(
    tenant: str, row: str, key_id: str, current: dict[str, Any] | None, records: list[WorkRecord]
) -> dict[str, Any]:
    """The totals row `row` with `records` added to what it holds now (`current`, None: no row yet)."""
    entity: dict[str, Any] = {"PartitionKey": tenant, "RowKey": row, "Kind": KIND_TOTALS, "KeyId": key_id}
    for kind, no_invoice in _COMBOS:
        name = _column(kind, no_invoice)
        mine = [r for r in records if r.kind == kind and r.no_invoice == no_invoice]
        count = int(plain((current or {}).get(f"Count{name}", 0))) + len(mine)
        minutes = int(plain((current or {}).get(f"Minutes{name}", 0))) + sum(r.minutes for r in mine)
        entity[f"Count{name}"] = int64(count)
        entity[f"Minutes{name}"] = int64(minutes)
    return entity


def totals_from(e: dict[str, Any]) -> list[WorkTotals]:
    return [
        WorkTotals(
            key_id=e["KeyId"],
            kind=kind,
            no_invoice=no_invoice,
            count=int(plain(e.get(f"Count{_column(kind, no_invoice)}", 0))),
            minutes=int(plain(e.get(f"Minutes{_column(kind, no_invoice)}", 0))),
        )
        for kind, no_invoice in _COMBOS
    ]
