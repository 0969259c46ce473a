"""host.json settings that keep the `apikey` query parameter out of the platform's own telemetry."""

from __future__ import annotations

import json
from typing import Any

from tests.support.app import REPO

LEVELS = ["Trace", "Debug", "Information", "Warning", "Error", "Critical", "None"]


def logging_settings() -> dict[str, Any]:
    settings: dict[str, Any] = json.loads((REPO / "host.json").read_text())["logging"]
    return settings


def test_aspnet_core_request_lines_with_the_query_string_are_not_logged() -> None:
    # "Request starting POST https://<app>/ApiInvoice/...?apikey=..." is an Information line of this
    # category; it reached Application Insights verbatim (azure-functions-host#11602).
    level = logging_settings()["logLevel"]["Microsoft.AspNetCore.Hosting.Diagnostics"]

    assert LEVELS.index(level) >= LEVELS.index("Warning")


def test_the_host_is_not_told_to_record_request_query_strings() -> None:
    app_insights = json.dumps(logging_settings().get("applicationInsights", {})).lower()

    assert "querystring" not in app_insights
    assert "sanitize" not in app_insights


def test_the_export_knows_which_attempt_is_the_last_before_the_poison_queue() -> None:
    from shared.config import Settings

    queues = json.loads((REPO / "host.json").read_text())["extensions"]["queues"]

    assert Settings().export_max_attempts == queues["maxDequeueCount"]
    # Messages are taken as they are: plain JSON from a Logic App or base64 from a script both work.
    assert queues["messageEncoding"] == "none"
