"""What a deployment takes from its settings: the timer's schedule as the host's timer extension reads
it, and the Bicep modules' parameters (a parameter passed to a module that does not declare it stops
`azd up` at `bicep build`)."""

from __future__ import annotations

import re
from datetime import UTC

import pytest

from devhost.schedules import CronSchedule, ScheduleError, parse_schedule
from shared.config import ACCOUNTING_SYNC_SCHEDULE, sync_schedule
from tests.support.app import REPO

INFRA = REPO / "infra"


@pytest.mark.parametrize(
    "value",
    [
        "0 0 6 * * 7",  # Sunday as 7, as Unix cron allows; NCrontab's days of the week are 0-6
        "0 0 6 * * 5-7",
        "0 15 * * * ?",  # Quartz's "no specific value"; NCrontab has no `?`
        "0 1O * * * *",  # a typed letter O instead of a zero
        "0 15 * * * FOO",  # not a day name (nor a prefix of one)
    ],
)
def test_a_schedule_the_timer_extension_refuses_falls_back_to_the_default_instead_of_disabling_the_timer(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A value NCrontab refuses would leave the timer out on every host (devhost, `func start`, Azure)
    without a word from the app: it is logged and the default used. Checked against the local host's
    NCrontab rules (`devhost.schedules`)."""
    schedule = sync_schedule({"ACCOUNTING_SYNC_SCHEDULE": value})

    try:
        parse_schedule(schedule, UTC)
    except ScheduleError as refused:
        pytest.fail(f"sync_schedule passed {schedule!r} on to the timer, which the host refuses: {refused}")
    assert schedule == ACCOUNTING_SYNC_SCHEDULE
    assert "ACCOUNTING_SYNC_SCHEDULE" in caplog.text


def test_the_documented_timespan_schedule_is_refused_on_the_flex_consumption_plan_the_app_is_deployed_to() -> None:
    """The app runs on Flex Consumption (FC1), whose host refuses every non-CRON timer schedule
    (azure-functions-host `NonCronScheduleBehavior.Error` on consumption plans): a TimeSpan such as
    `01:00:00` is not passed on."""
    plan = (INFRA / "modules" / "functionapp.bicep").read_text(encoding="utf-8")
    assert "name: 'FC1'" in plan  # the plan the schedule must work on
    assert "tier: 'FlexConsumption'" in plan

    schedule = sync_schedule({"ACCOUNTING_SYNC_SCHEDULE": "01:00:00"})

    assert isinstance(parse_schedule(schedule, UTC), CronSchedule), (
        f"{schedule!r} is not a CRON expression: Flex Consumption refuses the AccountingSyncTimer binding"
    )


def _module_params(main: str) -> dict[str, tuple[str, set[str]]]:
    """module name -> (its file, the parameter names main.bicep passes to it)."""
    found: dict[str, tuple[str, set[str]]] = {}
    for match in re.finditer(r"^module (\w+) '([^']+)' = \{\n(.*?)^\}\n", main, re.M | re.S):
        body = match.group(3)
        params = re.search(r"^  params: \{\n(.*?)^  \}\n", body, re.M | re.S)
        assert params is not None, match.group(1)
        found[match.group(1)] = (match.group(2), set(re.findall(r"^    (\w+):", params.group(1), re.M)))
    return found


def test_main_bicep_passes_each_module_only_parameters_it_declares_and_the_smtp_settings_reach_the_app() -> None:
    """Every parameter main.bicep passes to a module is one that module declares (else BCP037 stops
    `azd up`), and the SMTP settings reach the function app, which makes them SMTP_* app settings."""
    main = (INFRA / "main.bicep").read_text(encoding="utf-8")
    modules = _module_params(main)
    assert {"storage", "functionApp"} <= set(modules)

    undeclared = {}
    for name, (path, passed) in modules.items():
        declared = set(re.findall(r"^param (\w+)", (INFRA / path).read_text(encoding="utf-8"), re.M))
        if passed - declared:
            undeclared[name] = sorted(passed - declared)
    assert undeclared == {}, f"parameters a module does not declare (BCP037, azd up fails): {undeclared}"
    assert {"smtpHost", "smtpPort", "smtpUsername", "smtpFrom"} <= modules["functionApp"][1]


def test_main_bicep_passes_every_required_module_parameter_and_uses_only_declared_outputs() -> None:
    """What `bicep build` would refuse (no Bicep compiler can be installed here): a module parameter
    without a default that main.bicep does not pass, or `module.outputs.x` that the module lacks."""
    main = (INFRA / "main.bicep").read_text(encoding="utf-8")
    problems = []
    for name, (path, passed) in _module_params(main).items():
        text = (INFRA / path).read_text(encoding="utf-8")
        required = {p for p, rest in re.findall(r"^param (\w+) ([^\n]*)", text, re.M) if "=" not in rest}
        outputs = set(re.findall(r"^output (\w+)", text, re.M))
        used = set(re.findall(rf"\b{name}\.outputs\.(\w+)", main))
        problems += [f"{name}: required parameter {p} not passed" for p in sorted(required - passed)]
        problems += [f"{name}: output {o} not declared" for o in sorted(used - outputs)]
    assert problems == []
