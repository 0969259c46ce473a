"""Timer trigger schedules as the timer extension reads them (Microsoft.Azure.WebJobs.Extensions,
`Extensions/Timers`), and the schedule status it keeps:

* `TimerSchedule.Create`: the schedule is an NCRONTAB expression (`CronSchedule`) or, failing that, a
  TimeSpan (`ConstantSchedule`: a fixed interval between invocations, allowed on App Service plans).
  `%Name%` is resolved from the app settings before that (done by the caller).
* NCRONTAB has six fields, `{second} {minute} {hour} {day} {month} {day-of-week}`; a five-field
  expression is read without seconds (`CronSchedule.HasSeconds`). Fields take values, `*`, ranges
  (`-`), lists (`,`) and steps (`/`); months and days of the week also take English names or any
  prefix of them, case-insensitive (`MON-FRI`, `Jan`, `Monday`). Day and day-of-week must both match.
  Nothing else (`?`, `L`, `W`, `#`, a seventh field) is NCRONTAB.
* Times are local to the host: UTC, or the zone named by the `WEBSITE_TIME_ZONE` app setting.
* `useMonitor` defaults to true, and is forced off for schedules that fire more than once a minute.
* `ScheduleMonitor.CheckPastDueAsync`: at start-up, a recorded `Next` that has passed means an
  occurrence was missed while the host was down, and the function runs at once with `IsPastDue`.

The expressions themselves are parsed and evaluated by croniter; this module only maps NCRONTAB's
dialect onto it (names to numbers, seconds first, day AND day-of-week) and refuses croniter's
extensions that Azure would reject.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]  # no type information shipped

from devhost.config import ConfigurationError, parse_timespan
from shared.config import NCRONTAB_NAMES, ncrontab_name

TIME_ZONE_SETTING = "WEBSITE_TIME_ZONE"
MONITOR_THRESHOLD = timedelta(minutes=1)
"""A schedule that fires more than once within this is never monitored (`TimerSchedule.Create`)."""
NEVER = datetime.min.replace(tzinfo=UTC)
"""`default(DateTime)`: what the status holds for "never" (e.g. `Last` before the first run)."""

_FIELD_NAMES = ("second", "minute", "hour", "day", "month", "day-of-week")
_NCRONTAB_CHARACTERS = re.compile(r"^[0-9A-Za-z*,/-]+$")
_NAME = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]+(?![0-9A-Za-z])")
_DAY_OF_WEEK_VALUE = re.compile(r"(?<![/0-9])[0-9]+")
_DAYS_FIRST_TIMESPAN = re.compile(r"^(\d+):(\d{1,2})(?::(\d{1,2}))?$")


class ScheduleError(ValueError):
    """A schedule the timer extension would refuse."""


class Schedule(Protocol):
    @property
    def text(self) -> str:
        """The expression, with app settings resolved."""
        ...

    @property
    def time_zone(self) -> tzinfo: ...

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment`, in the schedule's time zone."""
        ...

    def fires_more_than_once_within(self, window: timedelta, now: datetime) -> bool: ...


@dataclass(frozen=True)
class CronSchedule:
    text: str
    time_zone: tzinfo
    expression: str
    """The six-field form croniter evaluates: names replaced by numbers, seconds first."""

    def next_after(self, moment: datetime) -> datetime:
        # NCrontab, like croniter, returns the next occurrence after the base time, never the base itself.
        iterator = croniter(self.expression, moment.astimezone(self.time_zone), day_or=False, second_at_beginning=True)
        occurrence: datetime = iterator.get_next(datetime)
        return occurrence

    def fires_more_than_once_within(self, window: timedelta, now: datetime) -> bool:
        # `cronSchedule.InnerSchedule.GetNextOccurrences(now, now + 1 minute)` (end exclusive) has more than one.
        second = self.next_after(self.next_after(now))
        return second < now + window


@dataclass(frozen=True)
class ConstantSchedule:
    text: str
    time_zone: tzinfo
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        # `ConstantSchedule.GetNextOccurrence`: now + interval, counted from the start of the last run.
        return moment.astimezone(self.time_zone) + self.interval

    def fires_more_than_once_within(self, window: timedelta, now: datetime) -> bool:
        return self.interval < window


def parse_schedule(text: str, time_zone: tzinfo) -> Schedule:
    """A cron schedule if `text` has five or six fields, else a TimeSpan; `ScheduleError` says why
    neither fits."""
    fields = text.split()
    if len(fields) in (5, 6):
        return CronSchedule(text=text, time_zone=time_zone, expression=_cron_expression(fields, text))
    interval = parse_schedule_timespan(text)
    if interval is None:
        raise ScheduleError(
            f"{text!r} is neither an NCRONTAB expression with six fields "
            "({second} {minute} {hour} {day} {month} {day-of-week}, e.g. '0 */5 * * * *') "
            "nor a TimeSpan such as '00:05:00'"
        )
    if interval <= timedelta(0):
        raise ScheduleError(f"the TimeSpan {text!r} must be longer than zero")
    return ConstantSchedule(text=text, time_zone=time_zone, interval=interval)


