"""Helpers for the devhost tests: a script root for the sample app, and a handle on a running host."""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devhost.processes import DevHost

HERE = Path(__file__).resolve().parent
MAX_DEQUEUE_COUNT = 3
BODY_LIMIT = 4096

T = TypeVar("T")


def make_script_root(root: Path, *, message_encoding: str) -> Path:
    """A folder laid out like the app's: sample_app.py, host.json and local.settings.json."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "sample_app.py", root / "sample_app.py")
    host = {
        "version": "2.0",
        "extensions": {
            "http": {"routePrefix": ""},
            "queues": {
                "maxDequeueCount": MAX_DEQUEUE_COUNT,
                "visibilityTimeout": "00:00:00",
                "maxPollingInterval": "00:00:01",
                "messageEncoding": message_encoding,
            },
        },
    }
    (root / "host.json").write_text(json.dumps(host), encoding="utf-8")
    settings = {
        "IsEncrypted": False,
        "Values": {
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "FROM_SETTINGS_FILE": "file-value",
            "SAMPLE_OVERRIDDEN": "file-value",
            # Points nowhere (on this machine): the queue and timer tests only pass if the
            # environment's connection wins.
            "AzureWebJobsStorage": "DefaultEndpointsProtocol=http;AccountName=nobody;AccountKey=bm9ib2R5;"
            "QueueEndpoint=http://127.0.0.1:9/nobody;TableEndpoint=http://127.0.0.1:9/nobody;",
        },
    }
    (root / "local.settings.json").write_text(json.dumps(settings), encoding="utf-8")
    return root


@dataclass(frozen=True)
class Delivery:
    message_id: str
    body: bytes
    dequeue_count: int


@dataclass(frozen=True)
class SampleHost:
    """The sample app served by devhost, with its queue and the file its queue function writes."""

    devhost: DevHost
    connection_string: str
    queue_name: str
    deliveries_path: Path

    @property
    def base_url(self) -> str:
        return self.devhost.base_url

    def queue(self, *, encode_base64: bool) -> QueueClient:
        policy = TextBase64EncodePolicy() if encode_base64 else None
        return QueueClient.from_connection_string(self.connection_string, self.queue_name, message_encode_policy=policy)

    def poison_queue(self) -> QueueClient:
        return QueueClient.from_connection_string(self.connection_string, f"{self.queue_name}-poison")

    def deliveries(self) -> list[Delivery]:
        if not self.deliveries_path.exists():
            return []
        found = []
        for line in self.deliveries_path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found.append(Delivery(record["id"], base64.b64decode(record["body_b64"]), record["dequeue_count"]))
        return found

    def deliveries_of(self, message_id: str) -> list[Delivery]:
        return [d for d in self.deliveries() if d.message_id == message_id]

    def message_count(self) -> int:
        """Messages in the queue, invisible ones included."""
        count = self.queue(encode_base64=False).get_queue_properties().approximate_message_count
        assert count is not None
        return count


EVERY_SECOND = "* * * * * *"


def timer_env(connection_string: str, runs_path: Path) -> dict[str, str]:
    """The sample app's timers bound: `tick`, `tick_and_fail` and `slow_tick` every second."""
    return {
        "AzureWebJobsStorage": connection_string,
        "SAMPLE_TICK_SCHEDULE": EVERY_SECOND,
        "SAMPLE_TIMER_RUNS": str(runs_path),
    }


@dataclass(frozen=True)
class TimerRun:
    """One line of the sample app's timer file: an invocation (or, for slow_tick, its start or end)."""

    function: str
    at: float
    past_due: bool
    schedule_status: dict[str, Any]
    schedule: dict[str, Any]
    event: str | None = None
    run: str | None = None


def read_timer_runs(path: Path, function: str) -> list[TimerRun]:
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["function"] == function:
            runs.append(TimerRun(**record))
    return runs


@dataclass(frozen=True)
class TimerHost:
    """The sample app served by devhost with its every-second timers bound."""

    devhost: DevHost
    runs_path: Path

    @property
    def base_url(self) -> str:
        return self.devhost.base_url

    def runs(self, function: str) -> list[TimerRun]:
        return read_timer_runs(self.runs_path, function)

    def wait_for_runs(self, function: str, count: int, *, timeout: float = 10.0) -> list[TimerRun]:
        def enough() -> list[TimerRun] | None:
            runs = self.runs(function)
            return runs if len(runs) >= count else None

        return wait_until(enough, timeout=timeout, what=f"{count} run(s) of {function}")


def wait_until(probe: Callable[[], T | None], *, timeout: float = 20.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)
