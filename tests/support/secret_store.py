"""Helpers for the secrets tests (tests/unit/test_secrets.py, tests/integration/test_keyvault.py): a
monotonic clock moved by hand, secrets read from app settings, and a wait for another thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from shared.platform.secrets import EnvironmentSource, Secrets, SecretStore

TTL = 3600.0


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def secrets_from(env: dict[str, str]) -> Secrets:
    """Secrets read from app settings `env`, as when no Key Vault is configured."""
    return Secrets(SecretStore(EnvironmentSource(env), ttl=TTL, max_staleness=TTL))


def wait_until(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(1000):
        if condition():
            return
        event.wait(0.005)
    raise AssertionError("condition not reached")
