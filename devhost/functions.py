"""Indexing the app's functions and invoking them the way the Python worker does."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.decorators.http import HttpTrigger
from azure.functions.decorators.queue import QueueTrigger
from azure.functions.decorators.timer import TimerTrigger

from devhost.routing import RouteTemplate, RouteTemplateError
from devhost.schedules import Schedule, ScheduleError, load_time_zone, parse_schedule, use_monitor

log = logging.getLogger("devhost")

DEFAULT_STORAGE_CONNECTION = "AzureWebJobsStorage"
_QUEUE_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_APP_SETTING = re.compile(r"%([^%]+)%")


class AppLoadError(RuntimeError):
    """The app object cannot be imported or indexed."""


@dataclass(frozen=True)
class InvocationContext:
    """The `context` argument the worker passes to functions that declare one (a subset of
    `azure.functions.Context`)."""

    invocation_id: str
    function_name: str
    function_directory: str
    thread_local_storage: threading.local = field(default_factory=threading.local, compare=False)


@dataclass(frozen=True)
class FunctionTarget:
    """A user function and how to call it."""

    name: str
    func: Callable[..., Any]
    arg_name: str
    """The trigger's argument name: the request or message is passed under it as a keyword."""
    wants_context: bool
    is_async: bool
    directory: str


@dataclass(frozen=True)
class HttpFunction:
    target: FunctionTarget
    route: RouteTemplate
    methods: frozenset[str] | None
    """Upper-case method names, or None for every method."""


@dataclass(frozen=True)
class QueueFunction:
    target: FunctionTarget
    queue_name: str
    connection: str


@dataclass(frozen=True)
class TimerFunction:
    target: FunctionTarget
    schedule: Schedule
    run_on_startup: bool
    use_monitor: bool
    """Whether the schedule status is recorded, so an occurrence missed while the host was down runs
    at start-up (see `devhost.schedules.use_monitor` for the default)."""


@dataclass(frozen=True)
class FunctionTable:
    http: tuple[HttpFunction, ...] = ()
    """Most specific route first, the order in which requests are matched."""
    queues: tuple[QueueFunction, ...] = ()
    timers: tuple[TimerFunction, ...] = ()


