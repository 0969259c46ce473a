"""Export retries and rollbacks around documents that moved on in e-conomic while a job ran (booked by
the accountant), leftovers of the other document type or with the reference of before the tenant was
in it, and stale claims of dead jobs."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from shared.adapters.economic import EconomicError
from shared.errors import StorageUnavailable
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.ledger import BOOKED, EXPORTED, OPEN
from standins.economic import EconomicStandin
from standins.smtp import SmtpStandIn
from tests.support.export import World, header_writes_fail


def test_a_retried_job_whose_draft_the_sync_already_booked_does_not_fail_and_roll_back_the_others(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn
) -> None:
    """The job's first attempt created every document and marked every draft exported but could not
    record the job; before the redelivery the accountant books one document and the sync records it.
    The redelivered attempt takes its own booked draft as done and succeeds: it does not fail over it
    and roll back (delete) the other drafts' good documents."""
    world = World(env, economic, customers=2)
    job_id = world.start()["jobId"]
    text = world.finish_without_recording(job_id)
    booked_draft, other = world.drafts
    headers = world.headers()
    world.agreement.book(int(headers[booked_draft].accounting["documentNumber"]))
    other_document = int(headers[other].accounting["documentNumber"])
    synced = world.container.invoice_sync.run(world.tenant)
    assert [b.draft for b in synced.booked] == [booked_draft]
    assert world.headers()[booked_draft].status == BOOKED

    job = world.container.export.process(text, message_id="m-" + job_id, dequeue_count=2)

    headers = world.headers()
    assert headers[other].status == EXPORTED, f"draft {other} was reopened; job errors: {job.errors}"
    assert other_document in world.documents(), "the unbooked draft's document was deleted from e-conomic"
    assert job.state == "succeeded", job.errors


