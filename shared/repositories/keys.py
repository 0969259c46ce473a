"""API keys in the `ApiKeys` table: PartitionKey = key id (point reads on every call), RowKey = "key"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.storage import repository
from shared.platform.keys import LEGACY_SHA256, ApiKey
from shared.repositories.odata import eq

ROW = "key"


@repository
class TableKeyRepository:
    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table

    def get(self, key_id: str) -> ApiKey | None:
        try:
            return _from_entity(self._table().get_entity(key_id, ROW))
        except ResourceNotFoundError:
            return None

    def add(self, key: ApiKey) -> None:
        self._table().create_entity(_to_entity(key))

    def save(self, key: ApiKey) -> None:
        self._table().upsert_entity(_to_entity(key), mode=UpdateMode.REPLACE)

    def update_digest(self, key_id: str, digest: str, hash_algorithm: str) -> None:
        # MERGE touches only these two properties, so a revoke written meanwhile (RevokedAt) stays.
        entity = {"PartitionKey": key_id, "RowKey": ROW, "Digest": digest, "HashAlgorithm": hash_algorithm}
        self._table().update_entity(entity, mode=UpdateMode.MERGE)

    def list_for_tenant(self, tenant: str) -> list[ApiKey]:
        return [_from_entity(e) for e in self._table().query_entities(eq("Tenant", tenant))]


def _to_entity(key: ApiKey) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": key.key_id,
        "RowKey": ROW,
        "Tenant": key.tenant,
        "Name": key.name,
        "Rights": ",".join(sorted(key.rights)),
        "Limit": key.limit,
        "PeriodSeconds": key.period_seconds,
        "Digest": key.digest,
        "HashAlgorithm": key.hash_algorithm,
        "CreatedAt": key.created_at,
    }
    if key.revoked_at is not None:
        entity["RevokedAt"] = key.revoked_at
    if key.email:
        entity["Email"] = key.email
    return entity


def _from_entity(e: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=e["PartitionKey"],
        tenant=e["Tenant"],
        name=e.get("Name", ""),
        rights=frozenset(r for r in e.get("Rights", "").split(",") if r),
        limit=int(e["Limit"]),
        period_seconds=int(e["PeriodSeconds"]),
        digest=e["Digest"],
        hash_algorithm=e.get("HashAlgorithm", LEGACY_SHA256),
        created_at=e["CreatedAt"],
        revoked_at=e.get("RevokedAt"),
        email=e.get("Email") or None,
    )
