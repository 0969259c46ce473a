"""Timer schedules, schedule status and the timer runner, without a host process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import azure.functions as func
import pytest

from devhost.config import ConfigurationError
from devhost.functions import FunctionTarget, Invoker, TimerFunction, build_function_table
from devhost.schedules import (
    NEVER,
    ConstantSchedule,
    CronSchedule,
    ScheduleError,
    ScheduleStatus,
    check_past_due,
    load_time_zone,
    parse_schedule,
    use_monitor,
)
from devhost.timers import MemoryStatusStore, TimerRunner, stop_timers
from devhost.web import AdminRequestError, admin_input

# A Thursday.
BASE = datetime(2024, 5, 2, 8, 0, 0, tzinfo=UTC)


def occurrences(text: str, count: int = 3, base: datetime = BASE, zone: str | None = None) -> list[str]:
    schedule = parse_schedule(text, ZoneInfo(zone) if zone else UTC)
    found = []
    moment = base
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment.isoformat())
    return found


# --- parsing and next occurrences ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0 */5 * * * *", ["2024-05-02T08:05:00+00:00", "2024-05-02T08:10:00+00:00", "2024-05-02T08:15:00+00:00"]),
        ("* * * * * *", ["2024-05-02T08:00:01+00:00", "2024-05-02T08:00:02+00:00", "2024-05-02T08:00:03+00:00"]),
        ("5-7 * * * * *", ["2024-05-02T08:00:05+00:00", "2024-05-02T08:00:06+00:00", "2024-05-02T08:00:07+00:00"]),
        ("5,8,10 * * * * *", ["2024-05-02T08:00:05+00:00", "2024-05-02T08:00:08+00:00", "2024-05-02T08:00:10+00:00"]),
        ("0 0 9-17 * * *", ["2024-05-02T09:00:00+00:00", "2024-05-02T10:00:00+00:00", "2024-05-02T11:00:00+00:00"]),
        # Thursday 2 May: Friday, then Monday.
        ("0 30 9 * * MON-FRI", ["2024-05-02T09:30:00+00:00", "2024-05-03T09:30:00+00:00", "2024-05-06T09:30:00+00:00"]),
        ("0 30 9 * * 1-5", ["2024-05-02T09:30:00+00:00", "2024-05-03T09:30:00+00:00", "2024-05-06T09:30:00+00:00"]),
        (
            "0 0 12 * * sat,Sunday",
            ["2024-05-04T12:00:00+00:00", "2024-05-05T12:00:00+00:00", "2024-05-11T12:00:00+00:00"],
        ),
        ("0 30 9 * Jan Mon", ["2025-01-06T09:30:00+00:00", "2025-01-13T09:30:00+00:00", "2025-01-20T09:30:00+00:00"]),
        (
            "0 0 0 1 February,Mar *",
            ["2025-02-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00"],
        ),
        # Day and day-of-week must both match (NCrontab), not either (Vixie cron): Fridays the 13th.
        ("0 0 0 13 * FRI", ["2024-09-13T00:00:00+00:00", "2024-12-13T00:00:00+00:00", "2025-06-13T00:00:00+00:00"]),
        # Five fields: no seconds, at second 0.
        ("*/30 * * * *", ["2024-05-02T08:30:00+00:00", "2024-05-02T09:00:00+00:00", "2024-05-02T09:30:00+00:00"]),
    ],
)
def test_ncrontab_expressions(text: str, expected: list[str]) -> None:
    assert occurrences(text) == expected


def test_the_next_occurrence_is_strictly_after_the_moment() -> None:
    schedule = parse_schedule("0 */5 * * * *", UTC)
    assert schedule.next_after(BASE) == BASE + timedelta(minutes=5)
    assert schedule.next_after(BASE - timedelta(microseconds=1)) == BASE
    assert schedule.next_after(BASE + timedelta(seconds=0.5)) == BASE + timedelta(minutes=5)


def test_schedules_follow_website_time_zone() -> None:
    berlin = load_time_zone({"WEBSITE_TIME_ZONE": "Europe/Berlin"})
    schedule = parse_schedule("0 30 9 * * *", berlin)
    # 08:00 UTC is 10:00 in Berlin (summer time): 09:30 has passed there.
    assert schedule.next_after(BASE).isoformat() == "2024-05-03T09:30:00+02:00"
    assert parse_schedule("0 30 9 * * *", load_time_zone({})).next_after(BASE).isoformat() == (
        "2024-05-02T09:30:00+00:00"
    )
    # Across the change to winter time, 09:30 stays 09:30 local.
    assert occurrences("0 30 9 * * *", 2, datetime(2024, 10, 26, 12, tzinfo=UTC), "Europe/Berlin") == [
        "2024-10-27T09:30:00+01:00",
        "2024-10-28T09:30:00+01:00",
    ]


def test_an_unknown_time_zone_is_a_configuration_error_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="WEBSITE_TIME_ZONE"):
        load_time_zone({"WEBSITE_TIME_ZONE": "W. Europe Standard Time"})


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("00:05:00", timedelta(minutes=5)),
        ("00:00:30", timedelta(seconds=30)),
        ("01:00", timedelta(hours=1)),
        ("1.00:00:00", timedelta(days=1)),
        ("00:00:00.5", timedelta(milliseconds=500)),
        # The first number counts days from 24 on, as the documentation warns.
        ("24:00:00", timedelta(days=24)),
        ("30:12:00", timedelta(days=30, hours=12)),
    ],
)
def test_timespan_schedules_repeat_an_interval(text: str, interval: timedelta) -> None:
    schedule = parse_schedule(text, UTC)
    assert isinstance(schedule, ConstantSchedule)
    assert schedule.next_after(BASE) == BASE + interval


@pytest.mark.parametrize(
    "text",
    [
        "61 * * * * *",  # out of range
        "0 0 24 * * *",
        "0 0 0 0 * *",
        "*/0 * * * * *",
        "0 0 0 L * *",  # croniter extensions NCrontab does not have
        "0 0 0 ? * *",
        "0 0 0 * * 1#2",
        "0 0 0 * * 5L",
        "0 0 0 * * 7",  # days of the week are 0-6
        "0 0 0 * * Funday",
        "0 0 0 * Mon *",  # a day name in the month field
        "0 0 0 1 1 * 2030",  # a year field
        "0 0 0 31 2 *",  # never occurs
        "* * * *",
        "every minute",
        "00:00:00",  # zero interval
        "00:60:00",
        "30",  # .NET would read 30 days; never what was meant
        "",
    ],
)
def test_invalid_schedules_are_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(text, UTC)


# --- schedule monitoring ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "requested", "expected"),
    [
        ("0 */5 * * * *", None, True),
        ("0 */5 * * * *", False, False),
        ("0 * * * * *", None, True),  # once a minute
        ("*/30 * * * * *", None, False),  # more than once a minute: never monitored
        ("* * * * * *", True, False),
        ("00:05:00", None, True),
        ("00:00:30", True, False),
    ],
)
def test_use_monitor_defaults_like_the_timer_extension(text: str, requested: bool | None, expected: bool) -> None:
    # The extension counts the occurrences in the minute after now (end excluded); now is never a
    # round second.
    now = BASE + timedelta(seconds=0.25)
    assert use_monitor(parse_schedule(text, UTC), requested, now) is expected


def test_past_due_when_the_recorded_next_occurrence_has_passed() -> None:
    schedule = parse_schedule("0 0 * * * *", UTC)  # hourly
    recorded = ScheduleStatus(
        last=BASE - timedelta(hours=3), next=BASE - timedelta(hours=2), last_updated=BASE - timedelta(hours=3)
    )
    assert check_past_due(schedule, recorded, BASE) == (recorded, True)
    # Not yet due: nothing missed.
    fresh = ScheduleStatus(last=BASE, next=BASE + timedelta(hours=1), last_updated=BASE)
    assert check_past_due(schedule, fresh, BASE + timedelta(minutes=30)) == (fresh, False)


def test_a_timer_with_no_recorded_status_starts_with_the_next_occurrence() -> None:
    schedule = parse_schedule("0 0 * * * *", UTC)
    status, past_due = check_past_due(schedule, None, BASE + timedelta(minutes=10))
    assert not past_due
    assert status == ScheduleStatus(
        last=NEVER, next=BASE + timedelta(hours=1), last_updated=BASE + timedelta(minutes=10)
    )
    assert status.as_dict()["Last"] == "0001-01-01T00:00:00+00:00"


def test_a_status_recorded_for_another_schedule_is_not_past_due() -> None:
    # Recorded for an hourly schedule after a run at 05:00; the schedule has changed since.
    five = BASE - timedelta(hours=3)
    recorded = ScheduleStatus(last=five, next=five + timedelta(hours=1), last_updated=five)
    # Now at half past: its occurrence after 05:00 (05:30) has passed, so it counts from now.
    status, past_due = check_past_due(parse_schedule("0 30 * * * *", UTC), recorded, BASE)
    assert not past_due
    assert status == ScheduleStatus(last=NEVER, next=BASE + timedelta(minutes=30), last_updated=BASE)
    # Now daily at midnight: its occurrence after 05:00 is still to come.
    status, past_due = check_past_due(parse_schedule("0 0 0 * * *", UTC), recorded, BASE)
    assert not past_due
    assert status == ScheduleStatus(last=NEVER, next=datetime(2024, 5, 3, tzinfo=UTC), last_updated=five)


def test_a_schedule_status_survives_json() -> None:
    status = ScheduleStatus(last=BASE, next=BASE + timedelta(hours=1), last_updated=BASE + timedelta(seconds=1.5))
    assert ScheduleStatus.from_json(status.to_json()) == status
    with pytest.raises(ValueError, match="offset"):
        ScheduleStatus.from_json('{"Last": "2024-05-02T08:00:00", "Next": "x", "LastUpdated": "y"}')


# --- indexing ------------------------------------------------------------------------------------------------


def test_timer_functions_are_indexed_with_their_settings(caplog: pytest.LogCaptureFixture) -> None:
    app = func.FunctionApp()

    @app.timer_trigger(schedule="%REPORT_SCHEDULE%", arg_name="timer", run_on_startup=True)
    def report(timer: func.TimerRequest) -> None:
        pass

    @app.timer_trigger(schedule="00:10:00", arg_name="t", use_monitor=False)
    def sweep(t: func.TimerRequest) -> None:
        pass

    @app.timer_trigger(schedule="%MISSING_SCHEDULE%", arg_name="timer")
    def unbound(timer: func.TimerRequest) -> None:
        pass

    @app.timer_trigger(schedule="0 0 0 * * Funday", arg_name="timer")
    def misspelt(timer: func.TimerRequest) -> None:
        pass

    environ = {"REPORT_SCHEDULE": "0 30 9 * * MON-FRI", "WEBSITE_TIME_ZONE": "Europe/Berlin"}
    with caplog.at_level("ERROR", logger="devhost"):
        table = build_function_table(app, route_prefix="api", environ=environ)
    timers = {timer.target.name: timer for timer in table.timers}
    assert set(timers) == {"report", "sweep"}
    report_timer = timers["report"]
    assert (report_timer.schedule.text, report_timer.run_on_startup, report_timer.use_monitor) == (
        "0 30 9 * * MON-FRI",
        True,
        True,
    )
    assert report_timer.schedule.time_zone == ZoneInfo("Europe/Berlin")
    assert isinstance(report_timer.schedule, CronSchedule)
    assert (timers["sweep"].target.arg_name, timers["sweep"].run_on_startup, timers["sweep"].use_monitor) == (
        "t",
        False,
        False,
    )
    assert "Function unbound is not run: app setting MISSING_SCHEDULE is not set" in caplog.text
    assert "Function misspelt is not run: '0 0 0 * * Funday'" in caplog.text


def test_an_unknown_time_zone_stops_an_app_with_timers() -> None:
    app = func.FunctionApp()

    @app.timer_trigger(schedule="0 0 0 * * *", arg_name="timer")
    def nightly(timer: func.TimerRequest) -> None:
        pass

    with pytest.raises(ConfigurationError, match="WEBSITE_TIME_ZONE"):
        build_function_table(app, route_prefix="api", environ={"WEBSITE_TIME_ZONE": "Mars/Olympus_Mons"})


# --- the admin API's body ---------------------------------------------------------------------------------


def test_admin_input_is_read_like_the_hosts_model_binding() -> None:
    assert admin_input("application/json", b'{"input": "hello"}') == "hello"
    assert admin_input("application/json; charset=utf-8", b'{"Input": ""}') == ""
    assert admin_input("application/json", b"{}") is None
    assert admin_input("application/json", b'{"input": 5}') == "5"
    assert admin_input("application/json", b'{"input": true}') == "True"
    for content_type, body in [
        ("text/plain", b'{"input": ""}'),
        ("", b'{"input": ""}'),
        ("application/json", b""),
        ("application/json", b"null"),
        ("application/json", b"[]"),
        ("application/json", b"{oops"),
        ("application/json", b'{"input": [1]}'),
    ]:
        with pytest.raises(AdminRequestError):
            admin_input(content_type, body)


# --- the runner ------------------------------------------------------------------------------------------------


def _timer(function: Callable[..., None], interval: float) -> TimerFunction:
    target = FunctionTarget(
        name="job", func=function, arg_name="timer", wants_context=False, is_async=False, directory=""
    )
    schedule = ConstantSchedule(text="test", time_zone=UTC, interval=timedelta(seconds=interval))
    return TimerFunction(target=target, schedule=schedule, run_on_startup=False, use_monitor=False)


def test_stopping_waits_a_bounded_time_and_starts_nothing_more(caplog: pytest.LogCaptureFixture) -> None:
    started: list[float] = []
    release = threading.Event()

    def job(timer: func.TimerRequest) -> None:
        started.append(time.monotonic())
        release.wait(5)

    invoker = Invoker()
    runner = TimerRunner(_timer(job, 0.02), invoker, MemoryStatusStore())
    try:
        runner.start()
        deadline = time.monotonic() + 5
        while not started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(started) == 1
        with caplog.at_level(logging.WARNING, logger="devhost.timers"):
            began = time.monotonic()
            stop_timers([runner], timeout=0.2)
            assert time.monotonic() - began < 1.0  # bounded, though the function still runs
        assert "Timer function job was still running at shutdown" in caplog.text
        release.set()
        assert runner.join(5)
        assert len(started) == 1  # its occurrence had long passed, yet nothing started after the stop
    finally:
        release.set()
        invoker.close()