def load_app(spec: str, script_root: Path) -> func.FunctionRegister:
    """Import `module:attribute` with the script root first on sys.path, as the worker does."""
    module_name, _, attribute = spec.partition(":")
    attribute = attribute or "app"
    root = str(script_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise AppLoadError(f"cannot import {module_name!r} from {script_root}: {exc!r}") from exc
    app = getattr(module, attribute, None)
    if not isinstance(app, func.FunctionRegister):  # FunctionApp, or the Asgi/Wsgi variants
        raise AppLoadError(f"{spec} is not an azure.functions.FunctionApp")
    return app


def overlapping_routes(functions: Sequence[HttpFunction]) -> list[str]:
    """Warnings for routes that can match the same request. This host picks the most specific route,
    but Azure Functions matches routes in the order it registers them, not by specificity
    (azure-functions-host#9876), so in Azure the other function may answer. Checked for the common
    case: a route of literal segments only that another route's parameters also match."""
    warnings = []
    for fixed in functions:
        path = [segment.literal for segment in fixed.route.segments]
        if any(part is None for part in path):
            continue
        for other in functions:
            if other is fixed or other.route.match([p for p in path if p is not None]) is None:
                continue
            shared = _methods_overlap(fixed.methods, other.methods)
            if shared:
                warnings.append(
                    f"Routes of {fixed.target.name} ({fixed.route.text}) and {other.target.name} "
                    f"({other.route.text}) both match {fixed.route.text} for {shared}: this host picks "
                    f"{fixed.target.name}, but Azure Functions matches in registration order, not by "
                    "specificity, so there either may answer. Give them routes that cannot overlap."
                )
    return warnings


def _methods_overlap(first: frozenset[str] | None, second: frozenset[str] | None) -> str:
    if first is None and second is None:
        return "every method"
    if first is None or second is None:
        return ", ".join(sorted(second if first is None else first))  # type: ignore[arg-type]
    return ", ".join(sorted(first & second))


def build_function_table(app: func.FunctionRegister, *, route_prefix: str, environ: Mapping[str, str]) -> FunctionTable:
    """The HTTP routes, queue triggers and timer triggers of the app. A function this host cannot run
    is logged and left out, as the platform does with a function whose binding fails to index.

    Raises `ConfigurationError` when the app has timer functions and `WEBSITE_TIME_ZONE` names no
    known time zone (a host-wide setting, not one function's)."""
    try:
        functions = app.get_functions()
    except Exception as exc:
        raise AppLoadError(f"cannot index the app's functions: {exc}") from exc
    http: list[HttpFunction] = []
    queues: list[QueueFunction] = []
    timers: list[TimerFunction] = []
    time_zone: tzinfo | None = None
    for fn in functions:
        name = fn.get_function_name() or fn.get_user_function().__name__
        trigger = fn.get_trigger()
        if isinstance(trigger, HttpTrigger):
            target = _target(name, fn.get_user_function(), trigger.name)
            try:
                route = RouteTemplate(trigger.route if trigger.route is not None else name, route_prefix)
            except RouteTemplateError as exc:
                log.error("Function %s is not served: %s", name, exc)
                continue
            methods = trigger.methods
            allowed = frozenset(_method_name(m) for m in methods) if methods else None
            http.append(HttpFunction(target=target, route=route, methods=allowed))
        elif isinstance(trigger, QueueTrigger):
            target = _target(name, fn.get_user_function(), trigger.name)
            try:
                queue_name = resolve_app_settings(trigger.queue_name, environ)
                connection = resolve_app_settings(trigger.connection or "", environ)
            except KeyError as exc:
                log.error("Function %s is not run: app setting %s is not set", name, exc.args[0])
                continue
            if not _QUEUE_NAME.match(queue_name):
                log.error("Function %s is not run: %r is not a valid queue name", name, queue_name)
                continue
            queues.append(
                QueueFunction(target=target, queue_name=queue_name, connection=connection or DEFAULT_STORAGE_CONNECTION)
            )
        elif isinstance(trigger, TimerTrigger):
            time_zone = time_zone or load_time_zone(environ)
            timer = _timer_function(name, fn.get_user_function(), trigger, environ, time_zone)
            if timer is not None:
                timers.append(timer)
        else:
            kind = type(trigger).__name__ if trigger is not None else "no trigger"
            log.warning("Function %s has a %s, which devhost does not run; skipping it", name, kind)
    http.sort(key=lambda f: f.route.sort_key())
    for warning in overlapping_routes(http):
        log.warning(warning)
    return FunctionTable(http=tuple(http), queues=tuple(queues), timers=tuple(timers))


def _timer_function(
    name: str, function: Callable[..., Any], trigger: TimerTrigger, environ: Mapping[str, str], time_zone: tzinfo
) -> TimerFunction | None:
    """The timer function, or None (logged) when its schedule cannot be bound: the platform then
    reports the function as in error and runs the others."""
    target = _target(name, function, trigger.name)
    try:
        text = resolve_app_settings(trigger.schedule, environ)
    except KeyError as exc:
        log.error("Function %s is not run: app setting %s is not set", name, exc.args[0])
        return None
    try:
        schedule = parse_schedule(text, time_zone)
    except ScheduleError as exc:
        log.error("Function %s is not run: %s", name, exc)
        return None
    monitored = use_monitor(schedule, trigger.use_monitor, datetime.now(time_zone))
    return TimerFunction(
        target=target, schedule=schedule, run_on_startup=bool(trigger.run_on_startup), use_monitor=monitored
    )


def resolve_app_settings(text: str, environ: Mapping[str, str]) -> str:
    """Binding expressions `%Name%` take the value of app setting `Name`, as the platform resolves them."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise KeyError(name)
        return environ[name]

    return _APP_SETTING.sub(value, text)


def _method_name(method: object) -> str:
    value = getattr(method, "value", method)
    return str(value).upper()


def _target(name: str, function: Callable[..., Any], arg_name: str) -> FunctionTarget:
    parameters = inspect.signature(function).parameters
    for parameter in parameters.values():
        required = parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        )
        if required and parameter.name not in (arg_name, "context"):
            log.warning(
                "Function %s: parameter %r belongs to a binding devhost does not provide; calls will fail",
                name,
                parameter.name,
            )
    source = inspect.getsourcefile(function)
    return FunctionTarget(
        name=name,
        func=function,
        arg_name=arg_name,
        wants_context="context" in parameters,
        is_async=inspect.iscoroutinefunction(function),
        directory=str(Path(source).parent) if source else "",
    )


class Invoker:
    """Calls functions as the Python worker does: a sync function on the calling thread (the worker
    runs those on its thread pool, here the HTTP server's or a queue's threads), an `async def`
    function on one event loop shared by every invocation (the worker's loop)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="devhost-asyncio", daemon=True)
        self._thread.start()

    def new_context(self, target: FunctionTarget) -> InvocationContext:
        return InvocationContext(
            invocation_id=str(uuid.uuid4()), function_name=target.name, function_directory=target.directory
        )

    def call(self, target: FunctionTarget, trigger_value: object, context: InvocationContext) -> object:
        kwargs: dict[str, object] = {target.arg_name: trigger_value}
        if target.wants_context:
            kwargs["context"] = context
        if target.is_async:
            future: Future[object] = asyncio.run_coroutine_threadsafe(target.func(**kwargs), self._loop)
            return future.result()
        return target.func(**kwargs)

    def invoke(self, target: FunctionTarget, trigger_value: object, *, details: str) -> bool:
        """Runs a non-HTTP invocation and logs its outcome the way the host does:
        `Executed 'Functions.<name>' (Succeeded|Failed, Id=..., <details>, Duration=...)`, with the
        traceback on failure. Returns whether it succeeded."""
        context = self.new_context(target)
        started = time.perf_counter()
        line = "Executed 'Functions.%s' (%s, Id=%s, %s, Duration=%.0fms)"
        try:
            self.call(target, trigger_value, context)
        except Exception:
            elapsed = (time.perf_counter() - started) * 1000
            log.exception(line, target.name, "Failed", context.invocation_id, details, elapsed)
            return False
        elapsed = (time.perf_counter() - started) * 1000
        log.info(line, target.name, "Succeeded", context.invocation_id, details, elapsed)
        return True

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
