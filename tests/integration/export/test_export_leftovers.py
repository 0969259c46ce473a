"""Issue 18: the worker finds what an earlier attempt of its job left in e-conomic with one paged
look-up by reference prefix (`references.other$like:IB-<tenant>-*`; e-conomic/slate@8abdb42
source/includes/_introduction.md, "Substring matching" and "Filtering on strings is case insensitive"),
not with one request per draft, and adopts exactly its own drafts' documents."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.economic import EconomicError
from shared.errors import StorageUnavailable
from shared.invoicing.ledger import EXPORTED, OPEN
from standins.economic import EconomicStandin
from tests.support.devhost_helpers import wait_until
from tests.support.export import World


def test_documents_an_attempt_created_but_never_recorded_are_adopted_after_one_look_up(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=3)
    # Tenants whose references share the prefix `IB-<tenant>-` as e-conomic matches it (case ignored),
    # with draft numbers like ours: their documents must be neither adopted nor touched.
    others = [
        World(env, economic, customers=2, tenant=world.tenant + "-1", agreement=world.agreement),
        World(env, economic, customers=2, tenant=world.tenant.upper(), agreement=world.agreement),
    ]
    for other in others:
        assert other.run(other.start()["jobId"]).state == "succeeded"
    theirs = world.documents()
    assert len(theirs) == 4
    started = world.start()
    text = world.message_for(started["jobId"])
    export = world.container.export
    ledger = export._ledger
    original = ledger.replace_headers

    def recording_fails(headers: Any) -> Any:
        if any("documentNumber" in h.accounting and h.status == OPEN for h in headers):
            # The recorder runs beside the creates: let all three land first (see the next test).
            wait_until(lambda: len(world.documents()) == 7, timeout=10, what="all three documents created")
            raise StorageUnavailable("storage unavailable")  # the attempt dies before any number is recorded
        return original(headers)

    ledger.replace_headers = recording_fails  # type: ignore[method-assign]
    try:
        with pytest.raises(StorageUnavailable):
            export.process(text, message_id="m-" + started["jobId"], dequeue_count=1)
    finally:
        ledger.replace_headers = original  # type: ignore[method-assign]
    assert len(world.documents()) == 7
    assert all("documentNumber" not in h.accounting for h in world.headers().values())
    looked_up = economic.count("GET", "/invoices/drafts")
    posted = economic.count("POST", "/invoices/drafts")

    job = export.process(text, message_id="m-" + started["jobId"], dequeue_count=2)

    assert job.state == "succeeded", job.errors
    assert economic.count("GET", "/invoices/drafts") == looked_up + 1  # one look-up for the three drafts
    assert economic.count("POST", "/invoices/drafts") == posted  # nothing created again
    documents = world.documents()
    assert {n: d for n, d in documents.items() if n in theirs} == theirs
    ours = {n: d for n, d in documents.items() if n not in theirs}
    assert sorted(d["references"]["other"] for d in ours.values()) == [
        f"IB-{world.tenant}-{n}" for n in sorted(world.drafts)
    ]
    headers = world.headers()
    for draft in world.drafts:
        (number,) = [n for n, d in ours.items() if d["references"]["other"] == f"IB-{world.tenant}-{draft}"]
        assert (headers[draft].status, headers[draft].accounting["documentNumber"]) == (EXPORTED, number)


def test_the_last_attempt_deletes_documents_never_recorded_after_one_look_up(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """An attempt dies before recording any number; the last attempt fails (e-conomic unavailable) and
    rolls back: the documents are found with one paged look-up (not one per draft) and deleted, and the
    drafts are open again."""
    world = World(env, economic, customers=3)
    started = world.start()
    text = world.message_for(started["jobId"])
    export = world.container.export
    ledger = export._ledger
    original = ledger.replace_headers

    def recording_fails(headers: Any) -> Any:
        if any("documentNumber" in h.accounting and h.status == OPEN for h in headers):
            # The recorder runs beside the creates: let all three land before its write fails, or the
            # attempt may stop before the last create and leave fewer leftovers than this test is about.
            wait_until(lambda: len(world.documents()) == 3, timeout=10, what="all three documents created")
            raise StorageUnavailable("storage unavailable")
        return original(headers)

    ledger.replace_headers = recording_fails  # type: ignore[method-assign]
    try:
        with pytest.raises(StorageUnavailable):
            export.process(text, message_id="m-" + started["jobId"], dequeue_count=1)
    finally:
        ledger.replace_headers = original  # type: ignore[method-assign]
    assert len(world.documents()) == 3
    assert not any("documentNumber" in h.accounting for h in world.headers().values())
    looked_up = economic.count("GET", "/invoices/drafts")
    economic.fail_next(503, times=50, path_contains="/customers", method="GET")

    with pytest.raises(EconomicError, match="did not answer"):
        export.process(text, message_id="m-" + started["jobId"], dequeue_count=5)

    economic.clear_failures()
    assert world.job(started["jobId"]).state == "failed"
    assert world.documents() == {}
    assert all(h.status == OPEN and "exportJob" not in h.accounting for h in world.headers().values())
    # The attempt's own look-up (step 2, while the drafts were checked) and the rollback's: not one per draft.
    assert economic.count("GET", "/invoices/drafts") == looked_up + 2
