"""Export retries and rollbacks around documents that moved on in e-conomic while a job ran (booked by
the accountant), and leftovers of the other document type."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError

from shared.adapters.economic import EconomicError
from shared.invoicing.ledger import BOOKED, EXPORTED
from tests.economic_standin import EconomicStandin
from tests.export_support import World
from tests.smtp_standin import SmtpStandIn


def _finish_without_recording(world: World, job_id: str) -> str:
    """Runs the job's first attempt: every document is created and every draft marked exported, but
    storing the job as succeeded fails (storage blip), so the queue will deliver the message again."""
    text = world.message_for(job_id)
    export = world.container.export
    jobs = export._jobs
    original = jobs.replace

    def succeeded_is_not_saved(job: Any) -> Any:
        if job.state == "succeeded":
            raise ServiceRequestError("storage unavailable")
        return original(job)

    jobs.replace = succeeded_is_not_saved  # type: ignore[method-assign]
    try:
        with pytest.raises(ServiceRequestError):
            export.process(text, message_id="m-" + job_id, dequeue_count=1)
    finally:
        jobs.replace = original  # type: ignore[method-assign]
    assert all(h.status == EXPORTED for h in world.headers().values())
    return text


def test_a_retried_job_whose_draft_the_sync_already_booked_does_not_fail_and_roll_back_the_others(
    env: dict[str, str], economic: EconomicStandin, smtp: SmtpStandIn
) -> None:
    """The job's first attempt created every document and marked every draft exported but could not
    record the job; before the redelivery the accountant books one document and the sync records it.
    The redelivered attempt takes its own booked draft as done and succeeds: it does not fail over it
    and roll back (delete) the other drafts' good documents."""
    world = World(env, economic, customers=2)
    job_id = world.start()["jobId"]
    text = _finish_without_recording(world, job_id)
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
    text = _finish_without_recording(world, job_id)
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
    (mail,) = smtp.wait_for(1)
    assert "rolled back, except 2 drafts kept exported" in str(mail.message["Subject"])
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
    text = _finish_without_recording(world, job_id)
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
