"""`manage work reindex`: index rows and totals (`shared.repositories.work_index`) for the records a
tenant stored before them, then the tenant's `m|indexed` marker, from which on the listing reads the
index instead of scanning the partition.

A record's index rows and its share of the totals are written in one transaction whose index rows are
*created* (they fail if they exist), so a record is counted once however often this runs, in
whatever order with the app's own writes (which index their records as they write them); a
transaction that fails is redone record by record. It can stop anywhere and be run again: it only
does what is left. Run it once every instance runs the code that indexes as it writes.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError

from shared.repositories.odata import all_of, eq
from shared.repositories.work import condition_failed, from_entity, put_operation
from shared.repositories.work_index import (
    KIND_MARKER,
    MARKER_ROW,
    add_to_totals,
    index_entities,
    range_filter,
    totals_row,
)
from shared.work import ACTIVITY_RECORDING, POSITION_NOTE, WorkRecord

RECORDS_PER_TRANSACTION = 30
"""2 index rows each, plus up to 30 totals rows: within the 100 operations of one transaction."""


@dataclass(frozen=True)
class ReindexReport:
    records: int
    already: int
    indexed: int
    marked: bool
    dry_run: bool


def reindex(table: TableClient, tenant: str, *, dry_run: bool = False) -> ReindexReport:
    kinds = f"{eq('Kind', ACTIVITY_RECORDING)} or {eq('Kind', POSITION_NOTE)}"
    records = [from_entity(e) for e in table.query_entities(all_of(eq("PartitionKey", tenant), kinds))]
    done = {e["RecordId"] for e in table.query_entities(all_of(*range_filter(tenant, "t|", "t}")), select=["RecordId"])}
    missing = [r for r in records if r.record_id not in done]
    marked = _marker(table, tenant) is not None
    if dry_run:
        return ReindexReport(len(records), len(records) - len(missing), len(missing), marked, True)
    indexed = 0
    for i in range(0, len(missing), RECORDS_PER_TRANSACTION):
        indexed += _index(table, tenant, missing[i : i + RECORDS_PER_TRANSACTION])
    if not marked:
        table.upsert_entity({"PartitionKey": tenant, "RowKey": MARKER_ROW, "Kind": KIND_MARKER})
    return ReindexReport(len(records), len(records) - len(missing), indexed, True, False)


def _marker(table: TableClient, tenant: str) -> Any:
    try:
        return table.get_entity(tenant, MARKER_ROW)
    except ResourceNotFoundError:
        return None


def _index(table: TableClient, tenant: str, records: list[WorkRecord]) -> int:
    """Index `records` in one transaction; if it fails, one by one. Returns how many this call indexed."""
    if len(records) > 1 and _try(table, tenant, records):
        return len(records)
    indexed = 0
    for record in records:
        for attempt in range(30):
            if _try(table, tenant, [record]):
                indexed += 1
                break
            first = index_entities(record)[0]
            try:
                table.get_entity(tenant, first["RowKey"])
            except ResourceNotFoundError:  # a totals row changed under us: read it again
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            break  # indexed meanwhile (the app, or another run): counted there
        else:
            raise RuntimeError(f"could not index record {record.record_id}: its totals row is too contended")
    return indexed


def _try(table: TableClient, tenant: str, records: list[WorkRecord]) -> bool:
    groups: dict[tuple[str, str], list[WorkRecord]] = defaultdict(list)
    for r in records:
        groups[(totals_row(r.key_id, r.record_id), r.key_id)].append(r)
    operations: list[Any] = [("create", e) for r in records for e in index_entities(r)]
    for (row, key_id), mine in groups.items():
        try:
            current: Any = table.get_entity(tenant, row)
        except ResourceNotFoundError:
            current = None
        operations.append(put_operation(add_to_totals(tenant, row, key_id, current, mine), current))
    try:
        table.submit_transaction(operations)
    except TableTransactionError as error:
        if condition_failed(error):
            return False
        raise
    return True
