"""Run by test_observability in a fresh process: configures export to a fake ingestion endpoint on
127.0.0.1 (argv[1] = its port), logs one line during a call, and flushes."""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from opentelemetry._logs import get_logger_provider

from shared import observability

port = sys.argv[1]
connection = f"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:{port}/"
assert observability.configure({"APPLICATIONINSIGHTS_CONNECTION_STRING": connection}) is True
with observability.request_context({"x-ms-client-tracking-id": "trk-e2e", "x-ms-workflow-run-id": "run-e2e"}):
    logging.getLogger("invoice_bridge.http").warning("calling https://h/p?ApiKey=PROBE-SECRET-1 now")
get_logger_provider().force_flush()  # type: ignore[attr-defined]
processors = trace.get_tracer_provider()._active_span_processor._span_processors  # type: ignore[attr-defined]
print("processors:", " ".join(type(p).__name__ for p in processors))
