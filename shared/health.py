"""Readiness: the app is healthy when its storage answers and it can check API keys (the pepper is
readable). Secrets that only the export needs are not part of it: their absence stops one job, not
every call."""

from __future__ import annotations

from dataclasses import dataclass

from shared.adapters.storage import StorageAccount
from shared.platform.secrets import SecretError, Secrets


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


def check_api_key_pepper(secrets: Secrets) -> Health:
    try:
        secrets.api_key_pepper()
    except SecretError as error:
        return Health(False, error.message)  # names the secret, never its value
    return Health(True, "The API key pepper is readable.")


def check(storage: StorageAccount, secrets: Secrets) -> Health:
    for result in (check_storage(storage), check_api_key_pepper(secrets)):
        if not result.ok:
            return result
    return Health(True, "Table storage is reachable; API keys can be checked.")
