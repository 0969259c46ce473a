"""Hostile input never costs the service (issue 16, items 5 and 9): deeply nested JSON, periods and
dates at or past the edges of the years 2000-2099, ids past MAX_ID, and queue messages that can never
run. Each is a 4xx naming the field (HTTP) or a failed job record naming it on the message's first
delivery (queue), never a 500, a RecursionError or five retries into the poison queue.

HTTP calls go through the app's pipeline in-process (`Container.api.handle`, what
`blueprints._http.serve` calls for every HTTP trigger): an exception escaping it is the host's 500.
Queue messages go to `process`, what the queue trigger calls: raising is what makes the host retry.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.export.jobs import Job
from shared.json_depth import MAX_JSON_DEPTH
from shared.platform.keys import ADMIN_RIGHT, OPERATOR_RIGHT, RESELLER_RIGHT
from shared.validation import MAX_ID
from shared.web.types import ApiRequest, ApiResponse
from standins.economic import EconomicStandin
from tests.support.export import World


class App:
    """One tenant with an open draft per customer, called as an HTTP client with an API key would."""

    def __init__(self, env: dict[str, str], economic: EconomicStandin) -> None:
        self.world = World(env, economic, customers=1, notes=1)
        _, self.key = self.world.container.keys.create(
            self.world.tenant, rights=[ADMIN_RIGHT, RESELLER_RIGHT], limit=1000
        )

    def call(self, operation: str, body: bytes = b"") -> ApiResponse:
        request = ApiRequest(query={"apikey": self.key}, headers={}, body=body, route_params={})
        try:
            return self.world.container.api.handle(operation, request)
        except BaseException as error:  # the Functions host turns this into a 500
            pytest.fail(f"{operation} raised {type(error).__name__}: {error} -- the host answers 500")

    def deliver(self, text: str, message_id: str, dequeue_count: int = 1) -> Job:
        """One delivery of a queue message; raising means the host would retry it."""
        try:
            return self.world.container.export.process(text, message_id=message_id, dequeue_count=dequeue_count)
        except BaseException as error:
            pytest.fail(f"the worker raised {type(error).__name__}: {error} -- the host retries the message")


@pytest.fixture
def app(env: dict[str, str], economic: EconomicStandin) -> App:
    return App(env, economic)


def _errors(response: ApiResponse) -> dict[str, str]:
    assert response.status == 400, (response.status, response.body)
    assert isinstance(response.body, dict), response.body
    return {e["Field"]: e["Message"] for e in response.body["Errors"]}


def _nested(depth: int) -> str:
    return '{"reseller": "x", "deep": ' + "[" * depth + "]" * depth + "}"


# -- HTTP --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["CreateEconomicInvoiceDrafts", "CreateInvoicingRun", "PutTenantSettings"])
def test_a_body_nested_a_thousand_levels_deep_is_a_400_naming_the_body_and_the_limit(app: App, operation: str) -> None:
    errors = _errors(app.call(operation, _nested(1000).encode()))

    assert list(errors) == ["body"]
    assert f"more than {MAX_JSON_DEPTH} levels" in errors["body"]


def test_nesting_up_to_the_limit_is_read_and_brackets_inside_strings_do_not_count(app: App) -> None:
    deep_enough = '{"groupInvoiceLines": false, "x": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    body = deep_enough + ', "y": "' + "[" * 1000 + '\\"{{{{"}'

    response = app.call("CreateEconomicInvoiceDrafts", body.encode())

    assert response.status == 202, response.body


def test_an_invoicing_run_for_the_last_month_there_is_runs_and_the_month_after_is_a_400(app: App) -> None:
    """December 2099 ends in January 2100, a month no period is: the run's range must not need one."""
    last = app.call("CreateInvoicingRun", b'{"period": "2099-12"}')
    after = app.call("CreateInvoicingRun", b'{"period": "2100-01"}')

    assert last.status == 200, last.body
    assert isinstance(last.body, dict)
    assert last.body["period"] == "2099-12"
    assert "2099-12" in _errors(after)["period"]


