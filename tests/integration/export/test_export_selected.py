"""Export of selected drafts (`draftIds`, issue 17: the seed's "create invoices from the selected
orders"), with the exactly-once guarantees of the period rule: a redelivered message creates nothing
twice, and two exports naming the same draft cannot both take it.

Service level and through the in-process HTTP pipeline (`Container.api.handle`), real Azurite and the
e-conomic stand-in, as the other export tests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from shared.adapters.economic import EconomicUnavailable
from shared.errors import Rejected
from shared.export.jobs import Job
from shared.export.schemas import ExportIn
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.ledger import EXPORTED, OPEN
from shared.platform.keys import RESELLER_RIGHT
from shared.web.types import ApiRequest, ApiResponse
from standins.economic import EconomicStandin
from tests.integration.export.test_economic_export import fail_creates_from
from tests.support.export import World


def refs(world: World) -> list[str]:
    return sorted(d["references"]["other"] for d in world.documents().values())


def test_only_the_selected_drafts_are_exported_whatever_their_period(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=3)
    first, _second, third = world.drafts

    # October has not ended by 15 October: the period rule would export nothing, a selection does.
    started = world.start(draftIds=[third, first, third], invoiceDate="2026-10-15")
    job = world.run(started["jobId"])

    assert (started["drafts"], started["total"]) == ([first, third], 2)
    assert (job.state, job.total, job.exported) == ("succeeded", 2, 2)
    assert refs(world) == sorted(f"IB-{world.tenant}-{n}" for n in (first, third))
    headers = world.headers()
    assert [headers[n].status for n in world.drafts] == [EXPORTED, OPEN, EXPORTED]


def test_omitted_drafts_are_left_out_of_a_selection_too(env: dict[str, str], economic: EconomicStandin) -> None:
    world = World(env, economic, customers=3)
    first, second, _ = world.drafts

    started = world.start(draftIds=[first, second], invoicesToOmit=[second])
    job = world.run(started["jobId"])

    assert (started["drafts"], started["total"], job.exported) == ([first], 2, 1)
    assert world.headers()[second].status == OPEN


def test_a_selection_naming_what_cannot_be_exported_is_a_422_naming_draft_ids(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=3)
    first, second, third = world.drafts
    world.container.invoicing.delete(world.tenant, second)
    held = world.start(draftIds=[third])["jobId"]  # queued, not run yet: it holds nothing so far
    header = world.headers()[third]
    claim = AccountingState.of({"exportJob": held})
    assert world.container.export._ledger.put_header(replace(header, accounting=claim), header.version)

    with pytest.raises(Rejected) as caught:
        world.start(draftIds=[first, second, third, 999_999])

    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("draftIds", f"draft {second} is deleted, not open"),
        ("draftIds", f"draft {third} is held by export job {held}"),
        ("draftIds", "draft 999999 does not exist"),
    ]
    assert world.documents() == {}


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ([], "must name 1 to 1000 drafts"),
        ("a,b", "must be a list of draft ids"),
        ([0], "must be a list of draft ids"),
        (list(range(1, 1002)), "at most 1000"),
        ({"3": 1}, "must be a list of draft ids"),
    ],
)
def test_bad_draft_ids_are_named(value: Any, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ExportIn.model_validate({"draftIds": value})
    [error] = caught.value.errors()
    assert error["loc"] == ("draftIds",)
    assert rule in error["msg"]


def _export(world: World, key: str, body: Any) -> ApiResponse:
    request = ApiRequest(query={"apikey": key}, headers={}, body=json.dumps(body).encode(), route_params={})
    return world.container.api.handle("CreateEconomicInvoiceDrafts", request)


def test_over_http_a_selection_is_202_with_its_drafts_and_bad_ids_are_named_never_a_500(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=2, notes=1)
    _, key = world.container.keys.create(world.tenant, rights=[RESELLER_RIGHT], limit=1000)

    ok = _export(world, key, {"draftIds": [world.drafts[1]]})
    bad = _export(world, key, {"draftIds": []})
    unknown = _export(world, key, {"draftIds": [world.drafts[0], 424242]})
    in_query = world.container.api.handle(
        "CreateEconomicInvoiceDrafts",
        ApiRequest(query={"apikey": key, "draftIds": f"{world.drafts[0]}"}, headers={}, body=b"", route_params={}),
    )

    assert ok.status == 202, ok.body
    assert isinstance(ok.body, dict)
    assert ok.body["drafts"] == [world.drafts[1]]
    assert in_query.status == 202, in_query.body
    assert isinstance(in_query.body, dict)
    assert in_query.body["drafts"] == [world.drafts[0]]
    for response, status, message in ((bad, 400, "must name 1 to 1000"), (unknown, 422, "draft 424242 does not")):
        assert response.status == status, response.body
        assert isinstance(response.body, dict)
        [error] = response.body["Errors"]
        assert error["Field"] == "draftIds"
        assert message in error["Message"]


def test_redelivery_of_a_selected_export_after_a_failure_midway_creates_no_duplicates(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=4)
    chosen = [world.drafts[0], world.drafts[1], world.drafts[3]]
    started = world.start(draftIds=chosen)
    text = world.message_for(started["jobId"])
    fail_creates_from(economic, 2)

    with pytest.raises(EconomicUnavailable):  # e-conomic unavailable: the queue will retry
        world.run(started["jobId"], text=text)
    economic.clear_failures()
    assert world.job(started["jobId"]).state == "queued"
    assert len(world.documents()) == 1

    job = world.run(started["jobId"], text=text, dequeue_count=2)

    assert (job.state, job.drafts) == ("succeeded", tuple(chosen))
    assert refs(world) == sorted(f"IB-{world.tenant}-{n}" for n in chosen)  # one document each, none twice
    assert world.run(started["jobId"], text=text, dequeue_count=3).state == "succeeded"  # a late duplicate
    assert len(world.documents()) == 3
    assert world.headers()[world.drafts[2]].status == OPEN


def test_a_selected_export_whose_success_was_not_recorded_is_redelivered_without_new_documents(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=2)
    started = world.start(draftIds=world.drafts)
    text = world.finish_without_recording(started["jobId"])  # every document made, the job not saved

    job = world.run(started["jobId"], text=text, dequeue_count=2)

    assert job.state == "succeeded"
    assert refs(world) == sorted(f"IB-{world.tenant}-{n}" for n in world.drafts)


def test_two_selected_exports_naming_the_same_draft_cannot_both_take_it(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=3)
    first, shared, last = world.drafts
    a = world.start(draftIds=[first, shared])["jobId"]
    b = world.start(draftIds=[shared, last])["jobId"]  # accepted: nothing is claimed before a worker runs
    texts = {job_id: json.dumps({"jobId": job_id}) for job_id in (a, b)}  # what `start` queued
    results: dict[str, Job | BaseException] = {}
    gate = threading.Barrier(2)

    def run(job_id: str) -> None:
        gate.wait()
        try:
            results[job_id] = world.run(job_id, text=texts[job_id])
        except BaseException as error:
            results[job_id] = error

    threads = [threading.Thread(target=run, args=(job_id,)) for job_id in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    jobs = {job_id: world.job(job_id) for job_id in (a, b)}
    assert sorted(job.state for job in jobs.values()) == ["failed", "succeeded"], results
    winner = next(job for job in jobs.values() if job.state == "succeeded")
    loser = next(job for job in jobs.values() if job.state == "failed")
    assert any(f"draft {shared}" in e.message for e in loser.errors), loser.errors
    # Exactly one document for the shared draft, and only the winner's drafts are in e-conomic.
    assert refs(world) == sorted(f"IB-{world.tenant}-{n}" for n in winner.drafts or ())
    headers = world.headers()
    assert headers[shared].accounting["exportJob"] == winner.job_id
    alone = next(n for n in loser.drafts or () if n != shared)
    assert headers[alone].status == OPEN
    assert "exportJob" not in headers[alone].accounting


def test_a_queue_message_may_name_the_drafts_and_one_that_is_not_open_fails_the_job(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=2, email=None)
    export = world.container.export
    text = json.dumps({"reseller": world.tenant, "draftIds": [world.drafts[1]]})

    job = export.process(text, message_id="sel-" + world.tenant, dequeue_count=1)
    missing = export.process(
        json.dumps({"reseller": world.tenant, "draftIds": [world.drafts[0], 777_777]}),
        message_id="miss-" + world.tenant,
        dequeue_count=1,
    )

    assert (job.state, job.drafts, job.total) == ("succeeded", (world.drafts[1],), 1)
    assert refs(world) == [f"IB-{world.tenant}-{world.drafts[1]}"]
    assert missing.state == "failed"
    assert [e.message for e in missing.errors] == ["draft 777777 does not exist"]
    assert world.headers()[world.drafts[0]].status == OPEN
