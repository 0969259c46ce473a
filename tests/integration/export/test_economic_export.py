"""The e-conomic export end to end at the service level: real Table storage and queue (Azurite), the
e-conomic stand-in over HTTP (every body validated against e-conomic's schemas) and a real SMTP server.

This module has its own Azurite, so no local host of another test module takes its queue messages.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.adapters.economic import EconomicUnavailable
from shared.errors import Conflict, Denied, DomainError, NotFound, Rejected
from shared.export.ports import JobBusy
from shared.export.schemas import ExportIn
from shared.invoicing.directory import Customer
from shared.invoicing.ledger import EXPORTED, OPEN
from shared.repositories.billing import TableDirectoryRepository
from shared.web.status import error_body
from standins.economic import EconomicStandin
from standins.smtp import SmtpStandIn
from tests.support.export import INVOICE_DATE, World


def refusal(world: World, *rights: str, **fields: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        world.start(*rights, **fields)
    return caught.value


# -- happy paths --------------------------------------------------------------------------------------


def test_export_creates_one_e_conomic_draft_per_draft_marks_them_exported_and_mails_the_result(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn
) -> None:
    world = World(env, economic, customers=3)

    started = world.start()
    job = world.run(started["jobId"])

    assert started["total"] == 3
    assert started["drafts"] == world.drafts
    assert started["statusUrl"].endswith(f"/integration/economic/invoice/draft/{started['jobId']}")
    assert job.state == "succeeded"
    documents = world.documents()
    assert sorted(d["references"]["other"] for d in documents.values()) == [
        f"IB-{world.tenant}-{n}" for n in world.drafts
    ]
    headers = world.headers()
    for number in world.drafts:
        header = headers[number]
        assert header.status == EXPORTED
        doc = documents[header.accounting["documentNumber"]]
        assert doc["references"]["other"] == f"IB-{world.tenant}-{number}"
        assert doc["customer"]["customerNumber"] == 1
        assert doc["layout"]["layoutNumber"] == 19  # customer group 1's
        assert doc["recipient"]["name"] == "Acme A/S"
        assert Decimal(str(doc["netAmount"])) == header.totals.net  # to the cent
    status = world.container.export.describe(world.job(started["jobId"]))
    assert (status.success, status.total, status.exported, status.state) == (True, 3, 3, "succeeded")
    assert {d.draftId: d.number for d in status.documents} == {
        n: headers[n].accounting["documentNumber"] for n in world.drafts
    }
    (mail,) = smtp.wait_for(1)
    assert sorted(mail.rcpt_tos) == sorted(["requester@example.com", f"accounting@{world.tenant}.example"])
    assert "3 draft invoices created" in str(mail.message["Subject"])
    text = mail.message.get_content()
    for number in world.drafts:
        assert f"{number:>8} -> {headers[number].accounting['documentNumber']}" in text


def test_orders_go_to_the_orders_endpoint(env: dict[str, str], economic: EconomicStandin) -> None:
    world = World(env, economic, customers=2)

    job = world.run(world.start(documentType="order")["jobId"])

    assert job.state == "succeeded"
    assert len(world.documents("order")) == 2
    assert world.documents("draftInvoice") == {}
    assert {h.accounting["documentType"] for h in world.headers().values()} == {"order"}


def test_grouped_lines_sum_per_product_month_and_price_and_keep_the_total(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=1, notes=8)

    world.run(world.start(groupInvoiceLines=True)["jobId"])

    (doc,) = world.documents().values()
    header = world.headers()[world.drafts[0]]
    assert len(doc["lines"]) == 2  # all time on product "1" at 950.00, plus the surcharges
    assert Decimal(str(doc["netAmount"])) == header.totals.net
    assert header.totals.lines > 8


def test_layout_from_the_request_wins_then_the_customers_own(env: dict[str, str], economic: EconomicStandin) -> None:
    world = World(env, economic, customers=2)
    repo = TableDirectoryRepository(world.container.storage.table_ref("Billing"))
    repo.put(world.tenant, Customer(2, "Customer 2", 2, "c2@example.com", "DKK"))  # Globex: layout 21 of its own

    world.run(world.start()["jobId"])
    layouts = {d["customer"]["customerNumber"]: d["layout"]["layoutNumber"] for d in world.documents().values()}
    assert layouts == {1: 19, 2: 21}

    other = World(env, economic, customers=1)
    other.run(other.start(layout=21)["jobId"])
    assert [d["layout"]["layoutNumber"] for d in other.documents().values()] == [21]


def test_omitted_drafts_stay_open_and_count_in_the_total(env: dict[str, str], economic: EconomicStandin) -> None:
    world = World(env, economic, customers=3)
    omitted = world.drafts[1]

    started = world.start(invoicesToOmit=[omitted])
    job = world.run(started["jobId"])

    assert (started["total"], started["drafts"]) == (3, [n for n in world.drafts if n != omitted])
    assert (job.total, job.exported) == (3, 2)
    assert world.headers()[omitted].status == OPEN
    assert len(world.documents()) == 2


# -- refusals before anything is created ----------------------------------------------------------------


def test_preflight_lists_every_problem_and_creates_nothing(env: dict[str, str], economic: EconomicStandin) -> None:
    world = World(env, economic, customers=5)
    repo = TableDirectoryRepository(world.container.storage.table_ref("Billing"))
    repo.put(world.tenant, Customer(1, "Unlinked Ltd", None, "c1@example.com", "DKK"))
    repo.put(world.tenant, Customer(2, "Ghost Ltd", 999, "c2@example.com", "DKK"))
    repo.put(world.tenant, Customer(3, "Initech", 3, "c3@example.com", "DKK"))  # its group has no layout
    repo.delete(world.tenant, Customer, 4)
    del world.agreement.products["1"]

    error = refusal(world)

    assert isinstance(error, Rejected)
    assert error.code == "multiple"
    found = {(e.field, e.message) for e in error.errors}
    assert found == {
        ("economic.product", "Product not found in e-conomic with product code: 1"),
        ("finance.accountingSystemId", "Accounting system ID is not found for: Unlinked Ltd"),
        ("economic.customer", "Customer not found in economic: Ghost Ltd (customer number 999)"),
        (
            "economic.customerGroup.layout",
            "Customer did not have a layout available: Initech (none in the request, on the customer or its "
            "customer group; a layoutNumber in billing/settings would be used)",
        ),
        ("customer", f"Customer was not found for invoice: {world.drafts[3]}"),
    }
    assert world.documents() == {}
    assert all(h.status == OPEN and "exportJob" not in h.accounting for h in world.headers().values())


def test_access_levels(env: dict[str, str], economic: EconomicStandin) -> None:
    world = World(env, economic, customers=1)
    other = World(env, economic, customers=1)

    assert refusal(world, reseller=other.tenant).code == "access_denied"
    assert isinstance(refusal(world, adminMode=True), Denied)
    assert refusal(world, "reseller", "operator", reseller="no-such-tenant").code == "reseller"
    assert isinstance(refusal(world, "reseller", "operator", reseller="no-such-tenant"), NotFound)
    world.container.keys.create(other.tenant, rights=["reseller"])  # the tenant exists once it has a key
    operator = world.principal("reseller", "operator")
    data = ExportIn.model_validate({"reseller": other.tenant, "adminMode": True, "invoiceDate": INVOICE_DATE})
    started = other.container.export.start(operator, data, generation=None, base_url="")  # other's settings
    assert started.status == 202
    assert isinstance(started.body, dict)
    job = other.run(started.body["jobId"])
    assert job.state == "succeeded"
    assert job.admin_mode
    assert job.tenant == other.tenant
    assert other.container.export.status(operator, job.job_id).success
    with pytest.raises(NotFound):  # a reseller of another tenant does not even learn that the job exists
        other.container.export.status(world.principal("reseller"), job.job_id)


def test_missing_or_refused_tokens_are_403_economic(env: dict[str, str], economic: EconomicStandin) -> None:
    no_token = World(env, economic, customers=1, grant=False)
    error = refusal(no_token)
    assert isinstance(error, Denied)
    assert error.code == "economic"
    assert "grant" not in error.message.lower() or "token" in error.message.lower()

    refused = World(env, economic, customers=1)
    economic.revoke("grant-" + refused.tenant)
    error = refusal(refused)
    assert isinstance(error, Denied)
    assert error.code == "economic"
    assert "grant-" + refused.tenant not in json.dumps(error_body(error))


def test_a_draft_held_by_a_running_export_cannot_be_merged_deleted_or_exported_twice(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=2)
    started = world.start()
    economic.fail_next(503, times=50, path_contains="/invoices/drafts", method="POST")
    with pytest.raises(EconomicUnavailable):  # e-conomic unavailable: the queue retries
        world.run(started["jobId"])

    with pytest.raises(Conflict):
        world.container.invoicing.delete(world.tenant, world.drafts[0])
    with pytest.raises(Conflict):
        world.container.invoicing.merge(world.tenant, world.drafts)
    assert isinstance(refusal(world), Conflict)


# -- all or nothing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [1, 2, 3])
def test_a_refused_document_rolls_back_every_document_of_the_job(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn, position: int
) -> None:
    world = World(env, economic, customers=3)
    started = world.start()
    economic.fail_on_create(position, status=400)
    asked = economic.count("GET", "/invoices/booked")

    job = world.run(started["jobId"])

    assert job.state == "failed"
    assert economic.count("GET", "/invoices/booked") == asked  # nothing was booked: no need to ask
    assert not job.poisoned
    assert world.documents() == {}
    assert all(h.status == OPEN and h.accounting == {} for h in world.headers().values())
    assert any(p.field == "economic.document" for p in job.errors)
    status = world.container.export.describe(world.job(job.job_id))
    assert (status.success, status.exported) == (False, 0)
    (mail,) = smtp.wait_for(1)
    assert "failed" in str(mail.message["Subject"])
    assert "Nothing was exported" in mail.message.get_content()
    again = world.run(world.start()["jobId"])  # fixed (the failure was one-off): the next export works
    assert again.state == "succeeded"
    assert len(world.documents()) == 3


def fail_creates_from(economic: EconomicStandin, position: int) -> None:
    """Every create from the `position`-th on answers 503 (retries included), until cleared."""
    for n in range(position, position + 200):
        economic.fail_on_create(n, status=503)


def test_redelivery_after_a_failure_midway_creates_no_duplicates(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=4)
    started = world.start()
    text = world.message_for(started["jobId"])
    fail_creates_from(economic, 3)

    with pytest.raises(EconomicUnavailable):  # e-conomic unavailable: the queue will retry
        world.run(started["jobId"], text=text)
    economic.clear_failures()
    assert world.job(started["jobId"]).state == "queued"  # for the queue's next attempt
    assert len(world.documents()) == 2

    job = world.run(started["jobId"], text=text, dequeue_count=2)

    assert job.state == "succeeded"
    refs = sorted(d["references"]["other"] for d in world.documents().values())
    assert refs == sorted(f"IB-{world.tenant}-{n}" for n in world.drafts)  # one document per draft, none twice
    assert world.run(started["jobId"], text=text, dequeue_count=3).state == "succeeded"  # a late duplicate
    assert len(world.documents()) == 4


def test_a_document_created_but_not_recorded_is_found_by_reference_not_created_again(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=2)
    started = world.start()
    # e-conomic stores the document but the answer is lost, and it does not replay the key.
    economic.drop_after_create(times=1, remember=False)

    job = world.run(started["jobId"])

    assert job.state == "succeeded"
    assert sorted(d["references"]["other"] for d in world.documents().values()) == [
        f"IB-{world.tenant}-{n}" for n in world.drafts
    ]


def test_the_last_attempt_rolls_back_marks_the_job_poisoned_and_lets_the_host_move_the_message(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn
) -> None:
    world = World(env, economic, customers=3)
    started = world.start()
    text = world.message_for(started["jobId"])
    fail_creates_from(economic, 3)

    with pytest.raises(EconomicUnavailable):  # the host moves the message to the poison queue
        world.run(started["jobId"], text=text, dequeue_count=5)

    economic.clear_failures()
    job = world.job(started["jobId"])
    assert job.state == "failed"
    assert job.poisoned
    assert "attempt" in job.errors[0].field
    assert world.documents() == {}
    assert all(h.status == OPEN and "exportJob" not in h.accounting for h in world.headers().values())
    assert "poison" in smtp.wait_for(1)[0].message.get_content()


# -- queue messages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encode", [False, True])
def test_a_message_put_on_the_queue_directly_runs_as_a_job(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn, encode: bool
) -> None:
    world = World(env, economic, customers=2, email=None)
    text = json.dumps({"reseller": world.tenant, "invoiceDate": INVOICE_DATE, "requestedBy": "script@example.com"})
    if encode:
        text = base64.b64encode(text.encode()).decode()

    job = world.container.export.process(text, message_id="direct-" + world.tenant, dequeue_count=1)

    assert job.state == "succeeded"
    assert len(world.documents()) == 2
    assert world.job("direct-" + world.tenant).requested_by == "queue"
    assert "script@example.com" in smtp.wait_for(1)[0].rcpt_tos


def test_a_message_that_can_never_run_is_recorded_failed_on_its_first_delivery_and_not_retried(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """Returning normally is what makes the host delete the message: no retries, no poison queue."""
    world = World(env, economic, customers=1)
    export = world.container.export

    export.process("this is not json", message_id="bad-" + world.tenant, dequeue_count=1)
    export.process(json.dumps({"invoiceDate": "2026-13-01"}), message_id="bad-" + world.tenant, dequeue_count=2)

    job = world.job("bad-" + world.tenant)
    assert job.state == "failed"
    assert not job.poisoned
    assert "neither JSON nor base64" in job.errors[0].message


def test_bad_request_fields_are_named() -> None:
    with pytest.raises(ValidationError) as caught:
        ExportIn.model_validate({"invoiceDate": "01-11-2026", "documentType": "invoice", "invoicesToOmit": "a,b"})
    text = str(caught.value)
    assert "invoiceDate" in text
    assert "documentType" in text
    assert "invoicesToOmit" in text


def test_a_500_on_create_is_looked_up_then_posted_once_more(env: dict[str, str], economic: EconomicStandin) -> None:
    world = World(env, economic, customers=2)
    started = world.start()
    economic.fail_on_create(1, status=500)

    job = world.run(started["jobId"])

    assert job.state == "succeeded"
    assert sorted(d["references"]["other"] for d in world.documents().values()) == [
        f"IB-{world.tenant}-{n}" for n in world.drafts
    ]
    assert economic.count("GET", "/invoices/drafts") >= 3  # each draft's lookup, and the one after the 500


def test_a_second_message_for_a_job_that_is_running_waits_instead_of_running_it_twice(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=1)
    started = world.start()
    text = world.message_for(started["jobId"])
    export = world.container.export
    job = world.job(started["jobId"])
    export._jobs.replace(replace(job, state="running", attempts=1))  # another worker has just started it

    with pytest.raises(JobBusy):
        export.process(text, message_id="second", dequeue_count=1)

    assert world.documents() == {}


def test_nothing_to_export_succeeds_and_says_so(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn
) -> None:
    world = World(env, economic, customers=1)

    job = world.run(world.start(invoiceDate="2026-10-15")["jobId"])  # October has not ended by then

    assert (job.state, job.total, job.exported) == ("succeeded", 0, 0)
    assert "nothing to export" in smtp.wait_for(1)[0].message.get_content()
