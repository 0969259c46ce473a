"""Per-tenant state of the invoice-number sync in the `AccountingSync` table: PartitionKey = tenant,
RowKey = "invoices". One row holds the watermark (the highest `bookedInvoiceNumber` already read), the
lease that keeps two runs of one tenant apart, and the outcome of the last run. Every write after the
first is conditional on the row's ETag.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.accounting.ports import SyncState
from shared.adapters.storage import repository
from shared.repositories.entity import int64, plain
from shared.repositories.odata import eq

ROW = "invoices"
MAX_RESULT = 30_000


@repository
class TableSyncStates:
    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table

    def get(self, tenant: str) -> SyncState | None:
        try:
            return _from_entity(self._table().get_entity(tenant, ROW))
        except ResourceNotFoundError:
            return None

    def put(self, state: SyncState) -> SyncState | None:
        """Creates the row (`state.version` None) or replaces it if unchanged since read; None otherwise."""
        try:
            if state.version is None:
                metadata = self._table().create_entity(_to_entity(state))
            else:
                metadata = self._table().update_entity(
                    _to_entity(state),
                    mode=UpdateMode.REPLACE,
                    etag=str(state.version),
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return None
        return replace(state, version=metadata.get("etag"))

    def tenants(self) -> list[str]:
        rows = self._table().query_entities(eq("RowKey", ROW), select=["PartitionKey"])
        return sorted({str(e["PartitionKey"]) for e in rows})


def _to_entity(state: SyncState) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": state.tenant, "RowKey": ROW}
    if state.watermark is not None:
        entity["Watermark"] = int64(state.watermark)
    for column, value in (
        ("LastRunAt", state.last_run_at),
        ("LastSuccessAt", state.last_success_at),
        ("RunningUntil", state.running_until),
    ):
        if value is not None:
            entity[column] = value
    if state.run_id:
        entity["RunId"] = state.run_id
    if state.last_error:
        entity["LastError"] = state.last_error[:2000]
    if state.last_result:
        entity["LastResult"] = fitted(state.last_result)
    return entity


def fitted(result: Mapping[str, Any], limit: int = MAX_RESULT) -> str:
    """The result as JSON of at most `limit` characters (a Table storage string property holds 32K): long
    lists are cut, and `omitted` says how many entries of each were left out. Always valid JSON."""
    text = json.dumps(result, ensure_ascii=False)
    keep = 500
    while len(text) > limit and keep > 0:
        lists = {k: v for k, v in result.items() if isinstance(v, list) and len(v) > keep}
        trimmed = {**{k: (v[:keep] if k in lists else v) for k, v in result.items()}}
        trimmed["omitted"] = {k: len(v) - keep for k, v in lists.items()}
        text = json.dumps(trimmed, ensure_ascii=False)
        keep //= 2
    if len(text) > limit:
        return json.dumps({"omitted": {k: len(v) for k, v in result.items() if isinstance(v, list)}})
    return text


def _from_entity(e: Any) -> SyncState:
    watermark = e.get("Watermark")
    try:
        result = json.loads(e.get("LastResult") or "{}")
    except ValueError:
        result = {}
    return SyncState(
        tenant=e["PartitionKey"],
        watermark=int(plain(watermark)) if watermark is not None else None,
        last_run_at=e.get("LastRunAt"),
        last_success_at=e.get("LastSuccessAt"),
        last_error=e.get("LastError") or None,
        last_result=result if isinstance(result, dict) else {},
        running_until=e.get("RunningUntil"),
        run_id=e.get("RunId") or None,
        version=e.metadata["etag"],
    )
