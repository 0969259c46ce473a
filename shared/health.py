"""Readiness: the app is healthy when its storage answers."""

from __future__ import annotations

from dataclasses import dataclass

from shared.adapters.storage import StorageAccount


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str


def check_storage(storage: StorageAccount) -> Health:
    try:
        storage.ping()
    except Exception as error:
        # The exception's text can carry endpoint details; the type is enough to act on.
        return Health(False, f"Table storage is unreachable ({type(error).__name__}).")
    return Health(True, "Table storage is reachable.")
