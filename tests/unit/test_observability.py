"""Credentials never reach a log line or a span; every log line of a call names the calling workflow."""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import observability
from shared.observability import configure, redact, redacting_span_processor, request_context
from tests.support.app import REPO

SECRET = "ib_0123456789abcdef_S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3c"


@pytest.mark.parametrize(
    "text",
    [
        f"https://app.azurewebsites.net/ApiInvoice/CreateTicket?apikey={SECRET}",
        f"https://app/ApiInvoice/CreateTicket?x=1&ApiKey={SECRET}&y=2",
        f"POST /ApiInvoice/CreateTicket?APIKEY={SECRET} 200",
        f"apiKey={SECRET}",  # a bare query string, as in url.query
        f"GET /admin?code={SECRET}#frag",
        f"https://acct.blob.core.windows.net/c/b?sv=2024&sig={SECRET}",
        f"url='https://h/p?a=b;apikey={SECRET}'",
    ],
)
def test_credentials_in_urls_are_redacted_whatever_their_casing(text: str) -> None:
    cleaned = redact(text)

    assert SECRET not in cleaned
    assert "=***" in cleaned


def test_an_api_key_outside_a_url_loses_its_secret_part_and_keeps_its_id() -> None:
    cleaned = redact(f"headers={{'x-api-key': '{SECRET}'}}")

    assert SECRET not in cleaned
    assert "ib_0123456789abcdef_***" in cleaned


def test_other_parameters_and_look_alikes_stay() -> None:
    text = "https://h/p?myapikey=visible&apikeys=visible&codec=h264&design=1&Skip=0"

    assert redact(text) == text


def test_redaction_keeps_the_rest_of_the_url() -> None:
    assert redact(f"https://h/ApiInvoice/X?Skip=0&apikey={SECRET}&PageSize=5") == (
        "https://h/ApiInvoice/X?Skip=0&apikey=***&PageSize=5"
    )


@pytest.fixture
def app_logging() -> None:
    configure({})


def test_a_logged_url_is_redacted_before_any_handler_sees_it(
    app_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    logging.getLogger("azure.core").info("Request URL: '%s'", f"https://h/p?ApiKey={SECRET}")

    assert SECRET not in caplog.text
    assert "ApiKey=***" in caplog.text


def test_log_lines_during_a_call_carry_the_workflow_correlation(
    app_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    headers = {"x-ms-client-tracking-id": "08584-track", "x-ms-workflow-run-id": "08585-run"}

    with request_context(headers):
        logging.getLogger("invoice_bridge.http").info("CreateInvoicePositionNote -> %s", 200)
        logging.getLogger("azure.data.tables").warning("retrying")
    logging.getLogger("invoice_bridge.http").info("after the call")

    during, sdk, after = caplog.records
    assert during.client_tracking_id == "08584-track"  # type: ignore[attr-defined]
    assert during.workflow_run_id == "08585-run"  # type: ignore[attr-defined]
    assert during.getMessage().endswith("[client_tracking_id=08584-track workflow_run_id=08585-run]")
    assert sdk.client_tracking_id == "08584-track"  # type: ignore[attr-defined]
    assert not hasattr(after, "client_tracking_id")
    assert after.getMessage() == "after the call"


def test_a_forged_correlation_header_cannot_break_a_log_line(
    app_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    with request_context({"x-ms-client-tracking-id": "abc\nFAKE LINE " + "x" * 500}):
        logging.getLogger("invoice_bridge").info("call")

    (record,) = caplog.records
    assert "\n" not in record.getMessage()
    assert len(record.client_tracking_id) <= 128  # type: ignore[attr-defined]


def test_only_present_ids_are_added(app_logging: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    with request_context({"x-ms-workflow-run-id": "run-1"}):
        logging.getLogger("invoice_bridge").info("call")

    assert caplog.records[0].getMessage() == "call [workflow_run_id=run-1]"


def test_spans_reach_the_exporter_with_urls_redacted() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(redacting_span_processor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")

    with tracer.start_as_current_span("GET", attributes={"url.full": f"https://h/p?apiKey={SECRET}"}) as span:
        span.set_attribute("http.url", f"https://h/p?x=1&CODE={SECRET}")
        span.set_attribute("url.query", f"sig={SECRET}&sv=1")
        span.set_attribute("http.status_code", 200)

    (exported,) = exporter.get_finished_spans()
    attributes = dict(exported.attributes or {})
    assert SECRET not in str(attributes)
    assert attributes["url.full"] == "https://h/p?apiKey=***"
    assert attributes["http.url"] == "https://h/p?x=1&CODE=***"
    assert attributes["url.query"] == "sig=***&sv=1"
    assert attributes["http.status_code"] == 200


def test_without_a_connection_string_nothing_is_exported_and_the_exporter_is_not_imported() -> None:
    code = (
        "import sys, function_app\n"
        "from shared.observability import configure\n"
        "assert configure({}) is False\n"
        "print('azure.monitor.opentelemetry' in sys.modules, 'opentelemetry.sdk' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_the_authentication_string_names_a_user_assigned_identity() -> None:
    assert observability._authentication_client_id("Authorization=AAD;ClientId=abc-123") == "abc-123"
    assert observability._authentication_client_id("Authorization=AAD") is None


def test_with_a_connection_string_logs_reach_application_insights_redacted_and_correlated() -> None:
    received: list[bytes] = []

    class Ingestion(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            received.append(gzip.decompress(body) if self.headers.get("content-encoding") == "gzip" else body)
            answer = json.dumps({"itemsReceived": 1, "itemsAccepted": 1, "errors": []}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Ingestion)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.support.appinsights_probe", str(server.server_address[1])],
            cwd=REPO,
            env={"PATH": "/usr/bin:/bin", "TMPDIR": tempfile.mkdtemp()},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.shutdown()

    assert result.returncode == 0, result.stderr
    (message,) = [item for batch in received for item in json.loads(batch) if item["data"]["baseType"] == "MessageData"]
    data = message["data"]["baseData"]
    assert data["message"].startswith("calling https://h/p?ApiKey=*** now")
    assert data["properties"]["client_tracking_id"] == "trk-e2e"
    assert data["properties"]["workflow_run_id"] == "run-e2e"
    assert b"PROBE-SECRET-1" not in b"".join(received)
    # Spans: our redaction runs before the exporter's processor.
    names = result.stdout.split("processors:")[1].split()
    assert names.index("RedactingSpanProcessor") < names.index("BatchSpanProcessor")
