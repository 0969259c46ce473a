"""The host's pieces without processes: settings, host.json, polling back-off, decoding, redaction."""

from __future__ import annotations

import json
from pathlib import Path

import azure.functions as func
import pytest

from devhost.config import ConfigurationError, QueueOptions, load_host_config, parse_timespan
from devhost.functions import build_function_table
from devhost.processes import REPO_ROOT
from devhost.queues import PollingBackoff, decode_message, poison_queue_name
from devhost.web import query_params, redact_query, to_wsgi_response
from shared.local_settings import load_local_settings


def write_json(path: Path, payload: object) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


# --- local.settings.json -------------------------------------------------------------------------------


def test_local_settings_fill_the_environment_but_never_override_it(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "local.settings.json",
        {
            "IsEncrypted": False,
            "Values": {"A": "from-file", "B": "from-file", "FLAG": True, "N": 3, "NULL": None},
            "Host": {"LocalHttpPort": 7072},
        },
    )
    environ = {"B": "from-env"}
    settings = load_local_settings(path, environ)
    assert environ == {"A": "from-file", "B": "from-env", "FLAG": "True", "N": "3"}
    assert settings.skipped == ("B",)
    assert set(settings.applied) == {"A", "FLAG", "N"}
    assert settings.http_port == 7072


def test_a_missing_local_settings_file_leaves_the_environment_alone(tmp_path: Path) -> None:
    environ = {"A": "1"}
    settings = load_local_settings(tmp_path / "local.settings.json", environ)
    assert not settings.found
    assert environ == {"A": "1"}


def test_encrypted_or_malformed_local_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_local_settings(write_json(tmp_path / "a.json", {"IsEncrypted": True, "Values": {}}), {})
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError):
        load_local_settings(tmp_path / "b.json", {})


# --- host.json -------------------------------------------------------------------------------------------


def test_host_json_defaults_are_the_platforms(tmp_path: Path) -> None:
    config = load_host_config(tmp_path / "host.json")
    assert config.route_prefix == "api"
    assert config.queues == QueueOptions(
        batch_size=16,
        new_batch_threshold=8,
        max_polling_interval=60.0,
        visibility_timeout=0.0,
        max_dequeue_count=5,
        message_encoding="base64",
    )
    assert config.queues.max_concurrency == 24


def test_the_repositorys_host_json_is_read() -> None:
    config = load_host_config(REPO_ROOT / "host.json")
    assert config.found
    assert config.route_prefix == ""
    assert config.queues.max_polling_interval == 2.0
    assert config.queues.visibility_timeout == 10.0
    assert config.queues.message_encoding == "none"  # the export decodes base64 itself


def test_host_json_keys_are_case_insensitive_and_threshold_follows_batch_size(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "host.json",
        {"Extensions": {"HTTP": {"RoutePrefix": "/v1/"}, "Queues": {"BatchSize": 5, "MessageEncoding": "None"}}},
    )
    config = load_host_config(path)
    assert config.route_prefix == "v1"
    assert config.queues.batch_size == 5
    assert config.queues.new_batch_threshold == 2
    assert config.queues.message_encoding == "none"


@pytest.mark.parametrize(
    "queues",
    [
        {"batchSize": 33},
        {"batchSize": 0},
        {"maxDequeueCount": 0},
        {"maxPollingInterval": "00:00:00.05"},
        {"maxPollingInterval": 2000},
        {"visibilityTimeout": "30"},
        {"messageEncoding": "utf8"},
    ],
)
def test_invalid_queue_settings_are_refused(tmp_path: Path, queues: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        load_host_config(write_json(tmp_path / "host.json", {"extensions": {"queues": queues}}))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00:30", 30.0), ("00:01:00", 60.0), ("1.02:03:04", 93784.0), ("00:00:00.5", 0.5), ("00:10", 600.0)],
)
def test_timespans(text: str, seconds: float) -> None:
    assert parse_timespan(text) == seconds


# --- queues ---------------------------------------------------------------------------------------------


