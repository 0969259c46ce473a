"""Throttle logs in the `Throttle` table: PartitionKey = connection (key id), RowKey = "window".

The log is one binary property: the base time in milliseconds (an Int64 property) and one
unsigned 32-bit millisecond offset per admission. At the largest allowed limit (10,000 calls) that
is 40 KB, inside Table storage's 64 KiB property limit.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.storage import repository
from shared.repositories.entity import int64, plain

ROW = "window"


def encode(stamps: list[int]) -> tuple[int, bytes]:
    if not stamps:
        return 0, b""
    base = stamps[0]
    return base, array("I", (t - base for t in stamps)).tobytes()


def decode(base: int, blob: bytes) -> list[int]:
    offsets = array("I")
    offsets.frombytes(blob)
    return [base + o for o in offsets]


@repository
class TableWindowStore:
    def __init__(self, table: Callable[[], TableClient]) -> None:
        self._table = table

    def load(self, key: str) -> tuple[list[int], object | None]:
        try:
            entity = self._table().get_entity(key, ROW)
        except ResourceNotFoundError:
            return [], None
        blob = entity.get("Stamps") or b""
        return decode(int(plain(entity.get("BaseMs", 0))), bytes(blob)), entity.metadata["etag"]

    def save(self, key: str, stamps: list[int], version: object | None) -> object | None:
        base, blob = encode(stamps)
        entity: dict[str, Any] = {
            "PartitionKey": key,
            "RowKey": ROW,
            "BaseMs": int64(base),
            "Stamps": blob,
        }
        try:
            if version is None:
                metadata = self._table().create_entity(entity)
            else:
                metadata = self._table().update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=str(version),
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError):
            return None
        etag: object = metadata["etag"]
        return etag
