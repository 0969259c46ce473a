"""Invoicing runs, drafts, merge and delete, over the `Ledger` and the directory.

Crash safety and exactly-once billing
-------------------------------------
Notes, draft headers and the per-tenant draft-number counter live in one Table storage partition
(the tenant's), so a group of up to 100 writes can be one entity-group transaction. A note is billed
iff the draft number it carries resolves to a live draft (`ledger.resolve_number`); that one rule
makes every step below safe to interrupt:

1. Numbers come from an ETag-guarded counter, one block per run; a number is never handed out twice
   (a crash after reserving only leaves a gap).
2. A customer's draft with fewer than 100 notes is ONE transaction: create the header (`open`) and
   rewrite each note with its draft number and price, each conditional on the note's ETag from the
   read. All or nothing; if another run got a note first, the transaction fails and step 3 runs.
3. Otherwise (any size): write the header `pending`, link the notes in transactions of 100 (a failed
   batch is retried note by note, still ETag-conditional, so a note taken by someone else is
   skipped), then replace the header with `open` and the totals of the notes actually linked,
   conditional on the pending header's ETag. A crash leaves a `pending` header: its notes count as
   billed only while its lease (`INVOICING_LEASE_SECONDS`) runs; the next run or read after that
   marks it `void`, which makes its notes unbilled again, and they are billed afresh. If the run was
   merely slow, its final write fails on the ETag and its notes stay unbilled for the next run.
4. Merge rewrites the headers only (the absorbed drafts become `merged` into the lowest number, the
   target gets the new period and totals): one transaction, conditional on every header's ETag.
5. Delete marks the header `deleted` (one conditional write: from then on its notes and manual lines
   are unbilled), then clears the notes' draft numbers, which is tidiness only: a crash in between
   loses nothing.
6. Manual lines are rows carrying a draft number, as notes do, and obey the same rule: a line is in
   the live draft its number resolves to (so merges carry them, and a deleted draft's lines die with
   it). A manual draft is ONE transaction: its header (`open`, a number from step 1) and its lines
   (numbers from their own ETag-guarded counter; a crash after reserving only leaves gaps).
7. Every edit of an open draft (`shared.invoicing.editing`) is ONE transaction: the header replaced
   with the new totals, conditional on the version the caller read (`If-Match`), plus the line's row:
   a note rewritten with its edited billing, or cleared (released: unbilled from that moment), or a
   manual line created, replaced or deleted, each conditional on its own ETag. Totals and lines can
   never disagree, and of two edits made from the same version only the first commits (412).

Two concurrent runs both read a note with the same ETag; only the first rewrite succeeds, the other
drops the note (tests/integration/test_invoicing_storage.py runs two at once against Azurite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.errors import Conflict, FieldError, Rejected
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.ledger import (
    DELETED,
    LIVE,
    OPEN,
    PENDING,
    VOID,
    BilledNote,
    Draft,
    DraftHeader,
    Link,
    Status,
    Totals,
    billed_in,
    export_job_of,
    invoice_number,
    manual_in,
    members,
    resolve_number,
    status_text,
    taken,
)
from shared.invoicing.merging import MAX_MERGE, existing, merge_drafts, reopen_draft
from shared.invoicing.planning import (
    DraftPlan,
    Line,
    ManualLine,
    NoteBilling,
    Period,
    Unresolved,
    default_period,
    lines_of,
    plan_run,
)
from shared.invoicing.ports import Ledger
from shared.work import BilledIn


@dataclass(frozen=True)
class RunResult:
    period: Period
    drafts: tuple[DraftHeader, ...]
    unresolved: tuple[Unresolved, ...]
    skipped: int
    """Notes another run billed while this one was linking them."""


@dataclass(frozen=True)
class DraftFilter:
    period: Period | None = None
    customer_id: int | None = None
    status: Status | None = None


Billed = list[tuple[BilledNote, NoteBilling]]
Manual = list[ManualLine]


class InvoicingService:
    def __init__(
        self,
        ledger: Ledger,
        directory: DirectoryService,
        *,
        clock: Callable[[], datetime],
        timezone: ZoneInfo,
        lease: timedelta = timedelta(minutes=5),
        export_active: Callable[[str], bool] = lambda job_id: True,
    ) -> None:
        self._ledger = ledger
        self._directory = directory
        self._clock = clock
        self._tz = timezone
        self._lease = lease
        self.export_active = export_active
        """Whether an export job still runs: a draft claimed by a job that has ended (or died) is free again."""

    # -- runs ---------------------------------------------------------------------------------

    def run(self, tenant: str, period: Period | None = None) -> RunResult:
        period = period or default_period(self._clock(), self._tz)
        # Headers first, notes second: a note carrying a number we have no header for was linked by
        # a run that started after our read, so it is taken (see `ledger.taken`).
        headers = self.repair(tenant)
        directory = self._directory.load(tenant)
        stored = self._ledger.notes_starting(tenant, period.start(self._tz), period.end(self._tz))
        free = {n.record.record_id: n for n in stored if not taken(n, headers)}
        plan = plan_run((n.record for n in free.values()), directory, period, self._tz)
        numbers = self._ledger.reserve(tenant, len(plan.drafts)) if plan.drafts else []
        created: list[DraftHeader] = []
        skipped = 0
        for number, draft in zip(numbers, plan.drafts, strict=True):
            links = [Link(free[note.record_id], replace(billing, draft_number=number)) for note, billing in draft.items]
            header, linked = self._materialize(tenant, number, draft, links)
            skipped += len(links) - linked
            if header is not None:
                created.append(header)
        return RunResult(period, tuple(created), plan.unresolved, skipped)

    def _materialize(
        self, tenant: str, number: int, plan: DraftPlan, links: list[Link]
    ) -> tuple[DraftHeader | None, int]:
        now = self._clock()
        header = DraftHeader(
            tenant=tenant,
            number=number,
            status=OPEN,
            customer=plan.customer,
            period_from=plan.period,
            period_to=plan.period,
            created_at=now,
            updated_at=now,
            totals=Totals.of([link.billing for link in links]),
        )
        if len(links) < self._ledger.max_transaction:
            stored = self._ledger.create_with_links(header, links)
            if stored is not None:
                return stored, len(links)
        pending = self._ledger.put_header(replace(header, status=PENDING, totals=Totals()), None)
        if pending is None:  # the number exists: only if the counter was tampered with
            return None, 0
        linked = self._ledger.link(tenant, links)
        kept = [link.billing for link in links if link.note.record.record_id in linked]
        final = replace(
            header,
            status=OPEN if kept else VOID,
            totals=Totals.of(kept),
            updated_at=self._clock(),
        )
        stored = self._ledger.put_header(final, pending.version)
        if stored is None or stored.status != OPEN:
            return None, 0
        return stored, len(kept)

    def repair(self, tenant: str) -> dict[int, DraftHeader]:
        """Voids `pending` drafts whose lease is over (a run that crashed or took far too long)."""
        headers = self._ledger.headers(tenant)
        cutoff = self._clock() - self._lease
        stale = [h for h in headers.values() if h.status == PENDING and h.updated_at <= cutoff]
        for header in stale:
            self._ledger.put_header(replace(header, status=VOID, updated_at=self._clock()), header.version)
        return self._ledger.headers(tenant) if stale else headers

    # -- drafts -------------------------------------------------------------------------------

    def list(self, tenant: str, wanted: DraftFilter) -> list[DraftHeader]:
        headers = self.repair(tenant)
        found = []
        for header in sorted(headers.values(), key=lambda h: h.number):
            if wanted.status is None and header.status not in (*LIVE, PENDING):
                continue
            if wanted.status is not None and header.status != wanted.status:
                continue
            if wanted.customer_id is not None and header.customer.customer_id != wanted.customer_id:
                continue
            if wanted.period is not None and not header.period_from <= wanted.period <= header.period_to:
                continue
            found.append(header)
        return found

    def get(self, tenant: str, number: int) -> Draft:
        return self.draft_in(tenant, number, self.repair(tenant))

    def draft_in(self, tenant: str, number: int, headers: dict[int, DraftHeader]) -> Draft:
        """Draft `number` as the `headers` (already read and repaired) show it, with its lines if live."""
        header = existing(headers, number)
        if header.status not in LIVE:
            return Draft(header, ())
        return Draft(header, self.lines(*self.contents(tenant, number, headers)))

    def contents(self, tenant: str, number: int, headers: dict[int, DraftHeader]) -> tuple[Billed, Manual]:
        """What draft `number` bills, given the `headers`: its notes with their billing and its manual
        lines, those of the drafts merged into it included."""
        numbers = members(number, headers)
        billed = billed_in(number, self._ledger.notes_of(tenant, numbers), headers)
        return billed, manual_in(number, self._ledger.manual_lines(tenant, numbers), headers)

    def lines(
        self, billed: Sequence[tuple[BilledNote, NoteBilling]], manual: Sequence[ManualLine] = ()
    ) -> tuple[Line, ...]:
        lines = [line for note, billing in billed for line in lines_of(note.record, billing, self._tz)]
        lines.sort(key=lambda line: (line.date, line.note_id, line.kind != "time"))
        return (*lines, *self._manual_lines(manual))

    def _manual_lines(self, manual: Iterable[ManualLine]) -> tuple[Line, ...]:
        return tuple(m.line(self._tz) for m in sorted(manual, key=lambda m: m.number))

    def manual_lines_for(
        self, tenant: str, numbers: Sequence[int], headers: dict[int, DraftHeader]
    ) -> dict[int, tuple[Line, ...]]:
        """Only the manual lines of several live drafts, in their order, with one query (no read of notes:
        for a caller that has read the notes already, such as the specification)."""
        manual = _manual_by_draft(self._ledger, tenant, numbers, headers)
        return {n: self._manual_lines(manual.get(n, ())) for n in numbers}

    def open_draft(self, tenant: str, number: int) -> Draft:
        draft = self.get(tenant, number)
        if draft.header.status not in LIVE:
            raise Rejected(
                f"Invoice draft {number} is {draft.header.status}.",
                [FieldError("draftId", f"draft {number} is {status_text(draft.header)}")],
            )
        return draft

    def delete(self, tenant: str, number: int) -> tuple[DraftHeader, int]:
        """Retires the number; the draft's notes are unbilled from the moment the header says so."""
        headers = self.repair(tenant)
        header = existing(headers, number)
        self.ensure_not_exporting(header)
        if header.status != OPEN:
            raise Rejected(
                f"Invoice draft {number} cannot be deleted: it is {header.status}.",
                [FieldError("draftId", f"draft {number} is {status_text(header)}, only open drafts can be deleted")],
            )
        numbers = members(number, headers)  # itself and the drafts merged into it
        notes = self._ledger.notes_of(tenant, numbers)
        deleted = self._ledger.put_header(replace(header, status=DELETED, updated_at=self._clock()), header.version)
        if deleted is None:
            raise Conflict(f"Invoice draft {number} changed while it was being deleted; retry.")
        # Tidiness: the notes are already unbilled (their draft is deleted); clear their numbers so
        # the listing says so too. A note re-billed meanwhile has a new ETag and is left alone.
        released = [n for n in notes if n.billing is not None and n.billing.draft_number in numbers]
        self._ledger.unlink(tenant, released)
        return deleted, len(released)

    def reopen(self, tenant: str, number: int) -> Draft:
        """An exported draft the accounting sync flagged as deleted in e-conomic without being booked
        becomes open again (`shared.invoicing.merging.reopen_draft`)."""
        return reopen_draft(self, self._ledger, self._clock, tenant, number)

    def merge(self, tenant: str, numbers: Sequence[int]) -> Draft:
        """Open drafts of one customer into the one with the lowest number (step 4 above)."""
        return merge_drafts(self, self._ledger, self._clock, tenant, numbers)

    def lines_for(
        self, tenant: str, numbers: Sequence[int], headers: dict[int, DraftHeader]
    ) -> dict[int, tuple[Line, ...]]:
        """The lines of several live drafts with one scan over their months (the export's read of up to
        thousands of drafts: one paged query instead of one per draft)."""
        chosen = [headers[n] for n in numbers]
        if not chosen:
            return {}
        start = min(h.period_from for h in chosen).start(self._tz)
        end = max(h.period_to for h in chosen).end(self._tz)
        wanted = set(numbers)
        billed: dict[int, list[tuple[BilledNote, NoteBilling]]] = {n: [] for n in numbers}
        for note in self._ledger.billed_notes_starting(tenant, start, end):  # only the columns lines need
            if note.billing is None:
                continue
            live = resolve_number(note.billing.draft_number, headers)
            if live in wanted:
                billed[live].append((note, note.billing))
        manual = _manual_by_draft(self._ledger, tenant, numbers, headers)
        return {n: self.lines(billed[n], manual.get(n, ())) for n in numbers}

    def ensure_not_exporting(self, header: DraftHeader) -> None:
        job = export_job_of(header)
        if job is not None and self.export_active(job):
            raise Conflict(
                f"Invoice draft {header.number} is being exported to e-conomic (job {job}); "
                "retry when the job has ended.",
                [FieldError("draftId", f"draft {header.number} is held by export job {job}")],
            )

    def products_for(self, tenant: str, numbers: Sequence[int], headers: dict[int, DraftHeader]) -> dict[int, set[str]]:
        """The product numbers each live draft's lines are booked on (what a check before an export needs,
        read as two columns rather than whole notes)."""
        chosen = [headers[n] for n in numbers]
        products: dict[int, set[str]] = {n: set() for n in numbers}
        if not chosen:
            return products
        start = min(h.period_from for h in chosen).start(self._tz)
        end = max(h.period_to for h in chosen).end(self._tz)
        for draft, product in self._ledger.billed_products(tenant, start, end):
            live = resolve_number(draft, headers)
            if live in products:
                products[live].add(product)
        for live, lines in _manual_by_draft(self._ledger, tenant, numbers, headers).items():
            products[live].update(line.product_number for line in lines)
        return products

    def drafted_customers(self, tenant: str) -> set[int]:
        return {h.customer.customer_id for h in self._ledger.headers(tenant).values() if h.status in (*LIVE, PENDING)}

    def live_resolver(self, tenant: str) -> Callable[[int], BilledIn | None]:
        """Where a note carrying a draft number stands: its live draft and, once booked, the invoice number."""
        headers = self._ledger.headers(tenant)

        def where(number: int) -> BilledIn | None:
            live = resolve_number(number, headers)
            return None if live is None else BilledIn(live, invoice_number(headers[live]))

        return where


def _manual_by_draft(
    ledger: Ledger, tenant: str, numbers: Sequence[int], headers: dict[int, DraftHeader]
) -> dict[int, list[ManualLine]]:
    """The manual lines of several live drafts, by draft, read with one query over their members' range."""
    wanted = set(numbers)
    carriers = [n for n in headers if resolve_number(n, headers) in wanted]
    found = ledger.manual_lines_between(tenant, min(carriers), max(carriers)) if carriers else []
    by_draft: dict[int, list[ManualLine]] = {}
    for line in found:
        live = resolve_number(line.draft_number, headers)
        if live in wanted:
            by_draft.setdefault(live, []).append(line)
    return by_draft


__all__ = ["MAX_MERGE", "Draft", "DraftFilter", "InvoicingService", "RunResult"]