def test_a_leftover_order_is_removed_when_the_draft_is_next_exported_as_a_draft_invoice(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """An order export whose rollback could not delete an order leaves it as the draft's orphan; the
    next export of that draft, as a draft invoice, deletes the order (else, sent or upgraded and booked,
    the customer would be invoiced twice for the same notes)."""
    world = World(env, economic, customers=2)
    economic.fail_on_create(2, status=400, message="refused")  # the second order is refused ...
    economic.fail_next(503, times=20, path_contains="/orders/drafts/", method="DELETE")  # ... the first stays
    job = world.run(world.start(documentType="order")["jobId"])
    economic.clear_failures()
    assert job.state == "failed"
    assert len(job.leftovers) == 1
    (leftover,) = job.leftovers
    assert set(world.documents("order")) == {leftover.number}
    orphan = world.headers()[leftover.draft].accounting["orphan"]
    assert orphan["documentType"] == "order"

    again = world.run(world.start(documentType="draftInvoice")["jobId"])

    assert again.state == "succeeded", again.errors
    assert len(world.documents("draftInvoice")) == 2
    assert world.documents("order") == {}, (
        f"the leftover order {leftover.number} of draft {leftover.draft} is still in e-conomic, "
        "next to the draft invoice exported for the same draft"
    )


def test_a_rollback_while_economic_is_down_does_not_reopen_a_draft_whose_document_was_booked(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn
) -> None:
    """The last attempt runs because e-conomic is down, so its rollback cannot reach e-conomic either. An
    exported draft whose document it cannot delete stays exported (its document may be booked, as here:
    opening the draft would bill its notes twice); the job says so, and the sync records the number."""
    world = World(env, economic, customers=2)
    job_id = world.start()["jobId"]
    text = world.finish_without_recording(job_id)
    booked_draft, _ = world.drafts
    document = int(world.headers()[booked_draft].accounting["documentNumber"])
    invoice = world.agreement.book(document)
    economic.fail_next(503, times=10_000)  # e-conomic down during the whole last attempt

    with pytest.raises(EconomicError):
        world.container.export.process(text, message_id="m-" + job_id, dequeue_count=5)

    economic.clear_failures()
    job = world.job(job_id)
    assert job.state == "failed"
    assert [h.status for h in world.headers().values()] == [EXPORTED, EXPORTED]
    assert sorted(p.field for p in job.errors if p.field == "economic.kept") == ["economic.kept"] * 2
    assert job.leftovers == ()  # nothing to delete by hand: both drafts are exported with their documents
    numbers = {n: h.accounting["documentNumber"] for n, h in world.headers().items()}
    assert sorted((d.draft, d.number) for d in job.documents) == sorted(numbers.items())
    status = world.container.export.describe(job)
    assert (status.success, status.exported) == (False, 2)
    (mail,) = smtp.wait_for(1)
    assert "rolled back, except 2 drafts left in e-conomic" in str(mail.message["Subject"])
    synced = world.container.invoice_sync.run(world.tenant)
    assert [(b.draft, b.invoice_number) for b in synced.booked] == [(booked_draft, invoice["bookedInvoiceNumber"])]
    assert (synced.missing, synced.still_waiting) == ((), 1)


def test_an_unusable_answer_during_the_rollback_still_ends_the_job_failed(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn
) -> None:
    """e-conomic answers the rollback's lookups with something that is not a document (here a JSON
    list): the job still ends `failed` with its e-mail, the drafts kept exported, instead of the
    rollback escaping and leaving the job `running`."""
    world = World(env, economic, customers=1)
    job_id = world.start()["jobId"]
    text = world.finish_without_recording(job_id)
    economic.fail_next(503, times=50, path_contains="/customers", method="GET")
    economic.fail_next(200, times=50, path_contains="/invoices/drafts/", method="GET", body=["not", "a", "document"])

    with pytest.raises(EconomicError):
        world.container.export.process(text, message_id="m-" + job_id, dequeue_count=5)

    economic.clear_failures()
    job = world.job(job_id)
    assert (job.state, job.poisoned) == ("failed", True)
    assert [p.field for p in job.errors if p.field.startswith("economic.")] == ["economic.kept"]
    assert [h.status for h in world.headers().values()] == [EXPORTED]
    assert len(smtp.wait_for(1)) == 1


def _legacy_document(world: World, draft: int) -> int:
    """A draft invoice as the export made it before references named the tenant (`IB-<draft>`)."""
    return world.create_document(
        f"IB-{draft}", key=f"legacy-{world.tenant}", description="made before the upgrade", price=Decimal("950.00")
    )


def _with_old_reference(world: World, draft: int) -> list[int]:
    return [n for n, d in world.documents().items() if d["references"]["other"] == f"IB-{draft}"]


def test_a_stale_claim_of_a_job_that_died_before_the_upgrade_has_its_old_document_removed(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """A draft still claimed by an export job that died before references named the tenant (its
    document carries `IB-<draft>`, its number recorded on the claim) is taken over by the next export,
    which deletes that old document: one document per draft, never two to book."""
    world = World(env, economic, customers=1)
    (draft,) = world.drafts
    left = _legacy_document(world, draft)
    world.claimed_by_dead_job(draft, {"documentType": "draftInvoice", "documentNumber": left})  # as written before

    job = world.run(world.start()["jobId"])

    assert job.state == "succeeded", job.errors
    assert world.headers()[draft].status == EXPORTED
    assert _with_old_reference(world, draft) == [], (
        f"the dead job's document IB-{draft} is still in e-conomic next to the new one: {sorted(world.documents())}"
    )
    assert len(world.documents()) == 1


def test_a_leftover_with_the_old_reference_recorded_by_a_rollback_after_the_upgrade_is_removed(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """A job that created its document before references named the tenant is rolled back after, and
    cannot delete it: the orphan records the old reference, and the next export deletes the document by
    its number (it still carries that reference)."""
    world = World(env, economic, customers=1)
    (draft,) = world.drafts
    job_id = world.start()["jobId"]
    text = world.message_for(job_id)
    left = _legacy_document(world, draft)
    header = world.headers()[draft]
    claim = {"exportJob": job_id, "documentType": "draftInvoice", "documentNumber": left}  # attempt 1, pre-upgrade
    assert world.container.export._ledger.put_header(
        replace(header, accounting=AccountingState.of(claim)), header.version
    )
    economic.fail_next(503, times=50, path_contains="/customers", method="GET")  # the last attempt fails ...
    economic.fail_next(503, times=50, path_contains="/invoices/drafts/", method="DELETE")  # ... and cannot delete

    with pytest.raises(EconomicError):
        world.container.export.process(text, message_id="m-" + job_id, dequeue_count=5)

    economic.clear_failures()
    failed = world.job(job_id)
    assert failed.state == "failed"
    assert [(d.draft, d.number) for d in failed.leftovers] == [(draft, left)]
    orphan = world.headers()[draft].accounting["orphan"]
    assert (orphan["documentNumber"], orphan["reference"]) == (left, f"IB-{draft}")

    again = world.run(world.start()["jobId"])

    assert again.state == "succeeded", again.errors
    assert _with_old_reference(world, draft) == [], (
        f"leftover {left} (IB-{draft}) is still in e-conomic next to the new document: {sorted(world.documents())}"
    )
    assert len(world.documents()) == 1


def test_a_failed_job_whose_own_draft_is_booked_does_not_report_nothing_exported(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn
) -> None:
    """The job's first attempt exported both drafts but could not record the job; one document is booked
    and the sync records it; the last attempt fails. The rollback deletes the other document, and the
    job and its e-mail name the booked draft instead of saying nothing was exported."""
    world = World(env, economic, customers=2)
    job_id = world.start()["jobId"]
    text = world.finish_without_recording(job_id)
    booked_draft, other = world.drafts
    invoice = world.agreement.book(int(world.headers()[booked_draft].accounting["documentNumber"]))
    synced = world.container.invoice_sync.run(world.tenant)
    assert [b.draft for b in synced.booked] == [booked_draft]
    economic.fail_next(503, times=50, path_contains="/customers", method="GET")

    with pytest.raises(EconomicError):
        world.container.export.process(text, message_id="m-" + job_id, dequeue_count=5)

    economic.clear_failures()
    job = world.job(job_id)
    assert job.state == "failed"
    headers = world.headers()
    assert (headers[booked_draft].status, headers[other].status) == (BOOKED, OPEN)
    (mail,) = smtp.wait_for(1)
    subject = str(mail.message["Subject"])
    body = mail.message.get_content()
    assert "nothing was exported" not in subject, (
        f"subject {subject!r} although draft {booked_draft} is booked as invoice {invoice['bookedInvoiceNumber']}"
    )
    assert "Nothing was exported" not in body
    assert any(f"draft {booked_draft}" in p.message for p in job.errors), job.errors


def test_a_crash_after_posting_under_a_stale_claim_never_records_a_deleted_document(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """The draft is still claimed by a dead job, so the export deletes that job's leftovers and posts
    anew; the attempt dies before recording the new document's number. The next attempt adopts that
    document: it neither deletes it as a leftover nor replays the first POST's key, which e-conomic
    would answer with the deleted document's number."""
    world = World(env, economic, customers=1)
    (draft,) = world.drafts
    world.claimed_by_dead_job(draft, {})
    started = world.start()
    text = world.message_for(started["jobId"])

    def record_fails(headers: Any) -> bool:
        return any("documentNumber" in h.accounting and h.status == OPEN for h in headers)

    with header_writes_fail(world, record_fails), pytest.raises(StorageUnavailable):
        world.container.export.process(text, message_id="m-" + started["jobId"], dequeue_count=1)
    assert len(world.documents()) == 1

    job = world.container.export.process(text, message_id="m-" + started["jobId"], dequeue_count=2)

    assert job.state == "succeeded", job.errors
    documents = world.documents()
    assert len(documents) == 1
    assert world.headers()[draft].accounting["documentNumber"] in documents


def test_a_job_failing_before_it_cleans_up_a_stale_claim_leaves_the_leftover_for_the_next_export(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """A dead job's claim carries its old-reference document; the next job takes the claim over but
    fails its preflight (the customer is gone from e-conomic) before it gets to delete that document.
    Its rollback keeps the record of the leftover, and the export after it deletes it."""
    world = World(env, economic, customers=1)
    (draft,) = world.drafts
    left = _legacy_document(world, draft)
    world.claimed_by_dead_job(draft, {"documentType": "draftInvoice", "documentNumber": left})
    started = world.start()
    customer = world.agreement.customers.pop(1)  # after the request's own preflight

    failed = world.run(started["jobId"])

    assert failed.state == "failed"
    assert any(p.field == "economic.customer" for p in failed.errors), failed.errors
    assert world.headers()[draft].accounting["orphan"]["documentNumber"] == left
    world.agreement.customers[1] = customer

    again = world.run(world.start()["jobId"])

    assert again.state == "succeeded", again.errors
    assert _with_old_reference(world, draft) == []
    assert len(world.documents()) == 1


@pytest.mark.parametrize(("kind", "fate"), [("draftInvoice", "booked"), ("order", "booked"), ("order", "sent")])
def test_a_rollback_never_reopens_a_draft_whose_document_was_booked_in_the_meantime(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn, kind: str, fate: str
) -> None:
    """An attempt finishes (drafts exported) but cannot record the job; before the last attempt the
    accountant books one of the documents. The last attempt fails and rolls back: the unbooked
    document is deleted and its draft open again, but the booked one's draft stays exported (opening
    it would bill its notes a second time) and the job says why."""
    world = World(env, economic, customers=2)
    job_id = world.start(documentType=kind)["jobId"]
    text = world.finish_without_recording(job_id)
    export = world.container.export
    booked_draft, other = world.drafts
    headers = world.headers()
    assert headers[booked_draft].status == headers[other].status == EXPORTED
    document = document_before = int(headers[booked_draft].accounting["documentNumber"])
    if kind == "order":  # sent to the customer, then upgraded to an invoice draft and booked
        world.agreement.send_order(document)
    if fate == "booked":
        if kind == "order":
            document = world.agreement.upgrade_order(document)["draftInvoiceNumber"]
        invoice = world.agreement.book(document)
    economic.fail_next(503, times=50, path_contains="/customers", method="GET")

    with pytest.raises(EconomicError, match="did not answer"):  # e-conomic unavailable on the last attempt
        export.process(text, message_id="m-" + job_id, dequeue_count=5)

    economic.clear_failures()
    job = world.job(job_id)
    assert job.state == "failed"
    headers = world.headers()
    assert headers[booked_draft].status == EXPORTED
    assert headers[other].status == "open"
    assert world.documents(kind) == {}  # the unbooked document is deleted
    (moved,) = [p for p in job.errors if p.field == "economic.moved"]
    assert [(d.draft, d.number) for d in job.documents] == [(booked_draft, document_before)]
    assert world.container.export.describe(job).exported == 1
    where = f"booked as invoice {invoice['bookedInvoiceNumber']}" if fate == "booked" else "sent as an order"
    assert f"draft {booked_draft} was {where}" in moved.message
    (mail,) = smtp.wait_for(1)
    assert "rolled back, except 1 draft left in e-conomic" in str(mail.message["Subject"])
    text = mail.message.get_content()
    assert "Nothing was exported" not in text
    assert f"draft {booked_draft} was {where}" in text
    synced = world.container.invoice_sync.run(world.tenant)
    assert synced.missing == ()
    if fate == "booked":
        assert [(b.draft, b.invoice_number) for b in synced.booked] == [(booked_draft, invoice["bookedInvoiceNumber"])]
    else:
        assert (synced.booked, synced.still_waiting) == ((), 1)
