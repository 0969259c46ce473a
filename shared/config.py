"""Settings read once from the environment (app settings in Azure, local.settings.json locally)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit
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


def _https_url(env: Mapping[str, str], name: str, example: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        valid = parts.scheme == "https" and bool(parts.hostname) and parts.port != 0
    except ValueError:
        valid = False
    if not valid or parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(f"setting {name} must be an https URL such as {example}")
    return raw


def _service_url(env: Mapping[str, str], name: str, default: str) -> str:
    """An https base URL; plain http only for this machine (the local e-conomic stand-in)."""
    raw = (env.get(name) or "").strip() or default
    try:
        parts = urlsplit(raw)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        valid = (parts.scheme == "https" or (parts.scheme == "http" and local)) and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid or parts.query or parts.fragment or parts.username:
        raise ConfigError(f"setting {name} must be an https URL such as {default}")
    return raw.rstrip("/")


ECONOMIC_BASE_URL = "https://restapi.e-conomic.com"
ACCOUNTING_SYNC_SCHEDULE = "0 15 * * * *"
"""Default of the app setting ACCOUNTING_SYNC_SCHEDULE: the invoice-number sync runs hourly at minute 15."""


_CRON_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
"""Seconds, minutes, hours, day of month, month, day of week (0 Sunday to 6 Saturday): NCRONTAB's
six fields, as the timer extension's NCrontab parses them."""
NCRONTAB_NAMES: dict[int, tuple[tuple[str, ...], int]] = {
    4: (
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        1,
    ),
    5: (("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"), 0),
}
"""Six-field index -> (names, number of the first name), as NCrontab's `CrontabFieldImpl` declares them:
months and days of the week may be named."""


def ncrontab_name(index: int, word: str) -> int | None:
    """The number NCrontab reads for `word` in field `index`: the first name it is a prefix of, ignoring
    case (`CrontabFieldImpl.ParseValue`); None where no name fits or the field takes no names."""
    names, first = NCRONTAB_NAMES.get(index, ((), 0))
    return next((first + offset for offset, name in enumerate(names) if name.lower().startswith(word.lower())), None)


def _valid_schedule(text: str) -> bool:
    """A six-field NCRONTAB expression as NCrontab reads it: values, `*`, ranges, lists and steps; numbers
    in range; names (or their prefixes) only for months and days of the week; no `?`, `L`, `#`. A
    TimeSpan such as 01:00:00 is not taken: the Flex Consumption plan refuses non-CRON schedules."""
    fields = text.split()
    if len(fields) != 6:
        return False
    for index, (field_text, (low, high)) in enumerate(zip(fields, _CRON_RANGES, strict=True)):
        if not re.fullmatch(r"[0-9A-Za-z*/,\-]+", field_text, re.ASCII):
            return False
        numeric = field_text
        for word in re.findall(r"[A-Za-z]+", field_text):
            value = ncrontab_name(index, word)
            if value is None:
                return False  # a letter where no name may stand, or no name's prefix
            numeric = numeric.replace(word, str(value), 1)
        for item in numeric.split(","):
            base, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) >= 1):
                return False
            bounds = [] if base == "*" else base.split("-")
            if len(bounds) > 2 or not all(b.isdigit() and low <= int(b) <= high for b in bounds):
                return False
    return True


def sync_schedule(env: Mapping[str, str] | None = None) -> str:
    """The timer's schedule: ACCOUNTING_SYNC_SCHEDULE (an NCRONTAB expression with seconds, e.g.
    `0 */30 * * * *`), else hourly. Read when the app is indexed; a
    value of the wrong shape is logged and the default used, so one bad setting cannot stop every
    other function of the app from loading."""
    env = os.environ if env is None else env
    raw = (env.get("ACCOUNTING_SYNC_SCHEDULE") or "").strip()
    if not raw:
        return ACCOUNTING_SYNC_SCHEDULE
    if _valid_schedule(raw):
        return raw
    logging.getLogger("invoice_bridge.config").error(
        "setting ACCOUNTING_SYNC_SCHEDULE must be an NCRONTAB expression with six fields (seconds first, "
        "days of the week 0-6 or names, no '?'; a TimeSpan is not run on the Flex Consumption plan); using %s",
        ACCOUNTING_SYNC_SCHEDULE,
    )
    return ACCOUNTING_SYNC_SCHEDULE


