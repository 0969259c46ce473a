"""e-conomic's published JSON schemas (draft-03), read from the directory the stand-in was given: the
validators of write bodies, what a collection may be filtered and sorted on, what a booked invoice
keeps of its draft."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft3Validator

# --- schemas ----------------------------------------------------------------------------------------


@cache
def _schema(schema_dir: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schema_dir / f"{name}.schema.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _validator(schema_dir: Path, name: str) -> Draft3Validator:
    return Draft3Validator(_schema(schema_dir, name))


def _flagged(schema: Mapping[str, Any], flag: str, prefix: str = "") -> list[str]:
    """The dotted names of the properties (objects' included, arrays' not) the schema marks `flag`."""
    fields: list[str] = []
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if sub.get(flag):
            fields.append(prefix + name)
        if sub.get("type") == "object":
            fields.extend(_flagged(sub, flag, f"{prefix}{name}."))
    return fields


def _filterable(schema: Mapping[str, Any]) -> list[str]:
    return _flagged(schema, "filterable")


def _sortable(schema: Mapping[str, Any]) -> list[str]:
    return _flagged(schema, "sortable")


def _project(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` keeping only what `schema` describes: an object's properties the schema names (in the
    schema's order), an array's items likewise; a value the schema says nothing more about as it is."""
    properties = schema.get("properties")
    if isinstance(value, dict) and isinstance(properties, dict):
        return {
            name: _project(value[name], sub if isinstance(sub, dict) else {})
            for name, sub in properties.items()
            if name in value
        }
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        return [_project(item, items) for item in value]
    return copy.deepcopy(value)


BOOKED_SCHEMA = "invoices.booked.bookedInvoiceNumber.get"


@cache
def _booked_fields(schema_dir: Path) -> tuple[str, ...]:
    """The top-level fields of a booked invoice, in the order e-conomic's schema lists them."""
    return tuple(_schema(schema_dir, BOOKED_SCHEMA)["properties"])
