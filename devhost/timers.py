"""Timer triggers with the semantics of the timer extension's `TimerListener`
(Microsoft.Azure.WebJobs.Extensions, `Extensions/Timers/Listener`), which are:

* At start-up, a monitored timer reads its recorded schedule status; if the recorded next occurrence
  has passed, the function runs at once with `IsPastDue` (see `devhost.schedules.check_past_due`).
  Otherwise, with `runOnStartup`, it runs at once, not past due.
* Then it runs at each occurrence, one invocation at a time: the timer is re-armed only after an
  invocation returns (the listener also holds an invocation lock), from the occurrence after the
  start of that invocation. Here each timer runs its invocations one after another on its own
  thread. A run that outlasts the interval is therefore followed at once by one catch-up run, and the
  occurrences it overlapped are not run; the catch-up is not past due (`IsPastDue` is only for an
  occurrence missed while the host was down).
* The function gets `TimerInfo`: `IsPastDue`, `Schedule` and, when monitored, the `ScheduleStatus`
  as it was before the run (`Last`, `Next`, `LastUpdated`); an unmonitored timer gets none.
* After each run the status moves on (`Last` = the run's start, or the occurrence when the run
  started a little early), and a monitored timer records it, best effort.
* A failing function is logged with its traceback; the schedule goes on (timers never retry).
* Stopping cancels the timer: no invocation starts afterwards; one that is running may finish.

Where the status is recorded: the platform keeps it in blob `azure-webjobs-hosts/timers/{hostId}/
{function}/status` of `AzureWebJobsStorage`. devhost has no blob client among its dependencies, so it
keeps the same JSON in table `devhosttimers` of that account (partition: a host id derived from the
script root; row: the function name), which lives as long as that storage does: across restarts with
a persistent Azurite, not beyond an in-memory one. Without `AzureWebJobsStorage` it is kept in memory,
for this run of the host only.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from azure.core.exceptions import ResourceNotFoundError
from azure.functions.timer import TimerRequest

from devhost.functions import DEFAULT_STORAGE_CONNECTION, Invoker, TimerFunction
from devhost.schedules import ScheduleStatus, check_past_due, initial_status

if TYPE_CHECKING:
    from azure.data.tables import TableClient

log = logging.getLogger("devhost.timers")

STATUS_TABLE = "devhosttimers"
MAX_WAIT_SECONDS = 30.0
"""Waits for the next occurrence are cut into slices this long and recomputed from the clock, so a
machine that slept (or a clock that was set) does not leave a timer waiting for the wrong moment."""
SCHEDULE_INFO = {"AdjustForDST": True}
"""`TimerInfo.Schedule` as the host serializes a `CronSchedule` for the worker."""


class StatusStore(Protocol):
    def get(self, name: str) -> ScheduleStatus | None: ...

    def put(self, name: str, status: ScheduleStatus) -> None: ...


class MemoryStatusStore:
    """Schedule status for this run of the host only: nothing is known at start-up, so nothing is
    ever past due."""

    def __init__(self) -> None:
        self._statuses: dict[str, ScheduleStatus] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> ScheduleStatus | None:
        with self._lock:
            return self._statuses.get(name)

    def put(self, name: str, status: ScheduleStatus) -> None:
        with self._lock:
            self._statuses[name] = status


class TableStatusStore:
    """Schedule status in a table of the host's storage account (see the module docstring)."""

    def __init__(self, table: Callable[[], TableClient], host_id: str) -> None:
        self._table = table
        self.host_id = host_id

    def get(self, name: str) -> ScheduleStatus | None:
        try:
            entity = self._table().get_entity(self.host_id, name)
        except ResourceNotFoundError:
            return None
        return ScheduleStatus.from_json(str(entity.get("Status", "")))

    def put(self, name: str, status: ScheduleStatus) -> None:
        self._table().upsert_entity({"PartitionKey": self.host_id, "RowKey": name, "Status": status.to_json()})


def host_id_for(script_root: Path) -> str:
    """Stands in for the platform's host id (the app's name): one per script root, so two apps that
    share an Azurite keep apart and two hosts of one app share, like instances of one app."""
    return "devhost-" + hashlib.sha256(str(script_root.resolve()).encode("utf-8")).hexdigest()[:16]


def create_status_store(environ: Mapping[str, str], script_root: Path) -> StatusStore:
    from shared.adapters.storage import StorageAccount, StorageConnection
    from shared.config import ConfigError

    try:
        connection = StorageConnection.from_env(DEFAULT_STORAGE_CONNECTION, environ)
    except ConfigError as exc:
        log.warning("Timer schedule status is kept in memory only: %s", exc)
        return MemoryStatusStore()
    return TableStatusStore(StorageAccount(connection).table_ref(STATUS_TABLE), host_id_for(script_root))


