"""Idempotency claims in the `Idempotency` table: PartitionKey = tenant, RowKey = hash of operation and key.

A stored response must fit Table storage's limits: 64 KiB per property (a string counts UTF-16,
so 32K characters), 1 MiB per entity. A short body is one string property, as it always was; a
longer one (an invoicing run over hundreds of customers) is gzipped and split over binary
properties `ResponseBodyGz00`, `ResponseBodyGz01`, ... A body that would not fit even so is replaced
by a short note, so the replay still answers the original status instead of failing the call.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.storage import repository
from shared.platform.idempotency import IdempotencyRecord
from shared.repositories.odata import literal


@repository
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
            response_body=_body_from(entity),
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
        **_body_properties(record.response_body),
    }


MAX_STRING_CHARS = 30_000
"""Below the 32K UTF-16 characters of one string property, leaving room for surrogate pairs."""
CHUNK_BYTES = 64_000
MAX_CHUNKS = 14
"""14 x 64,000 bytes stay well inside an entity's 1 MiB together with the other properties."""
TOO_LARGE = json.dumps(
    {"Message": "The call completed; its response was too large to keep for a replay.", "Success": True}
)


def _body_properties(body: str) -> dict[str, Any]:
    if len(body) <= MAX_STRING_CHARS and len(body.encode("utf-16-le")) <= 2 * MAX_STRING_CHARS:
        return {"ResponseBody": body}
    packed = gzip.compress(body.encode("utf-8"), compresslevel=6, mtime=0)
    chunks = [packed[i : i + CHUNK_BYTES] for i in range(0, len(packed), CHUNK_BYTES)]
    if len(chunks) > MAX_CHUNKS:
        return {"ResponseBody": TOO_LARGE}
    return {f"ResponseBodyGz{n:02d}": chunk for n, chunk in enumerate(chunks)}


def _body_from(entity: Any) -> str:
    if "ResponseBody" in entity:
        return str(entity["ResponseBody"])
    chunks = [bytes(entity[f"ResponseBodyGz{n:02d}"]) for n in range(MAX_CHUNKS) if f"ResponseBodyGz{n:02d}" in entity]
    return gzip.decompress(b"".join(chunks)).decode("utf-8") if chunks else ""