def test_polling_backs_off_exponentially_to_the_maximum_and_resets() -> None:
    backoff = PollingBackoff(0.1, 1.0, random_factor=lambda: 0.5)  # the random factor is then exactly 1
    delays = [backoff.next_delay(False) for _ in range(6)]
    assert delays == pytest.approx([0.2, 0.3, 0.5, 0.9, 1.0, 1.0])
    assert backoff.next_delay(True) == 0.1
    assert backoff.next_delay(False) == pytest.approx(0.2)


def test_decoding_follows_message_encoding() -> None:
    assert decode_message("aGVsbG8=", "base64") == b"hello"
    assert decode_message("aGVs\nbG8=", "base64") == b"hello"
    assert decode_message("aGVsbG8=", "none") == b"aGVsbG8="
    assert decode_message("héllo", "none") == "héllo".encode()
    for not_base64 in ("hello!", "aGVsbG8", "a b c"):
        with pytest.raises(ValueError, match="base64"):
            decode_message(not_base64, "base64")


def test_poison_queue_names() -> None:
    assert poison_queue_name("invoices") == "invoices-poison"
    assert poison_queue_name("invoices-poison") is None
    assert poison_queue_name("q" * 57) is None
    assert poison_queue_name("q" * 56) == "q" * 56 + "-poison"


# --- HTTP pieces ------------------------------------------------------------------------------------------


def test_redact_query() -> None:
    assert redact_query("apikey=s1&ApiKey=s2&CODE=s3&sig=s4&other=v") == (
        "apikey=***&ApiKey=***&CODE=***&sig=***&other=v"
    )
    assert redact_query("api%6Bey=s1&x=apikey") == "api%6Bey=***&x=apikey"
    assert redact_query("") == ""


def test_query_params_are_built_like_the_hosts() -> None:
    assert query_params("a=1&A=2&b=&c=x+y&d=%C3%A9") == {"a": "1,2", "c": "x y", "d": "é"}


def test_responses_convert_like_the_workers_http_output() -> None:
    status, headers, body = to_wsgi_response(func.HttpResponse("<p>", status_code=201, mimetype="text/html"))
    assert (status, body) == (201, b"<p>")
    assert ("Content-Type", "text/html; charset=utf-8") in headers
    _, headers, _ = to_wsgi_response(
        func.HttpResponse(b"{}", mimetype="application/json", headers={"Transfer-Encoding": "chunked"})
    )
    assert headers == [("Content-Type", "application/json")]
    with pytest.raises(TypeError):
        to_wsgi_response(b"bytes are not an HTTP response")
    with pytest.raises(TypeError):
        to_wsgi_response(None)


# --- indexing ----------------------------------------------------------------------------------------------


def test_the_function_table_skips_what_it_cannot_run(caplog: pytest.LogCaptureFixture) -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="b/{x}", methods=["GET", "post"])
    def by_param(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    @app.route(route="b/fixed")
    def fixed(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    @app.route(route="bad/{x:nosuch}")
    def bad_route(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse()

    @app.queue_trigger(arg_name="msg", queue_name="%JOBS%", connection="")
    def jobs(msg: func.QueueMessage) -> None:
        pass

    @app.queue_trigger(arg_name="msg", queue_name="%MISSING%", connection="Other")
    def unbound(msg: func.QueueMessage) -> None:
        pass

    @app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer")
    def every_five_minutes(timer: func.TimerRequest) -> None:
        pass

    with caplog.at_level("WARNING", logger="devhost"):
        table = build_function_table(app, route_prefix="api", environ={"JOBS": "job-queue"})
    assert [(f.target.name, f.route.text, f.methods) for f in table.http] == [
        ("fixed", "/api/b/fixed", None),
        ("by_param", "/api/b/{x}", frozenset({"GET", "POST"})),
    ]
    assert [(f.target.name, f.queue_name, f.connection) for f in table.queues] == [
        ("jobs", "job-queue", "AzureWebJobsStorage")
    ]
    assert [(f.target.name, f.schedule.text) for f in table.timers] == [("every_five_minutes", "0 */5 * * * *")]
    messages = caplog.text
    assert "which devhost does not run" not in messages
    assert "bad_route is not served" in messages
    assert "unbound is not run: app setting MISSING is not set" in messages
