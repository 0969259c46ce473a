"""Settings read once from the environment (app settings in Azure, local.settings.json locally)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(RuntimeError):
    """A setting is missing or malformed. The message names the setting, never its value."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"setting {name} must be a whole number") from None
    if value < minimum:
        raise ConfigError(f"setting {name} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    storage_connection: str = "AzureWebJobsStorage"
    """Name of the connection (Functions convention) that holds the app's tables and queues."""
    table_prefix: str = ""
    """Prefix for every table name; lets several deployments (or test runs) share one account."""
    default_timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Berlin"))
    throttle_limit: int = 100
    throttle_period_seconds: int = 60
    idempotency_ttl_seconds: int = 24 * 3600
    idempotency_lease_seconds: int = 30
    key_cache_seconds: int = 15
    max_body_bytes: int = 1024 * 1024
    invoicing_lease_seconds: int = 300
    """How long an invoicing run's unfinished draft holds its notes before the next run voids it."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        tz_name = env.get("DEFAULT_TIMEZONE") or "Europe/Berlin"
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("setting DEFAULT_TIMEZONE must be an IANA zone such as Europe/Berlin") from None
        prefix = env.get("TABLE_PREFIX", "")
        if prefix and not (prefix.isascii() and prefix.isalnum() and prefix[0].isalpha()):
            raise ConfigError("setting TABLE_PREFIX must be letters and digits, starting with a letter")
        return cls(
            storage_connection=env.get("STORAGE_CONNECTION") or "AzureWebJobsStorage",
            table_prefix=prefix,
            default_timezone=tz,
            throttle_limit=_int(env, "THROTTLE_LIMIT", 100),
            throttle_period_seconds=_int(env, "THROTTLE_PERIOD_SECONDS", 60),
            idempotency_ttl_seconds=_int(env, "IDEMPOTENCY_TTL_SECONDS", 24 * 3600),
            idempotency_lease_seconds=_int(env, "IDEMPOTENCY_LEASE_SECONDS", 30),
            key_cache_seconds=_int(env, "API_KEY_CACHE_SECONDS", 15, minimum=0),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024),
            invoicing_lease_seconds=_int(env, "INVOICING_LEASE_SECONDS", 300),
        )