class TimerRunner:
    """Runs one timer-triggered function on its schedule, on a thread of its own."""

    def __init__(self, function: TimerFunction, invoker: Invoker, store: StatusStore) -> None:
        self.function = function
        self.invoker = invoker
        self.store = store
        self._stop = threading.Event()
        self._status = initial_status(function.schedule, self._now())
        self._thread = threading.Thread(target=self._run, name=f"timer-{self.name}", daemon=True)

    @property
    def name(self) -> str:
        return self.function.target.name

    def next_occurrence(self) -> datetime:
        return self._status.next

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Stop the schedule: no invocation starts after this (a running one goes on)."""
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a running invocation; True when none is left."""
        if self._thread.is_alive():  # never started: nothing to wait for
            self._thread.join(max(0.0, timeout))
        return not self._thread.is_alive()

    # --- the schedule ----------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._run_schedule()
        except Exception:  # e.g. a schedule with no occurrence left; never expected
            log.exception("Timer %s stopped", self.name)

    def _run_schedule(self) -> None:
        past_due = self._start_status()
        if past_due:
            log.info("Function '%s' is past due on startup. Executing now.", self.name)
            self._invoke(self._now(), past_due=True)
        elif self.function.run_on_startup:
            log.info("Function '%s' is configured to run on startup. Executing now.", self.name)
            self._invoke(self._now(), run_on_startup=True)
        while self._wait_until(self._status.next):
            self._invoke(self._now())

    def _start_status(self) -> bool:
        """Read the recorded status of a monitored timer; whether an occurrence was missed."""
        if not self.function.use_monitor:
            return False
        now = self._now()
        try:
            recorded = self.store.get(self.name)
        except Exception as exc:
            log.warning("Cannot read the schedule status of timer %s, starting without it: %s", self.name, exc)
            return False
        status, past_due = check_past_due(self.function.schedule, recorded, now)
        self._status = status
        if status != recorded:
            self._record(status)
        return past_due

    def _wait_until(self, moment: datetime) -> bool:
        """Sleep until `moment`; False when stopped first."""
        while not self._stop.is_set():
            remaining = (moment - self._now()).total_seconds()
            if remaining <= 0:
                return True
            self._stop.wait(min(remaining, MAX_WAIT_SECONDS))
        return False

    def _invoke(self, invocation_time: datetime, *, past_due: bool = False, run_on_startup: bool = False) -> None:
        if self._stop.is_set():  # e.g. stopped while the start-up status was being read
            return
        status = self._status
        self._call(
            TimerRequest(
                past_due=past_due,
                schedule_status=status.as_dict() if self.function.use_monitor else None,
                schedule=dict(SCHEDULE_INFO),
            ),
            reason="past due" if past_due else "run on startup" if run_on_startup else "schedule",
        )
        # A run that started a little before its occurrence counts from the occurrence, so the same
        # occurrence is never next twice.
        scheduled = not past_due and not run_on_startup
        start = status.next if scheduled and status.next > invocation_time else invocation_time
        self._status = ScheduleStatus(last=start, next=self.function.schedule.next_after(start), last_updated=start)
        if self.function.use_monitor:
            self._record(self._status)

    def _call(self, request: TimerRequest, *, reason: str) -> None:
        self.invoker.invoke(self.function.target, request, details=f"Reason={reason}")

    def _record(self, status: ScheduleStatus) -> None:
        try:
            self.store.put(self.name, status)
        except Exception as exc:  # best effort, as `UpdateStatusAsync` is
            log.warning("Cannot record the schedule status of timer %s: %s", self.name, exc)

    def _now(self) -> datetime:
        return datetime.now(self.function.schedule.time_zone)


def create_timer_runners(functions: Sequence[TimerFunction], invoker: Invoker, store: StatusStore) -> list[TimerRunner]:
    return [TimerRunner(function, invoker, store) for function in functions]


def stop_timers(runners: Sequence[TimerRunner], timeout: float = 10.0) -> None:
    """Cancel every schedule at once, then give running invocations up to `timeout` seconds in all."""
    for runner in runners:
        runner.cancel()
    deadline = time.monotonic() + timeout
    for runner in runners:
        if not runner.join(deadline - time.monotonic()):
            log.warning("Timer function %s was still running at shutdown", runner.name)


def manual_timer_request() -> TimerRequest:
    """What a timer function gets when run through the admin API: `TimerTriggerBinding` builds a
    `TimerInfo` with the schedule only (no status), not past due."""
    request: TimerRequest = TimerRequest(past_due=False, schedule_status=None, schedule=dict(SCHEDULE_INFO))
    return request
