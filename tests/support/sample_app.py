"""A small Functions app that exercises what devhost must do like the platform.

The tests copy this file into a temporary script root (next to its own host.json and
local.settings.json) and serve it with `run_devhost(app="sample_app:app", ...)`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
import uuid

import azure.functions as func
from azure.functions.timer import TimerRequest

# Blueprint's constructor has no annotations, hence the ignores.
routes = func.Blueprint()  # type: ignore[no-untyped-call]
queues = func.Blueprint()  # type: ignore[no-untyped-call]
timers = func.Blueprint()  # type: ignore[no-untyped-call]
_deliveries_lock = threading.Lock()
_timer_runs_lock = threading.Lock()
SLOW_TICK_SECONDS = 1.1
"""Longer than the every-second schedule of `slow_tick`, so its runs would overlap if allowed to."""
YEARLY = "0 0 0 1 1 *"
"""Midnight UTC on January 1st: never due while the tests run."""


def _json(payload: object, status_code: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(payload), status_code=status_code, mimetype="application/json")


@routes.route(route="items/{id:int}", methods=["GET"])
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "item_by_id", "route_params": dict(req.route_params)})


@routes.route(route="items/{name:alpha}", methods=["GET"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "item_by_name", "route_params": dict(req.route_params)})


@routes.route(route="items/special", methods=["GET"])
def item_special(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "item_special", "route_params": dict(req.route_params)})


@routes.route(route="things/{key:guid}", methods=["GET"])
def thing(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "thing", "route_params": dict(req.route_params)})


@routes.route(route="files/{*path}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "files", "route_params": dict(req.route_params)})


@routes.route(route="greet/{name?}", methods=["GET", "POST"])
def greet(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "greet", "route_params": dict(req.route_params), "method": req.method})


@routes.route(route="Mixed/Case/Path", methods=["GET"])
def mixed_case(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("mixed")


@routes.route(route="widgets", methods=["GET"])
def list_widgets(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("list")


@routes.route(route="widgets", methods=["POST"])
def create_widget(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("create", status_code=201)


@routes.route(route="echo/{tag}", methods=["POST", "PUT"], trigger_arg_name="request")
def echo(request: func.HttpRequest) -> func.HttpResponse:
    """Everything the function was given, and a response with custom status, headers and mimetype."""
    payload = {
        "method": request.method,
        "url": request.url,
        "params": dict(request.params),
        "route_params": dict(request.route_params),
        "headers": dict(request.headers),
        "body_b64": base64.b64encode(request.get_body()).decode("ascii"),
    }
    return func.HttpResponse(
        json.dumps(payload),
        status_code=202,
        headers={"X-Echo-Tag": request.route_params["tag"], "Cache-Control": "no-store"},
        mimetype="application/json",
    )


@routes.route(route="any")
def any_method(req: func.HttpRequest) -> func.HttpResponse:
    """No methods given: every method reaches it."""
    return func.HttpResponse(f"any {req.method}")


@routes.route(route="text", methods=["GET"])
def plain_text(req: func.HttpRequest) -> str:
    return "just a string"


@routes.route(route="boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("kaboom-7f3a")


@routes.route(route="async/{value}", methods=["GET"])
async def async_route(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    await asyncio.sleep(0.01)
    return _json(
        {
            "value": req.route_params["value"],
            "function_name": context.function_name,
            "invocation_id": context.invocation_id,
        }
    )


@routes.route(route="settings/{name}", methods=["GET"])
def setting(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(os.environ.get(req.route_params["name"], "<unset>"))


@queues.queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="AzureWebJobsStorage")
def record_delivery(msg: func.QueueMessage) -> None:
    """Appends each delivery to the file named by SAMPLE_DELIVERIES; fails when the body starts with
    "fail"."""
    body = msg.get_body()
    line = json.dumps(
        {"id": msg.id, "body_b64": base64.b64encode(body).decode("ascii"), "dequeue_count": msg.dequeue_count}
    )
    with _deliveries_lock, open(os.environ["SAMPLE_DELIVERIES"], "a", encoding="utf-8") as out:
        out.write(line + "\n")
    if body.startswith(b"fail"):
        raise ValueError("asked to fail")


@routes.route(route="{section}/functions/{name}", methods=["POST"])
def section_functions(req: func.HttpRequest) -> func.HttpResponse:
    """Would match /admin/functions/{name} too, were the host's admin path not checked first."""
    return _json({"function": "section_functions", "route_params": dict(req.route_params)})


def _record_run(function: str, timer: TimerRequest, **extra: object) -> None:
    """Appends one line per timer event to the file named by SAMPLE_TIMER_RUNS (when set). The timer
    functions take the worker's concrete `TimerRequest`: the abstract `func.TimerRequest` declares
    only `past_due`."""
    path = os.environ.get("SAMPLE_TIMER_RUNS")
    if not path:
        return
    record = {
        "function": function,
        "at": time.time(),
        "past_due": timer.past_due,
        "schedule_status": timer.schedule_status,
        "schedule": timer.schedule,
        **extra,
    }
    with _timer_runs_lock, open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


@timers.timer_trigger(schedule="%SAMPLE_TICK_SCHEDULE%", arg_name="timer")
def tick(timer: TimerRequest) -> None:
    _record_run("tick", timer)


@timers.timer_trigger(schedule="%SAMPLE_TICK_SCHEDULE%", arg_name="timer")
def tick_and_fail(timer: TimerRequest) -> None:
    _record_run("tick_and_fail", timer)
    raise RuntimeError("tick failed 5c1e")


@timers.timer_trigger(schedule="%SAMPLE_TICK_SCHEDULE%", arg_name="timer", run_on_startup=True)
def slow_tick(timer: TimerRequest) -> None:
    """Starts with the host, so a test can stop the host while it runs without waiting for a tick."""
    run = uuid.uuid4().hex
    _record_run("slow_tick", timer, event="start", run=run)
    time.sleep(SLOW_TICK_SECONDS)
    _record_run("slow_tick", timer, event="end", run=run)


@timers.timer_trigger(schedule=YEARLY, arg_name="timer", run_on_startup=True)
def new_year(timer: TimerRequest) -> None:
    _record_run("new_year", timer)


@timers.timer_trigger(schedule=YEARLY, arg_name="timer")
def on_demand(timer: TimerRequest) -> None:
    _record_run("on_demand", timer)


app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(routes)
app.register_functions(queues)
app.register_functions(timers)


@app.route(methods=["GET"])
def ping(req: func.HttpRequest) -> func.HttpResponse:
    """No route given: the platform uses the function name."""
    return func.HttpResponse("pong")
