"""The rollback of a failed export job: every document it created is deleted again (each one fetched
first and deleted only if its `references.other` is still ours, because e-conomic reuses numbers; those
whose number was never recorded found with one paged look-up for the job, and those it did not find asked
for once more by exact reference: the pages can miss a document while others are deleted) and its claims
are released.
A draft whose document moved on in e-conomic while the job ran (sent, upgraded, booked), or could not
be deleted, is kept exported instead: reopening it could bill its notes twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.errors import AccountingError, Unavailable
from shared.export import progress
from shared.export.documents import (
    exported_header,
    legacy_reference,
    number_in,
    reference_in,
    reference_of,
    released,
)
from shared.export.jobs import KEPT, MOVED, DocumentType, ExportedDocument, Job, Problem
from shared.export.ports import EconomicApi, Transient, short
from shared.invoicing.ledger import BOOKED, EXPORTED, OPEN, DraftHeader, invoice_number
from shared.invoicing.ports import Ledger
from shared.platform.secrets import SecretError

log = logging.getLogger("invoice_bridge.export")

Kept = tuple[Problem, ExportedDocument | None]
"""A draft a failed job kept exported: why, and its document (they are the failed job's `documents`)."""


class Rollback:
    def __init__(
        self,
        *,
        ledger: Ledger,
        economic: Callable[[str], EconomicApi],
        clock: Callable[[], datetime],
    ) -> None:
        self._ledger = ledger
        self._economic = economic
        self._clock = clock

    def __call__(self, job: Job) -> tuple[list[ExportedDocument], list[Kept]]:
        """Deletes what this job created, releases its claims; returns the documents it could not delete,
        and the drafts it kept because their document moved on in e-conomic (sent, upgraded, booked)
        while the job ran: reopening those would bill their notes twice."""
        if not job.tenant or not job.drafts:
            return [], []
        try:
            headers = self._ledger.headers(job.tenant)
            economic: EconomicApi | None = self._economic(job.tenant)
        except SecretError:
            economic = None
        except Unavailable:
            return [], []
        leftovers: list[ExportedDocument] = []
        moved: list[Kept] = []
        kind = job.document_type
        unrecorded: progress.Leftovers | None = None  # looked up once, for every draft without a recorded number
        for number in job.drafts:
            header = headers.get(number)
            # Open drafts this job holds, and drafts it already marked exported before it failed
            # (a finish interrupted on the last attempt): all or nothing.
            if header is not None and header.status == BOOKED and header.accounting.export_job == job.job_id:
                problem = Problem(
                    MOVED,
                    f"draft {number} was booked as invoice {invoice_number(header)} in e-conomic while the job "
                    "ran, so it was not rolled back: it stays booked",
                )
                moved.append((problem, _document(number, header.accounting.document_number)))
                continue
            if header is None or header.accounting.export_job != job.job_id or header.status not in (OPEN, EXPORTED):
                continue
            ref = reference_of(header)
            left: int | None = None
            recorded = header.accounting.document_number
            try:
                if economic is None:
                    raise Transient("no e-conomic connection")
                candidates: list[int]
                if isinstance(recorded, int):
                    doc = economic.get_draft(kind, recorded)
                    candidates = [recorded] if doc is not None and reference_in(doc) == ref else []
                else:  # a create may have reached e-conomic without us learning its number
                    if unrecorded is None:
                        unrecorded = _unrecorded(economic, job, headers)
                    candidates = [number_in(kind, doc) for doc in unrecorded.get(number, [])]
                # A document we know was created and is no longer among the drafts: deleted, or moved on.
                # (Not asked for drafts without a recorded number: mostly never created, and a rollback
                # of a big job would ask e-conomic three more times per draft.)
                where = _moved_on(economic, kind, ref) if not candidates and isinstance(recorded, int) else None
                if where is not None:
                    self._keep(job, header)
                    problem = Problem(
                        MOVED,
                        f"draft {number} was {where} in e-conomic while the job ran, so it was not rolled "
                        "back: it stays exported and the accounting sync records its invoice number",
                    )
                    moved.append((problem, _document(number, recorded)))
                    continue
                for candidate in candidates:
                    left = candidate
                    economic.delete_draft(
                        kind, candidate, idempotency_key=f"{job.job_id}-{number}-delete-{candidate}", reference=ref
                    )
                    left = None
            except (Unavailable, AccountingError, Transient) as error:
                log.warning("Export job %s: could not delete the document of draft %d: %s", job.job_id, number, error)
                if header.status == EXPORTED:
                    # Its document may still be a draft, or booked by now: opening the draft could bill its
                    # notes twice. It stays exported (a consistent state); the sync follows the document.
                    problem = Problem(
                        KEPT,
                        f"draft {number}: its e-conomic {_DOCUMENT[kind]} {recorded} could not be deleted "
                        f"({short(error)}), "
                        "so the draft stays exported with it; the accounting sync records its invoice number "
                        "once booked. If it should not be invoiced, delete it in e-conomic: the sync then flags "
                        "the draft, which can then be reopened",
                    )
                    moved.append((problem, _document(number, recorded)))
                    continue
                if left is None and isinstance(recorded, int):
                    left = recorded
            accounting = released(header.accounting)
            earlier = header.accounting.orphan
            if isinstance(earlier, Mapping):
                accounting = accounting.changed(
                    orphan=earlier
                )  # not dealt with by this job: the next export still deletes it
            if left is not None:
                leftovers.append(ExportedDocument(number, left))
                accounting = accounting.changed(
                    orphan={"documentType": kind, "documentNumber": left, "exportJob": job.job_id, "reference": ref}
                )
            try:
                self._ledger.put_header(
                    replace(header, status=OPEN, accounting=accounting, updated_at=self._clock()), header.version
                )
            except Unavailable:
                log.warning("Export job %s: could not release draft %d", job.job_id, number)
        return leftovers, moved

    def _keep(self, job: Job, header: DraftHeader) -> None:
        """The draft's document moved on in e-conomic during the job: the draft stays (or becomes)
        exported, for the accounting sync to follow."""
        log.warning("Export job %s: draft %d moved on in e-conomic meanwhile; kept exported", job.job_id, header.number)
        if header.status == EXPORTED:
            return
        exported = exported_header(job, header, header.accounting.document_number, self._clock())
        try:
            self._ledger.put_header(exported, header.version)
        except Unavailable:
            log.warning("Export job %s: could not mark draft %d exported", job.job_id, header.number)

    def clear_orphan(
        self, job: Job, economic: EconomicApi, header: DraftHeader, found: list[dict[str, Any]]
    ) -> tuple[DraftHeader, list[dict[str, Any]]] | None:
        """Deletes the documents an earlier job left for the draft (its rollback failed, or its worker
        died): their content may be out of date, and that job may have been of the other document type.
        None: the draft has no such orphan. Else the draft as stored now, and what of `found` (its
        documents of this job's type) is still there."""
        orphan = header.accounting.orphan
        if not isinstance(orphan, dict):
            return None
        kind = job.document_type
        ref = reference_of(header)
        left_kind = orphan.get("documentType")
        kinds: tuple[DocumentType, ...] = (
            (left_kind,) if left_kind in ("draftInvoice", "order") else ("draftInvoice", "order")
        )
        stale = [(k, doc) for k in kinds for doc in (found if k == kind else economic.find_drafts(k, ref))]
        left = orphan.get("documentNumber")
        left_ref = orphan.get("reference") or legacy_reference(header.number)
        if left_ref != ref and isinstance(left, int) and len(kinds) == 1:
            # Made under another reference (before references named the tenant): found by its
            # number, and only if it still carries that reference (e-conomic reuses numbers).
            doc = economic.get_draft(kinds[0], left)
            if doc is not None and reference_in(doc) == left_ref:
                stale.append((kinds[0], doc))
        for stale_kind, doc in stale:
            gone = number_in(stale_kind, doc)
            economic.delete_draft(
                stale_kind,
                gone,
                idempotency_key=f"{job.job_id}-{header.number}-orphan-{stale_kind}-{gone}",
                reference=reference_in(doc),
            )
        # The orphan is dealt with: recorded before posting, so a later attempt adopts what this one
        # posts instead of deleting it as stale. The POST gets a fresh key: this job's own earlier
        # POST (made before a crash, deleted just now among the stale ones) must not be replayed.
        stored = self._ledger.put_header(
            replace(header, accounting=header.accounting.without("orphan")), header.version
        )
        if stored is None:
            raise Transient(f"draft {header.number} changed while its leftovers were deleted")
        return stored, [] if kind in kinds else found


def _unrecorded(economic: EconomicApi, job: Job, headers: Mapping[int, DraftHeader]) -> progress.Leftovers:
    """The documents in e-conomic of the job's drafts that have no recorded number: one paged look-up, then
    one exact look-up for each draft it did not find (`progress.every_leftover`), since the pages can miss
    a document while others are deleted, and a document missed here would stay in e-conomic, unreported,
    beside a draft that is open again."""
    drafts = [
        h
        for n in job.drafts or ()
        if (h := headers.get(n)) is not None
        and h.accounting.export_job == job.job_id
        and not isinstance(h.accounting.document_number, int)
    ]
    return progress.every_leftover(economic, job, drafts)


def _document(draft: int, number: object) -> ExportedDocument | None:
    return ExportedDocument(draft, number) if isinstance(number, int) else None


_DOCUMENT: dict[str, str] = {"draftInvoice": "draft invoice", "order": "order"}


def _moved_on(economic: EconomicApi, kind: DocumentType, ref: str) -> str | None:
    """Where a document of ours that is no longer a draft of its kind went, in the direction documents
    move (sent order, invoice draft upgraded from the order, archived order, booked invoice); None:
    nowhere, deleted. Only a draft invoice can be proven deleted so: an order may be invoiced without
    any trace we can find (below), and releasing its draft would bill its notes twice."""
    if kind == "order":
        if economic.find_sent_orders(ref):
            return "sent as an order"
        if economic.find_drafts("draftInvoice", ref):
            return "upgraded to an invoice draft"
    booked = economic.find_booked(ref)
    if booked:
        numbers = sorted(str(d.get("bookedInvoiceNumber")) for d in booked)
        return f"booked as invoice {', '.join(numbers)}"
    if kind == "order":
        # A sent order upgraded to an invoice draft is archived (e-conomic/slate@8abdb42 _orders.md:
        # "An order residing in /orders/sent, will be archived in /orders/archived upon upgrading it").
        # Asked after the booked invoices, which say more when the invoice kept our reference.
        if economic.find_archived_orders(ref):
            return "upgraded to an invoice (its order is archived in e-conomic)"
        # Not documented (e-conomic/slate@8abdb42 _orders.md): whether an order upgraded straight from
        # /orders/drafts is archived, and whether the invoice keeps the order's references.other; and
        # e-conomic's booked-invoice schema (economic-schemas/invoices.booked.*.get) has no field naming
        # the order. So an order found nowhere may have been invoiced: it is kept, never released.
        return (
            "no longer among e-conomic's orders and not found by its reference as a sent or archived order, "
            "invoice draft or booked invoice (an order upgraded to an invoice may not keep the reference)"
        )
    return None
