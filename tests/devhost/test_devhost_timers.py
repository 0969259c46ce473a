"""Timer triggers in a running host: the schedule, failures, overlap, start-up, the admin API, shutdown."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from azure.data.tables import TableServiceClient

from devhost.processes import Azurite, run_devhost
from devhost.schedules import ScheduleStatus
from devhost.timers import STATUS_TABLE, TableStatusStore, host_id_for
from tests.support.devhost_helpers import (
    TimerHost,
    TimerRun,
    make_script_root,
    read_timer_runs,
    timer_env,
    wait_until,
)

NEVER = "0001-01-01T00:00:00+00:00"


def admin_post(host: TimerHost, name: str, **kwargs: Any) -> requests.Response:
    return requests.post(f"{host.base_url}/admin/functions/{name}", timeout=10, **kwargs)


def test_an_every_second_schedule_fires_each_second(timer_host: TimerHost) -> None:
    runs = timer_host.wait_for_runs("tick", 3)
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(runs)]
    assert all(0.5 < gap < 1.5 for gap in gaps), gaps
    # NCRONTAB occurrences, not an interval from start-up: each run is at the top of a second.
    assert all(run.at % 1 < 0.3 for run in runs), [run.at for run in runs]
    # Schedules that fire more than once a minute are never monitored, so they get no status.
    assert all(not run.past_due and run.schedule_status == {} for run in runs)
    assert runs[0].schedule == {"AdjustForDST": True}


def test_a_failing_timer_function_is_logged_and_keeps_its_schedule(timer_host: TimerHost) -> None:
    timer_host.wait_for_runs("tick_and_fail", 2)
    log = timer_host.devhost.log_text()
    assert log.count("Executed 'Functions.tick_and_fail' (Failed") >= 2
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: tick failed 5c1e" in log


def test_invocations_of_a_timer_function_never_overlap(timer_host: TimerHost) -> None:
    # slow_tick runs for 1.1 s on an every-second schedule (and at start-up): the next occurrence
    # comes while it runs.
    def a_run_after_a_run() -> list[TimerRun] | None:
        events = timer_host.runs("slow_tick")
        first_end = next((i for i, event in enumerate(events) if event.event == "end"), None)
        return events if first_end is not None and len(events) > first_end + 1 else None

    events = wait_until(a_run_after_a_run, what="slow_tick to start again after a run")
    # Every start is followed by its own end before anything else starts.
    assert [event.event for event in events] == ["start", "end"] * (len(events) // 2) + ["start"] * (len(events) % 2)
    assert all(events[i].run == events[i + 1].run for i in range(0, len(events) - 1, 2))
    assert all(later.at >= earlier.at for earlier, later in itertools.pairwise(events))
    # The occurrence that passed during a run is caught up as soon as the run ends, and is not past due.
    catch_up = events[2]
    assert catch_up.at - events[1].at < 0.5
    assert not catch_up.past_due


def test_run_on_startup_runs_once_when_the_host_starts(timer_host: TimerHost) -> None:
    timer_host.wait_for_runs("tick", 2)  # the host has been up for a while
    runs = timer_host.runs("new_year")
    assert len(runs) == 1
    assert not runs[0].past_due
    # A yearly schedule is monitored: the function sees the status, which knows no earlier run.
    status = runs[0].schedule_status
    assert status["Last"] == NEVER
    assert status["Next"] == f"{datetime.now(UTC).year + 1}-01-01T00:00:00+00:00"


def test_the_banner_lists_timers_with_their_next_occurrence(timer_host: TimerHost) -> None:
    log = timer_host.devhost.log_text()
    assert "tick: timerTrigger '* * * * * *' (UTC), next 20" in log
    next_year = datetime.now(UTC).year + 1
    assert f"new_year: timerTrigger '0 0 0 1 1 *' (UTC), next {next_year}-01-01T00:00:00+00:00, runOnStartup" in log
    assert f"POST {timer_host.base_url}/admin/functions/<name>" in log


def test_the_admin_api_runs_a_timer_function_and_answers_202(timer_host: TimerHost) -> None:
    assert timer_host.runs("on_demand") == []
    response = admin_post(timer_host, "on_demand", json={"input": ""})
    # 202 from the host, not the app's {section}/functions/{name} route (the admin path is checked first).
    assert (response.status_code, response.content) == (202, b"")
    runs = timer_host.wait_for_runs("on_demand", 1)
    assert (runs[0].past_due, runs[0].schedule_status) == (False, {})
    # Names are matched ignoring case; `{}` is a valid body.
    assert admin_post(timer_host, "ON_DEMAND", json={}).status_code == 202
    timer_host.wait_for_runs("on_demand", 2)
    # The app's route still serves the same shape of path elsewhere.
    other = requests.post(f"{timer_host.base_url}/other/functions/on_demand", timeout=10)
    assert other.json()["function"] == "section_functions"


def test_the_admin_api_refuses_what_it_cannot_run(timer_host: TimerHost) -> None:
    assert admin_post(timer_host, "no_such_function", json={"input": ""}).status_code == 404
    assert admin_post(timer_host, "ping", json={"input": ""}).status_code == 404  # HTTP functions have routes
    assert requests.get(f"{timer_host.base_url}/admin/functions/new_year", timeout=10).status_code == 404
    assert requests.get(f"{timer_host.base_url}/admin/host/status", timeout=10).status_code == 404
    assert admin_post(timer_host, "new_year", data=b'{"input": ""}').status_code == 400  # no JSON content type
    json_type = {"Content-Type": "application/json"}
    assert admin_post(timer_host, "new_year", data=b"{not json", headers=json_type).status_code == 400
    assert admin_post(timer_host, "new_year", json=["input"]).status_code == 400
    assert admin_post(timer_host, "new_year", json={"input": {"nested": 1}}).status_code == 400
    time.sleep(0.1)  # a run would have started by now
    assert len(timer_host.runs("new_year")) == 1  # only the start-up run


def test_shutdown_lets_a_running_invocation_finish_and_starts_no_other(azurite: Azurite, tmp_path: Path) -> None:
    runs_path = tmp_path / "timer-runs.jsonl"
    script_root = make_script_root(tmp_path / "app", message_encoding="base64")

    def just_started() -> TimerRun | None:
        events = read_timer_runs(runs_path, "slow_tick")
        ended = {event.run for event in events if event.event == "end"}
        running = [event for event in events if event.event == "start" and event.run not in ended]
        return running[-1] if running and time.time() - running[-1].at < 0.4 else None

    env = timer_env(azurite.connection_string, runs_path)
    with run_devhost(env=env, app="sample_app:app", script_root=script_root) as host:
        running = wait_until(just_started, what="a run of slow_tick to start")
        stopping_at = time.time()
    events = read_timer_runs(runs_path, "slow_tick")
    assert [event.run for event in events if event.event == "end"][-1] == running.run  # it finished
    # Its run outlasted its schedule, so without shutdown the next would have started right after it.
    assert [event for event in events if event.event == "start" and event.at > stopping_at] == []
    assert host.returncode == 0
    log = host.log_text()
    assert "still running at shutdown" not in log  # it finished well within the bound
    assert log.rstrip().endswith("Stopped")


def test_an_occurrence_missed_while_the_host_was_down_runs_at_start_up_past_due(
    azurite: Azurite, tmp_path: Path
) -> None:
    runs_path = tmp_path / "timer-runs.jsonl"
    script_root = make_script_root(tmp_path / "app", message_encoding="base64")
    table = TableServiceClient.from_connection_string(azurite.connection_string).create_table_if_not_exists(
        STATUS_TABLE
    )
    store = TableStatusStore(lambda: table, host_id_for(script_root))
    # What the monitor recorded after a run on 2020-01-01, for the yearly schedule of `on_demand`.
    new_year_2020 = datetime(2020, 1, 1, tzinfo=UTC)
    recorded = ScheduleStatus(last=new_year_2020, next=datetime(2021, 1, 1, tzinfo=UTC), last_updated=new_year_2020)
    store.put("on_demand", recorded)

    env = {"AzureWebJobsStorage": azurite.connection_string, "SAMPLE_TIMER_RUNS": str(runs_path)}
    with run_devhost(env=env, app="sample_app:app", script_root=script_root) as host:
        runs = wait_until(lambda: read_timer_runs(runs_path, "on_demand"), what="the past-due run")
        new_year_runs = wait_until(lambda: read_timer_runs(runs_path, "new_year"), what="the start-up run")
    assert len(runs) == 1
    assert runs[0].past_due
    assert runs[0].schedule_status == recorded.as_dict()  # the status before the run
    assert "Function 'on_demand' is past due on startup" in host.log_text()
    # A timer with no recorded status has missed nothing.
    assert not new_year_runs[0].past_due
    # The run moved the recorded status on to the next occurrence.
    after = store.get("on_demand")
    assert after is not None
    assert after.last > recorded.next
    assert after.next == datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
