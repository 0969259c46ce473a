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
5. Delete marks the header `deleted` (one conditional write: from then on its notes are unbilled),
   then clears the notes' draft numbers, which is tidiness only: a crash in between loses nothing.

Two concurrent runs both read a note with the same ETag; only the first rewrite succeeds, the other
drops the note (tests/integration/test_invoicing_storage.py runs two at once against Azurite).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.errors import Conflict, FieldError, NotFound, Rejected
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.ledger import (
    DELETED,
    EXPORTED,
    LIVE,
    MERGED,
    OPEN,
    PENDING,
    VOID,
    BilledNote,
    DraftHeader,
    Link,
    Status,
    Totals,
    billed_in,
    export_job_of,
    invoice_number,
    members,
    resolve_number,
    status_text,
    taken,
)
from shared.invoicing.planning import (
    DraftPlan,
    Line,
    NoteBilling,
    Period,
    Unresolved,
    default_period,
    lines_of,
    plan_run,
)
from shared.invoicing.ports import Ledger
from shared.work import BilledIn

MAX_MERGE = 100


@dataclass(frozen=True)
class Draft:
    header: DraftHeader
    lines: tuple[Line, ...]
    """Time and surcharge lines, by date; empty for drafts that are not live."""

    @property
    def totals(self) -> Totals:
        return self.header.totals


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
        headers = self.repair(tenant)
        header = _existing(headers, number)
        if header.status not in LIVE:
            return Draft(header, ())
        notes = self._ledger.notes_of(tenant, members(number, headers))
        return Draft(header, self._lines(billed_in(number, notes, headers)))

    def _lines(self, billed: Sequence[tuple[BilledNote, NoteBilling]]) -> tuple[Line, ...]:
        lines = [line for note, billing in billed for line in lines_of(note.record, billing, self._tz)]
        lines.sort(key=lambda line: (line.date, line.note_id, line.kind != "time"))
        return tuple(lines)

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
        header = _existing(headers, number)
        self._not_exporting(header)
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
        becomes open again, so it can be exported anew (or deleted). What it was is kept under
        `accounting.reopened`. Any other draft is refused: the flag is the sync's proof that e-conomic
        has no document for it, booked or not."""
        headers = self.repair(tenant)
        header = _existing(headers, number)
        missing = header.accounting.missing if header.status == EXPORTED else None
        if not missing:
            raise Rejected(
                f"Invoice draft {number} cannot be reopened.",
                [
                    FieldError(
                        "draftId",
                        f"draft {number} is {status_text(header)}; only an exported draft that the accounting "
                        "sync found deleted in e-conomic (accounting.missing) can be reopened",
                    )
                ],
            )
        now = self._clock()
        kept = ("documentType", "documentNumber", "exportJob", "invoiceDate", "exportedAt")
        previous = {k: header.accounting[k] for k in kept if k in header.accounting}
        accounting = AccountingState(reopened={"at": now.isoformat(), **previous, "missing": dict(missing)})
        stored = self._ledger.put_header(
            replace(header, status=OPEN, accounting=accounting, updated_at=now), header.version
        )
        if stored is None:
            raise Conflict(f"Invoice draft {number} changed while it was being reopened; retry.")
        return self.get(tenant, number)

    def merge(self, tenant: str, numbers: Sequence[int]) -> Draft:
        wanted = sorted(set(numbers))
        if not 2 <= len(wanted) <= MAX_MERGE:
            raise Rejected(
                "Name at least two different drafts to merge.",
                [FieldError("draftIds", f"must name 2 to {MAX_MERGE} different drafts")],
            )
        headers = self.repair(tenant)
        errors = []
        for number in wanted:
            header = headers.get(number)
            if header is None:
                errors.append(FieldError("draftIds", f"draft {number} does not exist"))
            elif header.status != OPEN:
                errors.append(FieldError("draftIds", f"draft {number} is {status_text(header)}, not open"))
        if errors:
            raise Rejected("Only open drafts can be merged.", errors)
        chosen = [headers[n] for n in wanted]
        for header in chosen:
            self._not_exporting(header)
        customers = {h.customer.customer_id for h in chosen}
        if len(customers) > 1:
            listing = ", ".join(f"draft {h.number}: customer {h.customer.customer_id}" for h in chosen)
            raise Rejected(
                "Only drafts of the same customer can be merged.",
                [FieldError("draftIds", f"the drafts belong to different customers ({listing})")],
            )
        now = self._clock()
        target, sources = chosen[0], chosen[1:]
        merged_headers = {
            **headers,
            **{s.number: replace(s, status=MERGED, merged_into=target.number) for s in sources},
        }
        notes = self._ledger.notes_of(tenant, members(target.number, merged_headers))
        billed = billed_in(target.number, notes, merged_headers)
        new_target = replace(
            target,
            period_from=min(h.period_from for h in chosen),
            period_to=max(h.period_to for h in chosen),
            totals=Totals.of([billing for _, billing in billed]),
            merged_from=tuple(sorted({*target.merged_from, *(s.number for s in sources)})),
            updated_at=now,
        )
        absorbed = [replace(s, status=MERGED, merged_into=target.number, updated_at=now) for s in sources]
        if not self._ledger.replace_headers([new_target, *absorbed]):
            raise Conflict("One of the drafts changed while merging; retry.")
        # The notes did not change (they can only while a header they are billed in does): only
        # the new header's version has to be read back.
        return Draft(self._ledger.headers(tenant)[target.number], self._lines(billed))

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
        return {n: self._lines(billed[n]) for n in numbers}

    def _not_exporting(self, header: DraftHeader) -> None:
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


def _existing(headers: dict[int, DraftHeader], number: int) -> DraftHeader:
    header = headers.get(number)
    if header is None:
        raise NotFound(f"No invoice draft {number}.", [FieldError("draftId", f"no draft {number}")])
    return header