@pytest.mark.parametrize("invoice_date", ["3000-01-01", "2100-01-01", "1999-12-31", "0001-01-01"])
def test_an_export_invoice_date_outside_the_years_2000_to_2099_is_a_400_naming_it(app: App, invoice_date: str) -> None:
    assert app.world.drafts  # an open draft: the export compares its month with the invoice date's
    errors = _errors(app.call("CreateEconomicInvoiceDrafts", json.dumps({"invoiceDate": invoice_date}).encode()))

    assert errors == {"invoiceDate": "must lie between 2000-01-01 and 2099-12-31"}


def test_the_last_invoice_date_there_is_exports_the_open_drafts(app: App) -> None:
    response = app.call("CreateEconomicInvoiceDrafts", b'{"invoiceDate": "2099-12-31"}')

    assert response.status == 202, response.body
    assert isinstance(response.body, dict)
    assert response.body["drafts"] == app.world.drafts


@pytest.mark.parametrize("omit", [[MAX_ID + 1], [str(10**30)], ["1" * 5000]])
def test_a_draft_id_to_omit_past_the_largest_id_is_a_400_naming_the_field(app: App, omit: list[Any]) -> None:
    errors = _errors(app.call("CreateEconomicInvoiceDrafts", json.dumps({"invoicesToOmit": omit}).encode()))

    assert list(errors) == ["invoicesToOmit"]
    assert str(MAX_ID) in errors["invoicesToOmit"]


# -- the queue ---------------------------------------------------------------------------------------


def test_a_queue_message_with_an_invoice_date_in_3000_fails_on_its_first_delivery_naming_the_date(app: App) -> None:
    world = app.world
    text = json.dumps({"reseller": world.tenant, "invoiceDate": "3000-01-01"})
    message_id = "direct-" + world.tenant

    job = app.deliver(text, message_id)

    assert (job.state, job.poisoned) == ("failed", False)
    assert world.job(message_id).errors == job.errors
    assert "invoiceDate: must lie between 2000-01-01 and 2099-12-31" in job.errors[0].message
    assert [h.status for h in world.headers().values()] == ["open"]
    assert world.documents() == {}


def test_a_queue_message_nested_a_thousand_levels_deep_leaves_a_failed_record_naming_the_rule(app: App) -> None:
    message_id = "nested-" + app.world.tenant

    job = app.deliver(_nested(1000), message_id)

    recorded = app.world.job(message_id)
    assert (recorded.state, recorded.poisoned) == ("failed", False)
    assert f"more than {MAX_JSON_DEPTH} levels" in recorded.errors[0].message
    assert job == recorded


def test_a_message_naming_a_job_that_cannot_run_fails_that_job_readable_by_its_tenant(app: App) -> None:
    """The message names the job an HTTP export started; its failure is on that job's record, so
    GET .../invoice/draft/{jobId} answers it (not a record under the queue's own message id)."""
    world = app.world
    job_id = world.start()["jobId"]
    world.message_for(job_id)  # the export's own message is not delivered here
    text = json.dumps({"jobId": job_id, "invoicesToOmit": "not ids"})

    app.deliver(text, "m-" + job_id)

    status = world.container.export.status(world.principal(RESELLER_RIGHT), job_id)
    assert (status.state, status.poisoned) == ("failed", False)
    assert "invoicesToOmit" in status.errors[0].Message
    assert [h.status for h in world.headers().values()] == ["open"]


def test_a_message_naming_a_job_that_does_not_exist_leaves_a_record_under_that_job_id(app: App) -> None:
    missing = "no-such-job-" + app.world.tenant

    app.deliver(json.dumps({"jobId": missing}), "m-" + missing)

    status = app.world.container.export.status(app.world.principal(OPERATOR_RIGHT), missing)
    assert status.state == "failed"
    assert "does not exist" in status.errors[0].Message