def parse_schedule_timespan(text: str) -> timedelta | None:
    """A TimeSpan as `TimeSpan.TryParse` reads a schedule: `hh:mm[:ss[.fffffff]]` or
    `d.hh:mm:ss`; and, as the timer trigger documentation warns, when the first number is 24 or more
    it counts days, so "24:00:00" is every 24 days (`dd:hh:mm`)."""
    match = _DAYS_FIRST_TIMESPAN.match(text.strip())
    if match and int(match.group(1)) >= 24:
        days, hours, minutes = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
        if hours < 24 and minutes < 60:
            return timedelta(days=days, hours=hours, minutes=minutes)
        return None
    try:
        return timedelta(seconds=parse_timespan(text))
    except ConfigurationError:
        return None


def _cron_expression(fields: list[str], text: str) -> str:
    if len(fields) == 5:
        fields = ["0", *fields]  # NCrontab without seconds fires at second 0
    normalized = [_normalize_field(index, field, text) for index, field in enumerate(fields)]
    expression = " ".join(normalized)
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC), day_or=False, second_at_beginning=True).get_next(
            datetime
        )
    except ValueError as exc:  # croniter's errors are ValueErrors; an impossible date too ("31 2")
        raise ScheduleError(f"{text!r} is not a valid NCRONTAB expression: {exc}") from None
    return expression


def _normalize_field(index: int, field: str, text: str) -> str:
    name = _FIELD_NAMES[index]
    if not _NCRONTAB_CHARACTERS.match(field):
        raise ScheduleError(f"{text!r}: the {name} field {field!r} has characters NCRONTAB does not know")
    if index in NCRONTAB_NAMES:
        field = _NAME.sub(lambda match: str(_name_value(index, match.group(0), text)), field)
    if re.search("[A-Za-z]", field):
        raise ScheduleError(f"{text!r}: the {name} field {field!r} must be numbers, '*', '-', ',' and '/'")
    if index == 5 and any(int(value) > 6 for value in _DAY_OF_WEEK_VALUE.findall(field)):
        raise ScheduleError(f"{text!r}: days of the week are 0 (Sunday) to 6 (Saturday)")
    return field


def _name_value(index: int, word: str, text: str) -> int:
    """`CrontabFieldImpl.ParseValue`: the first name that starts with `word`, ignoring case."""
    value = ncrontab_name(index, word)
    if value is None:
        names = NCRONTAB_NAMES[index][0]
        raise ScheduleError(f"{text!r}: {word!r} is not one of {', '.join(names)} (or a prefix of one)")
    return value


def load_time_zone(environ: Mapping[str, str]) -> tzinfo:
    """The zone schedules are evaluated in: UTC unless `WEBSITE_TIME_ZONE` names one (an IANA name,
    as on Linux plans; zoneinfo does not know Windows names such as "W. Europe Standard Time")."""
    name = environ.get(TIME_ZONE_SETTING, "").strip()
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"app setting {TIME_ZONE_SETTING}={name!r} is not a time zone devhost knows: "
            "use an IANA name such as 'Europe/Berlin'"
        ) from None


def use_monitor(schedule: Schedule, requested: bool | None, now: datetime) -> bool:
    """`TimerSchedule.Create`: off for schedules that fire more than once a minute (whatever was
    asked), else as requested, true when not set."""
    if schedule.fires_more_than_once_within(MONITOR_THRESHOLD, now):
        return False
    return True if requested is None else requested


# --- schedule status ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleStatus:
    """`ScheduleStatus`: what the function gets as `schedule_status` (when monitored) and what the
    monitor records between runs of the host."""

    last: datetime
    next: datetime
    last_updated: datetime

    def as_dict(self) -> dict[str, str]:
        return {"Last": _iso(self.last), "Next": _iso(self.next), "LastUpdated": _iso(self.last_updated)}

    def to_json(self) -> str:
        return json.dumps(self.as_dict())

    @classmethod
    def from_json(cls, text: str) -> ScheduleStatus:
        """Raises ValueError when `text` is not a status this module wrote."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a schedule status is a JSON object")
        return cls(
            last=_parse_iso(data.get("Last")),
            next=_parse_iso(data.get("Next")),
            last_updated=_parse_iso(data.get("LastUpdated")),
        )


def initial_status(schedule: Schedule, now: datetime) -> ScheduleStatus:
    """The status of a timer that has never run: only the next occurrence is known."""
    return ScheduleStatus(last=NEVER, next=schedule.next_after(now), last_updated=now)


def check_past_due(schedule: Schedule, recorded: ScheduleStatus | None, now: datetime) -> tuple[ScheduleStatus, bool]:
    """`ScheduleMonitor.CheckPastDueAsync`: the status to start from (to be recorded when it differs
    from `recorded`), and whether an occurrence was missed, i.e. the recorded next one has passed.

    A status whose `Next` does not follow from its `Last` (or `LastUpdated`) was written for another
    schedule: it is recomputed, from now if its next occurrence would already have passed, so a
    schedule change never counts as a missed occurrence."""
    if recorded is None:
        status = initial_status(schedule, now)
    else:
        if recorded.last != NEVER:
            base = recorded.last
        elif recorded.last_updated != NEVER:
            base = recorded.last_updated
        else:
            base = now
        expected = schedule.next_after(base)
        if recorded.next == expected:
            status = recorded
        elif now > expected:
            status = ScheduleStatus(last=NEVER, next=schedule.next_after(now), last_updated=now)
        else:
            status = ScheduleStatus(last=NEVER, next=expected, last_updated=base)
    return status, now > status.next


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _parse_iso(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("schedule status times are ISO 8601 strings")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("schedule status times carry their UTC offset")
    return moment
