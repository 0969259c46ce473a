"""What the Functions host reads before it starts: `local.settings.json` and `host.json`."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.config import ConfigError
from shared.local_settings import get_setting, read_json_object

log = logging.getLogger("devhost")

DEFAULT_ROUTE_PREFIX = "api"
MAX_QUEUE_BATCH_SIZE = 32
"""The Queue service returns at most 32 messages per request; the extension rejects larger batchSize."""
MIN_POLLING_INTERVAL_SECONDS = 0.1
"""`QueuePollingIntervals.Minimum` in the queue extension: the first back-off step, and the smallest
`maxPollingInterval` it accepts."""


# A settings file is unreadable or holds a value the platform would reject.
ConfigurationError = ConfigError


# --- host.json ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueOptions:
    """`extensions.queues` of host.json, with the defaults of the Storage queues extension (5.x).

    See Microsoft's "Azure Queue storage trigger and bindings" host.json reference and `QueuesOptions`
    in Microsoft.Azure.WebJobs.Extensions.Storage.Queues.
    """

    batch_size: int = 16
    """Messages fetched per request (1-32)."""
    new_batch_threshold: int = 8
    """A new batch is fetched once the messages in flight drop to this number. The extension's default
    is `batchSize / 2 * processorCount`; the processor count is 1 on the Consumption plan."""
    max_polling_interval: float = 60.0
    """Longest wait, in seconds, between polls of an empty queue."""
    visibility_timeout: float = 0.0
    """Seconds a message stays invisible after a failed attempt before it can be retried."""
    max_dequeue_count: int = 5
    """Attempts before a message moves to the poison queue."""
    message_encoding: str = "base64"
    """"base64" (the default since extension 5.0) or "none"."""

    @property
    def max_concurrency(self) -> int:
        """Messages of one queue processed at once: the extension keeps fetching batches of `batchSize`
        while no more than `newBatchThreshold` are in flight, so at most the sum of the two run."""
        return self.batch_size + self.new_batch_threshold


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = DEFAULT_ROUTE_PREFIX
    queues: QueueOptions = field(default_factory=QueueOptions)
    found: bool = False


def load_host_config(path: Path) -> HostConfig:
    """Read the parts of host.json this host honours. Keys are matched case-insensitively, as .NET
    configuration does. A missing file means the platform defaults."""
    if not path.is_file():
        return HostConfig()
    document = read_json_object(path)
    extensions = _section(document, "extensions")
    http = _section(extensions, "http")
    prefix = get_setting(http, "routePrefix")
    if prefix is None:
        route_prefix = DEFAULT_ROUTE_PREFIX
    elif isinstance(prefix, str):
        route_prefix = prefix.strip().strip("/")
    else:
        raise ConfigurationError("host.json: extensions.http.routePrefix must be a string")
    return HostConfig(route_prefix=route_prefix, queues=parse_queue_options(_section(extensions, "queues")), found=True)


def parse_queue_options(section: Mapping[str, Any]) -> QueueOptions:
    defaults = QueueOptions()
    batch_size = _int_setting(section, "batchSize", defaults.batch_size, 1, MAX_QUEUE_BATCH_SIZE)
    threshold = _int_setting(section, "newBatchThreshold", batch_size // 2, 0, None)
    max_dequeue = _int_setting(section, "maxDequeueCount", defaults.max_dequeue_count, 1, None)

    raw_polling = get_setting(section, "maxPollingInterval")
    polling = defaults.max_polling_interval if raw_polling is None else parse_timespan(raw_polling)
    if polling < MIN_POLLING_INTERVAL_SECONDS:
        raise ConfigurationError("host.json: extensions.queues.maxPollingInterval must be at least 00:00:00.1")
    raw_visibility = get_setting(section, "visibilityTimeout")
    visibility = defaults.visibility_timeout if raw_visibility is None else parse_timespan(raw_visibility)
    if visibility < 0:
        raise ConfigurationError("host.json: extensions.queues.visibilityTimeout must not be negative")

    raw_encoding = get_setting(section, "messageEncoding")
    encoding = defaults.message_encoding if raw_encoding is None else str(raw_encoding).strip().lower()
    if encoding not in ("base64", "none"):
        raise ConfigurationError('host.json: extensions.queues.messageEncoding must be "base64" or "none"')
    return QueueOptions(
        batch_size=batch_size,
        new_batch_threshold=threshold,
        max_polling_interval=polling,
        visibility_timeout=visibility,
        max_dequeue_count=max_dequeue,
        message_encoding=encoding,
    )


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")


def parse_timespan(value: object) -> float:
    """Seconds in a .NET TimeSpan string such as "00:01:00", "1.02:03:04" or "00:00:00.5".

    A bare number is refused: .NET would read "30" as 30 *days*, which is never what was meant.
    """
    if isinstance(value, str):
        match = _TIMESPAN.match(value.strip())
        if match:
            days, hours, minutes, seconds, fraction = match.groups()
            if int(hours) < 24 and int(minutes) < 60 and int(seconds or 0) < 60:
                total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
                return total + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
    raise ConfigurationError(f'host.json: {value!r} is not a TimeSpan such as "00:00:30"')


def _int_setting(section: Mapping[str, Any], name: str, default: int, minimum: int, maximum: int | None) -> int:
    value = get_setting(section, name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"host.json: extensions.queues.{name} must be a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        limit = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigurationError(f"host.json: extensions.queues.{name} must be {limit}")
    return value


def _section(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = get_setting(mapping, key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigurationError(f"host.json: {key} must be a JSON object")
    return value
