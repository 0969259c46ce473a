"""Logs and traces: correlation with the calling workflow, redaction of credentials in URLs, and
export to Application Insights when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set.

- Every log record made while a request is handled carries `client_tracking_id` and
  `workflow_run_id` (from Logic Apps' `x-ms-client-tracking-id` / `x-ms-workflow-run-id` headers)
  as attributes (custom dimensions in Application Insights) and at the end of its message, so the
  ids survive every sink, including the Functions host's own copy of the worker's logs.
- Every log message and every URL attribute of a span has the values of `apikey` (any casing),
  `code` and `sig` query parameters replaced by `***`.

`configure()` runs once at import of `function_app.py`. It imports `azure.monitor.opentelemetry`
only when the connection string is set, so local runs and tests pay nothing for it.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

SECRET_QUERY_PARAMETERS = ("apikey", "code", "sig")
REDACTED = "***"
URL_ATTRIBUTES = ("url.full", "http.url", "url.query", "http.target")
LOGGER_NAME = "invoice_bridge"

# `apikey=...` wherever it stands in a URL or a query string: after ?, & or ; or at the start of a
# bare query (`url.query` has no `?`), up to the next separator, quote, whitespace or fragment.
_SECRET_IN_QUERY = re.compile(
    r"(?i)(?P<lead>(?:^|[?&;\s\"'(,]))(?P<name>" + "|".join(SECRET_QUERY_PARAMETERS) + r")=(?P<value>[^&;#\s\"')<>,]*)"
)

_CORRELATION_HEADERS = {"x-ms-client-tracking-id": "client_tracking_id", "x-ms-workflow-run-id": "workflow_run_id"}
_correlation: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar("correlation", default=())
"""The current request's (attribute name, cleaned id) pairs, only those present: read by every log record."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+=-]")
_MAX_ID = 128


# An Invoice Bridge API key anywhere (an `X-Api-Key` header dumped by a debug log, a key pasted into
# a hint): its id stays, which names the connection without being a credential.
_API_KEY = re.compile(r"\b(ib_[0-9a-f]{16}_)[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    """`text` with the values of apikey/code/sig query parameters, and the secret part of any API key,
    replaced by `***`."""
    if "ib_" in text:
        text = _API_KEY.sub(lambda m: f"{m[1]}{REDACTED}", text)
    if "=" not in text:
        return text
    return _SECRET_IN_QUERY.sub(lambda m: f"{m['lead']}{m['name']}={REDACTED}", text)


def _clean_id(value: str | None) -> str | None:
    """A correlation id as it may appear in a log line: a header is caller-controlled, so no line
    breaks or other characters that could forge a log line, and a bounded length."""
    if not value:
        return None
    cleaned = _UNSAFE.sub("_", value.strip())[:_MAX_ID]
    return cleaned or None


@contextlib.contextmanager
def request_context(headers: Mapping[str, str]) -> Iterator[None]:
    """Binds the caller's correlation ids (lower-cased header names) to every log record made inside."""
    ids = tuple(
        (name, value) for header, name in _CORRELATION_HEADERS.items() if (value := _clean_id(headers.get(header)))
    )
    token = _correlation.set(ids)
    try:
        yield
    finally:
        _correlation.reset(token)


_installed_factory: Callable[..., logging.LogRecord] | None = None


def _install_record_factory() -> None:
    """Every record, from any logger (ours, the Azure SDK's, the worker's), is redacted and carries
    the correlation ids at creation, before any handler or exporter sees it."""
    global _installed_factory
    current = logging.getLogRecordFactory()
    if current is _installed_factory:
        return
    previous = current

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record  # a malformed format: logging reports it when a handler formats the record
        ids = _correlation.get()
        cleaned = redact(message)
        if ids:
            cleaned += " [" + " ".join(f"{name}={value}" for name, value in ids) + "]"
            for name, value in ids:
                setattr(record, name, value)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return record

    logging.setLogRecordFactory(factory)
    _installed_factory = factory


def redacted_urls(attributes: Mapping[str, Any]) -> dict[str, str]:
    """The URL attributes among span `attributes` that carry credentials, redacted; empty if none do."""
    return {
        name: cleaned
        for name in URL_ATTRIBUTES
        if isinstance(value := attributes.get(name), str) and (cleaned := redact(value)) != value
    }


def redacting_span_processor() -> Any:
    """An OpenTelemetry span processor that redacts URL attributes before any exporter sees them.
    Built lazily: the OpenTelemetry SDK is imported only when telemetry is exported."""
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

    class RedactingSpanProcessor(SpanProcessor):
        def on_start(self, span: Span, parent_context: Any = None) -> None:
            if changed := redacted_urls(span.attributes or {}):
                span.set_attributes(changed)

        def on_end(self, span: ReadableSpan) -> None:
            # Attributes set after start (e.g. by an instrumentation on the response) are redacted
            # here; processors run in order, so the exporter's processor (added after this one) sees
            # the redacted copy.
            if changed := redacted_urls(span.attributes or {}):
                span._attributes = {**(span.attributes or {}), **changed}

    return RedactingSpanProcessor()


_configured = False


def configure(env: Mapping[str, str] | None = None) -> bool:
    """Installs correlation and redaction on logging and, when `APPLICATIONINSIGHTS_CONNECTION_STRING`
    is set, exports logs and traces to Application Insights. Returns whether it exports. Idempotent."""
    global _configured
    env = os.environ if env is None else env
    _install_record_factory()
    connection_string = env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()
    if not connection_string:
        return False
    if _configured:
        return True
    from azure.monitor.opentelemetry import configure_azure_monitor

    options: dict[str, Any] = {
        "connection_string": connection_string,
        "logger_name": LOGGER_NAME,
        "span_processors": [redacting_span_processor()],
        # Our HTTP calls are the Azure SDK's (traced by azure_sdk); the web framework instrumentations
        # have nothing to instrument in a Functions worker.
        "instrumentation_options": {
            "django": {"enabled": False},
            "fastapi": {"enabled": False},
            "flask": {"enabled": False},
            "psycopg2": {"enabled": False},
        },
        "enable_live_metrics": False,
    }
    if "Authorization=AAD" in env.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", ""):
        # Local authentication is off on the Application Insights resource: send with Entra ID, as
        # the managed identity that holds Monitoring Metrics Publisher on it.
        from azure.identity import ManagedIdentityCredential

        client_id = _authentication_client_id(env["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"])
        options["credential"] = (
            ManagedIdentityCredential(client_id=client_id) if client_id else (ManagedIdentityCredential())
        )
    configure_azure_monitor(**options)
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
    _configured = True
    return True


def _authentication_client_id(value: str) -> str | None:
    for part in value.split(";"):
        name, _, setting = part.partition("=")
        if name.strip().lower() == "clientid" and setting.strip():
            return setting.strip()
    return None
