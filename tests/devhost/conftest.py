"""Shared fixtures: the sample app served by devhost, on the session's Azurite (`tests/conftest.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError

from devhost.processes import Azurite, run_devhost
from tests.support.devhost_helpers import (
    BODY_LIMIT,
    SampleHost,
    TimerHost,
    make_script_root,
    timer_env,
    wait_until,
)


def _serve_sample(azurite: Azurite, root: Path, *, message_encoding: str) -> Iterator[SampleHost]:
    script_root = make_script_root(root / "app", message_encoding=message_encoding)
    queue_name = f"devhost-{message_encoding}-{uuid.uuid4().hex[:10]}"
    deliveries = root / "deliveries.jsonl"
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "SAMPLE_QUEUE": queue_name,
        "SAMPLE_DELIVERIES": str(deliveries),
        "SAMPLE_OVERRIDDEN": "env-value",
        "DEVHOST_MAX_BODY_BYTES": str(BODY_LIMIT),
    }
    with run_devhost(env=env, app="sample_app:app", script_root=script_root) as devhost:
        host = SampleHost(devhost, azurite.connection_string, queue_name, deliveries)

        def queue_exists() -> bool:
            # devhost creates the queue it polls; the tests never do.
            try:
                host.queue(encode_base64=False).get_queue_properties()
            except ResourceNotFoundError:
                return False
            return True

        wait_until(queue_exists, what=f"devhost to create queue {queue_name}")
        yield host


@pytest.fixture(scope="session")
def sample_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleHost]:
    """The sample app with host.json `messageEncoding: base64` (the platform default)."""
    yield from _serve_sample(azurite, tmp_path_factory.mktemp("base64"), message_encoding="base64")


@pytest.fixture(scope="session")
def plain_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleHost]:
    """The sample app with host.json `messageEncoding: none`."""
    yield from _serve_sample(azurite, tmp_path_factory.mktemp("plain"), message_encoding="none")


@pytest.fixture(scope="module")
def timer_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimerHost]:
    """The sample app with its every-second timers bound, started afresh for each test module."""
    root = tmp_path_factory.mktemp("timers")
    runs = root / "timer-runs.jsonl"
    script_root = make_script_root(root / "app", message_encoding="base64")
    with run_devhost(
        env=timer_env(azurite.connection_string, runs), app="sample_app:app", script_root=script_root
    ) as devhost:
        yield TimerHost(devhost, runs)
