"""Idempotency claims in the `Idempotency` table: PartitionKey = tenant, RowKey = hash of operation and key."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.idempotency import IdempotencyRecord
from shared.repositories.odata import literal


class TableIdempotencyRepository:
    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table

    def insert(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        try:
            metadata = self._table().create_entity(_to_entity(record))
        except ResourceExistsError:
            return None
        return _with_version(record, metadata)

    def get(self, scope: str, key_hash: str) -> IdempotencyRecord | None:
        try:
            entity = self._table().get_entity(scope, key_hash)
        except ResourceNotFoundError:
            return None
        return IdempotencyRecord(
            scope=scope,
            key_hash=key_hash,
            fingerprint=entity["Fingerprint"],
            status=entity["Status"],
            generation=entity["Generation"],
            lease_until=entity["LeaseUntil"],
            expires_at=entity["ExpiresAt"],
            response_status=int(entity.get("ResponseStatus", 0)),
            response_body=entity.get("ResponseBody", ""),
            version=entity.metadata["etag"],
        )

    def replace(self, record: IdempotencyRecord, version: object) -> IdempotencyRecord | None:
        try:
            metadata = self._table().update_entity(
                _to_entity(record),
                mode=UpdateMode.REPLACE,
                etag=str(version),
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return _with_version(record, metadata)

    def purge_expired(self, now: datetime) -> int:
        """Deletes claims that expired before `now`. Each delete holds only if the row is unchanged
        since this query read it, so a key claimed afresh in the meantime is kept."""
        table = self._table()
        deleted = 0
        for entity in table.query_entities(f"ExpiresAt lt {literal(now)}", select=["PartitionKey", "RowKey"]):
            try:
                table.delete_entity(
                    entity["PartitionKey"],
                    entity["RowKey"],
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            deleted += 1
        return deleted

    def delete(self, record: IdempotencyRecord) -> None:
        with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            self._table().delete_entity(
                record.scope,
                record.key_hash,
                etag=str(record.version),
                match_condition=MatchConditions.IfNotModified,
            )


def _with_version(record: IdempotencyRecord, metadata: Any) -> IdempotencyRecord:
    return replace(record, version=metadata["etag"])


def _to_entity(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        "PartitionKey": record.scope,
        "RowKey": record.key_hash,
        "Fingerprint": record.fingerprint,
        "Status": record.status,
        "Generation": record.generation,
        "LeaseUntil": record.lease_until,
        "ExpiresAt": record.expires_at,
        "ResponseStatus": record.response_status,
        "ResponseBody": record.response_body,
    }
