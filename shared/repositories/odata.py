"""OData filter building with quoting done in one place (never format user input into a filter)."""

from __future__ import annotations

from datetime import UTC, datetime


def literal(value: str | int | bool | datetime) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}L"
    if isinstance(value, datetime):
        return f"datetime'{value.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"
    return "'" + value.replace("'", "''") + "'"


def eq(field: str, value: str | int | bool | datetime) -> str:
    return f"{field} eq {literal(value)}"


def all_of(*clauses: str) -> str:
    return " and ".join(f"({c})" for c in clauses if c)