EXPORT_QUEUE = "economic-export"
"""The export's queue; host.json's `maxDequeueCount` attempts later a message goes to `economic-export-poison`."""


# Secrets: Microsoft asks to cache secrets read from Key Vault in memory and to re-read them only when
# the cached copy stops working (https://learn.microsoft.com/azure/key-vault/general/overview-throttling);
# Key Vault references in app settings pick up a new version within 24 hours
# (https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#rotation).
# So: re-read hourly (a rotation is seen within the hour, ~24 reads a day per secret and instance), force
# a re-read when a token is refused (`stale=`), and ride out a vault outage for as long as the platform's
# own references would serve an old value: 24 hours.
SECRET_CACHE_SECONDS = 3600
SECRET_MAX_STALENESS_SECONDS = 24 * 3600


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
    key_vault_url: str | None = None
    """Secrets come from this vault when set, else from app settings (`shared.platform.secrets`)."""
    secret_cache_seconds: int = SECRET_CACHE_SECONDS
    secret_max_staleness_seconds: int = SECRET_MAX_STALENESS_SECONDS
    invoicing_lease_seconds: int = 300
    """How long an invoicing run's unfinished draft holds its notes before the next run voids it."""
    economic_base_url: str = ECONOMIC_BASE_URL
    economic_max_attempts: int = 6
    """Tries per e-conomic request (429, 5xx, no answer) before the job attempt gives up."""
    economic_backoff_ms: int = 500
    sync_page_size: int = 1000
    """Booked invoices per page the accounting sync asks e-conomic for (at most 1000)."""
    """First back-off step between tries; doubles per try, at least the answer's Retry-After."""
    export_concurrency: int = 8
    """Documents created in e-conomic at once by one export job."""
    export_max_attempts: int = 5
    """Must equal host.json's `extensions.queues.maxDequeueCount` (a test checks): the attempt that
    rolls back and marks the job poisoned before the host moves the message to the poison queue."""

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
            key_vault_url=_https_url(env, "KEY_VAULT_URL", "https://<vault>.vault.azure.net/"),
            secret_cache_seconds=(cache := _int(env, "SECRET_CACHE_SECONDS", SECRET_CACHE_SECONDS, minimum=0)),
            secret_max_staleness_seconds=_max_staleness(env, cache),
            invoicing_lease_seconds=_int(env, "INVOICING_LEASE_SECONDS", 300),
            economic_base_url=_service_url(env, "ECONOMIC_BASE_URL", ECONOMIC_BASE_URL),
            export_concurrency=_int(env, "EXPORT_CONCURRENCY", 8),
            economic_max_attempts=_int(env, "ECONOMIC_MAX_ATTEMPTS", 6),
            economic_backoff_ms=_int(env, "ECONOMIC_BACKOFF_MS", 500),
            sync_page_size=_page_size(env, "ACCOUNTING_SYNC_PAGE_SIZE"),
        )


def _page_size(env: Mapping[str, str], name: str) -> int:
    size = _int(env, name, 1000)
    if size > 1000:
        raise ConfigError(f"setting {name} must be at most 1000 (e-conomic's largest page)")
    return size


def _max_staleness(env: Mapping[str, str], cache: int) -> int:
    staleness = _int(env, "SECRET_MAX_STALENESS_SECONDS", max(SECRET_MAX_STALENESS_SECONDS, cache), minimum=0)
    if staleness < cache:
        raise ConfigError("setting SECRET_MAX_STALENESS_SECONDS must be at least SECRET_CACHE_SECONDS")
    return staleness
