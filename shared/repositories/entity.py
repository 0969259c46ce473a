"""Typed values in Table entities: Int64 goes in and comes back wrapped in `EntityProperty`."""

from __future__ import annotations

from typing import Any

from azure.data.tables import EdmType, EntityProperty


def int64(value: int) -> EntityProperty:
    return EntityProperty(value, EdmType.INT64)


def plain(value: Any) -> Any:
    return value.value if isinstance(value, EntityProperty) else value
