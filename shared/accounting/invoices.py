"""Booked invoice numbers back from e-conomic onto our drafts (timer and HTTP, per tenant).

After an export, accountants book the drafts in e-conomic; the booked invoice keeps the draft's
`references.other` (`IB-<tenant>-<draft>`, see `shared.export.documents`), which is how we recognise it. An
order is followed through its upgrade: the invoice draft e-conomic makes of it keeps the reference.

One run for a tenant:

1. Take the tenant's lease (a conditional write on its `AccountingSync` row): one run per tenant at
   a time, whichever instance or trigger starts it. Nothing waiting (no `exported` draft): done,
   without a call to e-conomic.
2. Read the booked invoices e-conomic issued since the last run, page by page (`skippages`/
   `pagesize`), by ascending `bookedInvoiceNumber`: `bookedInvoiceNumber$gt:<watermark>`. Booked
   invoice numbers only grow, so this is exactly "what was booked since"; a date would not do, since
   a booked invoice carries the invoice date, which is often before the day it was booked. The very
   first run has no watermark and asks by date instead, from a month before the oldest waiting
   draft's invoice date.
   For each page: record every booked invoice that carries one of our references on its draft
   (status `booked`, `accounting.booked` = number, date, amounts), then move the watermark to the
   page's highest number. A crash between the read and the writes leaves the watermark where it
   was, so the page is read again; a crash after the writes and before the watermark re-reads a
   page whose drafts are already booked with the same numbers, which changes nothing. So no update
   is lost and none is applied twice.
3. The drafts still waiting are looked for where e-conomic keeps unbooked documents: draft invoices,
   and for orders also the order drafts and sent orders (and the invoice draft an order was upgraded
   to). A draft found nowhere is looked up once more among the booked invoices by its reference
   (it may have been booked while this run read, or booked with a lower number chosen by hand); if
   that finds nothing either, it is flagged `accounting.missing`: deleted in e-conomic without being
   booked. It stays `exported` and its notes stay billed; a person decides what happens to it. The
   flag goes again if the document turns up later.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from shared.errors import BadGateway, Conflict, FieldError, Forbidden, ServiceUnavailable
from shared.export.documents import REFERENCE_PREFIX, reference_of
from shared.invoicing.ledger import BOOKED, EXPORTED, DraftHeader, Ledger
from shared.secrets import SecretInvalid, SecretMissing

if TYPE_CHECKING:
    from shared.export.ports import Failures

log = logging.getLogger("invoice_bridge.accounting")

LEASE = timedelta(minutes=10)
"""As long as host.json's functionTimeout: a run cannot outlive it, so an older lease is a dead run's."""
FIRST_RUN_MARGIN = timedelta(days=31)
RUN_ALL_BUDGET = timedelta(minutes=7)
"""How long the timer starts new tenants: well inside host.json's 10-minute functionTimeout."""
RUN_ALL_LIMIT = timedelta(minutes=9)
"""When the timer's runs stop reading pages, whichever tenant they are at: before the functionTimeout."""
RECHECK_MISSING = timedelta(hours=24)
"""How often a flagged draft is looked up by its reference again (each lookup is up to four requests;
the listings, read every run anyway, still show a document that turns up as a draft)."""
HTTP_LIMIT = timedelta(seconds=120)
"""When an HTTP run stops reading pages: well before the front end's 230-second request timeout."""
PAGE_SIZE = 1000
CENT = Decimal("0.01")
_NUMBER = re.compile(r"[1-9][0-9]{0,17}", re.ASCII)


# -- what the service needs from the outside -------------------------------------------------------


class BookedApi(Protocol):
    """The part of `shared.adapters.economic.EconomicClient` the sync uses."""

    def booked_pages(self, filter: str, *, pagesize: int = ...) -> Iterator[list[dict[str, Any]]]: ...
    def find_booked(self, reference: str) -> list[dict[str, Any]]: ...
    def list_drafts(self, kind: Any) -> list[dict[str, Any]]: ...
    def sent_orders(self) -> list[dict[str, Any]]: ...
    def find_drafts(self, kind: Any, reference: str) -> list[dict[str, Any]]: ...
    def find_sent_orders(self, reference: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class SyncState:
    tenant: str
    watermark: int | None = None
    """The highest `bookedInvoiceNumber` read so far (None: never read)."""
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_result: Mapping[str, Any] = field(default_factory=dict)
    running_until: datetime | None = None
    run_id: str | None = None
    version: object | None = None


class SyncStates(Protocol):
    def get(self, tenant: str) -> SyncState | None: ...
    def put(self, state: SyncState) -> SyncState | None:
        """Create (version None) or replace if unchanged; None when the condition fails."""
        ...

    def tenants(self) -> list[str]: ...


class SyncBusy(Conflict):
    """Another run holds the tenant's lease."""


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookedDraft:
    draft: int
    invoice_number: int
    date: str | None
    net_amount: str | None


@dataclass(frozen=True)
class SyncResult:
    tenant: str
    trigger: str
    started_at: datetime
    finished_at: datetime
    waiting: int
    """Exported drafts not booked yet when the run started."""
    booked: tuple[BookedDraft, ...] = ()
    missing: tuple[int, ...] = ()
    """Drafts newly flagged: deleted in e-conomic without being booked."""
    still_missing: tuple[int, ...] = ()
    found_again: tuple[int, ...] = ()
    upgraded: tuple[tuple[int, int], ...] = ()
    """(draft, e-conomic invoice draft number) of orders newly seen upgraded to an invoice draft."""
    still_waiting: int = 0
    pages: int = 0
    watermark_before: int | None = None
    watermark_after: int | None = None
    notes: tuple[str, ...] = ()
    """Things a person should look at (a second booked invoice with our reference, ...)."""
    complete: bool = True
    """False: the run stopped at its time limit after a page; what it read is recorded, the next run
    continues from there (and only a complete run looks for drafts deleted in e-conomic)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "trigger": self.trigger,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat(),
            "waiting": self.waiting,
            "booked": [
                {"draftId": b.draft, "invoiceNumber": b.invoice_number, "date": b.date, "netAmount": b.net_amount}
                for b in self.booked
            ],
            "missing": list(self.missing),
            "stillMissing": list(self.still_missing),
            "foundAgain": list(self.found_again),
            "upgraded": [{"draftId": d, "draftInvoiceNumber": n} for d, n in self.upgraded],
            "stillWaiting": self.still_waiting,
            "pages": self.pages,
            "watermarkBefore": self.watermark_before,
            "watermarkAfter": self.watermark_after,
            "notes": list(self.notes),
            "complete": self.complete,
        }


Change = Callable[[DraftHeader], DraftHeader | None]
"""A header's new value given its current one (None: leave it)."""


# -- the service -----------------------------------------------------------------------------------


class InvoiceSync:
    def __init__(
        self,
        *,
        ledger: Ledger,
        states: SyncStates,
        economic: Callable[[str], BookedApi],
        failures: Failures,
        clock: Callable[[], datetime],
        page_size: int = PAGE_SIZE,
        known_tenants: Callable[[], Iterable[str]] = lambda: (),
        budget: timedelta = RUN_ALL_BUDGET,
        limit: timedelta = RUN_ALL_LIMIT,
    ) -> None:
        self._ledger = ledger
        self._states = states
        self._economic = economic
        self._failures = failures
        self._clock = clock
        self._page_size = page_size
        self._known_tenants = known_tenants
        self._budget = budget
        self._limit = limit
        self._unexported: set[str] = set()
        """Tenants seen without exported drafts (this process): not asked again until it restarts."""
        self.before_write: Callable[[str], None] = lambda step: None
        """Called before every write (`headers`, `watermark`): lets a test crash the run there."""

    # -- entry points -----------------------------------------------------------------------------

    def watch(self, tenant: str) -> None:
        """Makes the timer look at this tenant from now on (the export calls it before it exports)."""
        if self._states.get(tenant) is None:
            self._states.put(SyncState(tenant=tenant))  # a concurrent create wins just as well

    def state(self, tenant: str) -> SyncState:
        return self._states.get(tenant) or SyncState(tenant=tenant)

    def run(self, tenant: str, *, trigger: str = "http", time_limit: timedelta | None = None) -> SyncResult:
        """One run for the tenant. Raises `SyncBusy` (409) while another run holds the lease, and
        e-conomic trouble as 403 `economic` / 502 / 503 (recorded on the tenant's state first).
        `time_limit`: read no further page once this much time has passed (the result says
        `complete=False`); None reads to the end."""
        started = self._clock()
        state = self._acquire(tenant, started)
        lease = _Lease(self, state)
        try:
            result = self._run(tenant, trigger, started, lease, None if time_limit is None else started + time_limit)
        except Exception as error:
            lease.release(error=_error_text(error))
            mapped = self._as_api_error(tenant, error)
            if mapped is error:
                raise
            raise mapped from error
        lease.release(result=result)
        return result

    def run_all(self, *, trigger: str = "timer") -> dict[str, str]:
        """Every watched tenant, the longest unsynced first; a tenant's failure does not stop the others.
        Starts no tenant after the first once `budget` is spent (the function's timeout is 10 minutes):
        the rest come first next time. Also looks, once per process, for tenants of the billing directory that
        have exported drafts but are not watched yet (drafts exported before the sync existed)."""
        started = self._clock()
        self._discover()
        states = [self.state(tenant) for tenant in self._states.tenants()]
        oldest = datetime.min.replace(tzinfo=started.tzinfo)
        states.sort(key=lambda s: (s.last_run_at or oldest, s.tenant))
        outcome: dict[str, str] = {}
        for position, state in enumerate(states):
            if position and self._clock() - started >= self._budget:
                outcome[state.tenant] = "postponed: the timer's time is up; it runs first next time"
                continue
            try:
                result = self.run(state.tenant, trigger=trigger, time_limit=started + self._limit - self._clock())
            except SyncBusy:
                outcome[state.tenant] = "busy"
            except Exception as error:
                log.warning("Accounting sync of %s failed: %s", state.tenant, error)
                outcome[state.tenant] = f"failed: {error}"
            else:
                outcome[state.tenant] = f"{len(result.booked)} booked, {len(result.missing)} missing" + (
                    "" if result.complete else "; stopped at the time limit, the next run continues"
                )
        return outcome

    def _discover(self) -> None:
        watched = set(self._states.tenants())
        for tenant in self._known_tenants():
            if tenant in watched or tenant in self._unexported:
                continue
            if any(h.status == EXPORTED for h in self._ledger.headers(tenant).values()):
                self.watch(tenant)
            else:
                self._unexported.add(tenant)

    # -- one run ----------------------------------------------------------------------------------

    def _run(
        self, tenant: str, trigger: str, started: datetime, lease: _Lease, deadline: datetime | None
    ) -> SyncResult:
        headers = self._ledger.headers(tenant)
        waiting = {n: h for n, h in headers.items() if h.status == EXPORTED}
        before = lease.state.watermark
        if not waiting:
            nothing = SyncResult(tenant, trigger, started, self._clock(), 0)
            return replace(nothing, watermark_before=before, watermark_after=before)
        economic = self._connect(tenant)
        notes: list[str] = []
        booked: dict[int, BookedDraft] = {}
        pages = 0
        complete = True
        if before is not None:
            query = f"bookedInvoiceNumber$gt:{before}"
        else:
            query = f"date$gte:{(_oldest_invoice_date(waiting.values()) - FIRST_RUN_MARGIN).isoformat()}"
        for page in economic.booked_pages(query, pagesize=self._page_size):
            pages += 1
            changes = self._bookings(tenant, economic, page, headers, booked, notes)
            if changes:
                headers = self._write(tenant, changes, headers)
            numbers = [n for n in (_int(doc.get("bookedInvoiceNumber")) for doc in page) if n is not None]
            if numbers:
                lease.advance(max(numbers))
            if deadline is not None and self._clock() >= deadline and len(page) >= self._page_size:
                complete = False  # the generator asks for no further page (a short page was the last)
                break
        still = {n: h for n, h in headers.items() if h.status == EXPORTED}
        # Drafts booked on pages not read yet are not missing: only a complete run looks for those.
        located = self._locate(tenant, economic, still, headers, booked, notes) if still and complete else _Located()
        if located.changes:
            headers = self._write(tenant, located.changes, headers)
        remaining = sum(1 for h in headers.values() if h.status == EXPORTED)
        return SyncResult(
            tenant=tenant,
            trigger=trigger,
            started_at=started,
            finished_at=self._clock(),
            waiting=len(waiting),
            booked=tuple(sorted(booked.values(), key=lambda b: b.draft)),
            missing=tuple(sorted(located.missing)),
            still_missing=tuple(sorted(located.still_missing)),
            found_again=tuple(sorted(located.found_again)),
            upgraded=tuple(sorted(located.upgraded)),
            still_waiting=remaining,
            pages=pages,
            watermark_before=before,
            watermark_after=lease.state.watermark,
            notes=tuple(notes),
            complete=complete,
        )

    def _bookings(
        self,
        tenant: str,
        economic: BookedApi,
        documents: Sequence[Mapping[str, Any]],
        headers: Mapping[int, DraftHeader],
        booked: dict[int, BookedDraft],
        notes: list[str],
    ) -> dict[int, Change]:
        """The header changes for the booked invoices among `documents` that carry our references."""
        changes: dict[int, Change] = {}
        known = ours(headers)
        for doc in documents:
            ref = _reference_of(doc)
            invoice = _int(doc.get("bookedInvoiceNumber"))
            if ref is None or invoice is None:
                continue
            number = known.get(ref)
            if number is None:
                stray = draft_of(tenant, ref)
                if stray is not None:
                    header = headers.get(stray)
                    notes.append(
                        f"e-conomic booked invoice {invoice} carries reference {ref}, but draft {stray} is "
                        f"{'unknown' if header is None else header.status}, not exported; nothing was recorded"
                    )
                continue
            header = headers[number]
            now = self._clock()
            first = booked[number].invoice_number if number in booked else _booked_number(header)
            if first is None and _negative(doc):
                # A credit note seen first: its invoice may be below the watermark (a number chosen by
                # hand). Ask for every booked invoice with the reference and take the invoice itself.
                found = _invoice_first(economic.find_booked(ref)) or [doc]
                change: Change | None = None
                for each in found:
                    change = _then(change, _book(booked_record(each, now)))
                record = booked_record(found[0], now)
                booked[number] = BookedDraft(
                    number, record["invoiceNumber"], record.get("date"), record.get("netAmount")
                )
                assert change is not None
                changes[number] = _then(changes.get(number), change)
                continue
            record = booked_record(doc, now)
            if first is None:
                booked[number] = BookedDraft(number, invoice, record.get("date"), record.get("netAmount"))
            elif first != invoice:
                notes.append(
                    f"draft {number} is booked as invoice {first}; e-conomic also booked invoice {invoice} "
                    "with its reference (a credit note?): recorded under accounting.alsoBooked"
                )
            changes[number] = _then(changes.get(number), _book(record))
        return changes

    def _locate(
        self,
        tenant: str,
        economic: BookedApi,
        still: Mapping[int, DraftHeader],
        headers: Mapping[int, DraftHeader],
        booked: dict[int, BookedDraft],
        notes: list[str],
    ) -> _Located:
        """Where the drafts that are not booked are in e-conomic; flags the ones that are nowhere.

        Documents move one way: order draft -> sent order -> invoice draft -> booked invoice (or are
        deleted). The listings are read in that order, and a draft missing from them is looked up by its
        reference in that order too (listings are paged, and a page can shift while it is read), so a
        document that moves while we look is seen in its next place, never nowhere."""
        orders: dict[str, int] = {}
        if any(h.accounting.get("documentType") == "order" for h in still.values()):
            orders = _by_reference([*economic.list_drafts("order"), *economic.sent_orders()], "orderNumber")
        invoice_drafts = _by_reference(economic.list_drafts("draftInvoice"), "draftInvoiceNumber")
        located = _Located()
        now = self._clock()
        for number, header in sorted(still.items()):
            ref = reference_of(header)
            kind = str(header.accounting.get("documentType") or "draftInvoice")
            flagged = "missing" in header.accounting
            place = _place(ref, kind, orders, invoice_drafts)
            if place is None and flagged and not _recheck_due(header, now):
                located.still_missing.append(number)  # looked up by its reference less than a day ago
                continue
            place = place or self._search(economic, ref, kind)
            if place is not None and place[0] != "booked" and isinstance(place[1], int):
                upgraded_to = place[1] if kind == "order" and place[0] == "draftInvoice" else None
                if (
                    upgraded_to is not None
                    and (header.accounting.get("upgradedTo") or {}).get("documentNumber") != upgraded_to
                ):
                    located.upgraded.append((number, upgraded_to))
                if flagged:
                    located.found_again.append(number)
                located.changes[number] = _found(upgraded_to)
                continue
            found = _invoice_first(place[1]) if place is not None and isinstance(place[1], list) else []
            if found:  # booked while we read, or under a number below the watermark
                record = booked_record(found[0], now)
                booked[number] = BookedDraft(
                    number, record["invoiceNumber"], record.get("date"), record.get("netAmount")
                )
                change: Change | None = None
                for each in found:
                    change = _then(change, _book(booked_record(each, now)))
                assert change is not None
                located.changes[number] = change
                continue
            document = f"{'order' if kind == 'order' else 'draft invoice'} {header.accounting.get('documentNumber')}"
            reason = (
                f"e-conomic has neither {document} nor a booked invoice with reference {ref}: "
                "it was deleted there without being booked"
            )
            if flagged:
                located.still_missing.append(number)
            else:
                located.missing.append(number)
                log.warning("Accounting sync of %s: draft %d: %s", tenant, number, reason)
            located.changes[number] = _flag_missing(now, reason)
        return located

    def _search(self, economic: BookedApi, ref: str, kind: str) -> tuple[str, int | list[dict[str, Any]]] | None:
        """Where the document with this reference is now, asked place by place in the direction documents
        move: (place, its number), or ("booked", the booked invoices); None when it is nowhere."""
        if kind == "order":
            for doc in economic.find_drafts("order", ref):
                return "order", _int(doc.get("orderNumber")) or 0
            for doc in economic.find_sent_orders(ref):
                return "order", _int(doc.get("orderNumber")) or 0
        for doc in economic.find_drafts("draftInvoice", ref):
            return "draftInvoice", _int(doc.get("draftInvoiceNumber")) or 0
        found = economic.find_booked(ref)
        return ("booked", found) if found else None

    # -- writes -----------------------------------------------------------------------------------

    def _write(
        self, tenant: str, changes: Mapping[int, Change], headers: Mapping[int, DraftHeader]
    ) -> dict[int, DraftHeader]:
        """Applies the changes to `headers` (as last read or written), in conditional batches of
        `max_transaction`; a batch that lost a race is read again and applied again. Returns the headers
        afterwards, the written ones without a version: the next write to one of them reads first.
        (Reading every header of the tenant costs more than all the rest of a run, so it is done only
        when needed.)"""
        todo = dict(changes)
        current = dict(headers)
        for attempt in range(5):
            if attempt or any(current[n].version is None for n in todo if n in current):
                current = self._ledger.headers(tenant)
            now = self._clock()
            new: dict[int, DraftHeader] = {}
            for number, change in todo.items():
                header = current.get(number)
                updated = change(header) if header is not None else None
                if updated is not None and updated != header:
                    new[number] = replace(updated, updated_at=now)
            failed: dict[int, Change] = {}
            numbers = sorted(new)
            for start in range(0, len(numbers), self._ledger.max_transaction):
                chunk = numbers[start : start + self._ledger.max_transaction]
                self.before_write("headers")
                if self._ledger.replace_headers([new[n] for n in chunk]):
                    current.update({n: replace(new[n], version=None) for n in chunk})
                else:
                    failed.update({n: todo[n] for n in chunk})
            if not failed:
                return current
            todo = failed
        raise Conflict("Drafts kept changing while the accounting sync recorded their invoice numbers; retry.")

    # -- lease and state ----------------------------------------------------------------------------

    def _acquire(self, tenant: str, now: datetime) -> SyncState:
        current = self._states.get(tenant) or SyncState(tenant=tenant)
        if current.running_until is not None and current.running_until > now:
            raise SyncBusy(
                f"An accounting sync for {tenant} is running; retry after it ends.",
                [FieldError("reseller", f"a sync of {tenant} runs until {current.running_until.isoformat()} at most")],
                headers={"Retry-After": "30"},
                code="busy",
            )
        self.before_write("lease")
        taken = self._states.put(replace(current, running_until=now + LEASE, run_id=str(uuid.uuid4()), last_run_at=now))
        if taken is None:
            raise SyncBusy(
                f"An accounting sync for {tenant} has just started; retry after it ends.",
                headers={"Retry-After": "30"},
                code="busy",
            )
        return taken

    def _connect(self, tenant: str) -> BookedApi:
        try:
            return self._economic(tenant)
        except (SecretMissing, SecretInvalid) as error:
            raise Forbidden(
                f"The e-conomic integration of {tenant} is not valid: {error.message}",
                [FieldError("economic", "the e-conomic tokens are missing or were refused")],
                code="economic",
            ) from None

    def _as_api_error(self, tenant: str, error: Exception) -> Exception:
        if isinstance(error, self._failures.auth):
            return Forbidden(
                f"The e-conomic integration of {tenant} is not valid: {error}",
                [FieldError("economic", "the e-conomic tokens are missing or were refused")],
                code="economic",
            )
        if isinstance(error, self._failures.transient):
            return ServiceUnavailable(
                f"e-conomic or storage cannot be reached right now ({error}); retry shortly.",
                headers={"Retry-After": "30"},
            )
        if isinstance(error, self._failures.rejected):
            return BadGateway(f"e-conomic refused the sync's questions: {error}")
        if isinstance(error, self._failures.unusable):
            return BadGateway(f"e-conomic answered the sync with something it cannot use: {error}")
        return error

    def _save(self, state: SyncState) -> SyncState:
        self.before_write("watermark")
        stored = self._states.put(state)
        if stored is None:
            raise Conflict(f"Another accounting sync of {state.tenant} took over; this run stopped.", code="busy")
        return stored


class _Lease:
    """The run's hold on its tenant's state row: moves the watermark and ends the run."""

    def __init__(self, sync: InvoiceSync, state: SyncState) -> None:
        self._sync = sync
        self.state = state

    def advance(self, highest: int) -> None:
        if self.state.watermark is None or highest > self.state.watermark:
            self.state = self._sync._save(replace(self.state, watermark=highest))

    def release(self, *, result: SyncResult | None = None, error: str | None = None) -> None:
        now = self._sync._clock()
        ended = replace(self.state, running_until=None, run_id=None)
        if result is not None:
            ended = replace(ended, last_success_at=now, last_error=None, last_result=result.as_dict())
        else:
            ended = replace(ended, last_error=error)
        try:
            stored = self._sync._states.put(ended)
            if stored is None:
                raise Conflict("the state changed meanwhile")
            self.state = stored
        except Exception as failure:  # the lease then simply runs out
            log.warning("Accounting sync of %s: could not record the end of the run: %s", self.state.tenant, failure)


@dataclass
class _Located:
    changes: dict[int, Change] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    still_missing: list[int] = field(default_factory=list)
    found_again: list[int] = field(default_factory=list)
    upgraded: list[tuple[int, int]] = field(default_factory=list)


# -- pure rules ------------------------------------------------------------------------------------


def draft_of(tenant: str, ref: str | None) -> int | None:
    """The tenant's draft number in a document's `references.other` (`IB-<tenant>-17` -> 17); None if
    it is not the tenant's. Drafts exported before references named the tenant are matched through
    `ours` (their `IB-17` alone could be another tenant's)."""
    prefix = f"{REFERENCE_PREFIX}{tenant}-"
    if not ref or not ref.startswith(prefix) or not _NUMBER.fullmatch(ref[len(prefix) :]):
        return None
    return int(ref[len(prefix) :])


def ours(headers: Mapping[int, DraftHeader]) -> dict[str, int]:
    """The references of the drafts that have a document in e-conomic (exported or booked), to their numbers."""
    return {reference_of(h): n for n, h in headers.items() if h.status in (EXPORTED, BOOKED)}


def booked_record(doc: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What we keep of a booked invoice: number, date, due date, currency and amounts (decimal strings)."""
    record: dict[str, Any] = {"invoiceNumber": _int(doc.get("bookedInvoiceNumber"))}
    for key in ("date", "dueDate", "currency"):
        if isinstance(doc.get(key), str):
            record[key] = doc[key]
    for key in ("netAmount", "vatAmount", "grossAmount"):
        amount = _decimal(doc.get(key))
        if amount is not None:
            record[key] = str(amount)
    record["recordedAt"] = now.isoformat()
    return record


def _book(record: Mapping[str, Any]) -> Change:
    number = record["invoiceNumber"]

    def change(header: DraftHeader) -> DraftHeader | None:
        accounting = dict(header.accounting)
        accounting.pop("missing", None)
        current = accounting.get("booked")
        if header.status == EXPORTED or (header.status == BOOKED and current is None):
            accounting["booked"] = dict(record)
            return replace(header, status=BOOKED, accounting=accounting)
        if header.status != BOOKED or current is None or current.get("invoiceNumber") == number:
            return None
        others = list(accounting.get("alsoBooked") or [])
        if any(o.get("invoiceNumber") == number for o in others):
            return None
        accounting["alsoBooked"] = [*others, dict(record)]
        return replace(header, accounting=accounting)

    return change


def _found(upgraded_to: int | None) -> Change:
    def change(header: DraftHeader) -> DraftHeader | None:
        if header.status != EXPORTED:
            return None
        accounting = dict(header.accounting)
        accounting.pop("missing", None)
        if upgraded_to is not None:
            accounting["upgradedTo"] = {"documentType": "draftInvoice", "documentNumber": upgraded_to}
        return replace(header, accounting=accounting)

    return change


def _flag_missing(now: datetime, reason: str) -> Change:
    """Flags the draft (or, flagged already, records when it was last looked for)."""

    def change(header: DraftHeader) -> DraftHeader | None:
        if header.status != EXPORTED:
            return None
        earlier = header.accounting.get("missing")
        if isinstance(earlier, Mapping):
            missing = {**earlier, "checkedAt": now.isoformat()}
        else:
            missing = {"since": now.isoformat(), "reason": reason, "checkedAt": now.isoformat()}
        return replace(header, accounting={**header.accounting, "missing": missing})

    return change


def _recheck_due(header: DraftHeader, now: datetime) -> bool:
    missing = header.accounting.get("missing")
    last = (missing.get("checkedAt") or missing.get("since")) if isinstance(missing, Mapping) else None
    try:
        return last is None or now - datetime.fromisoformat(str(last)) >= RECHECK_MISSING
    except (TypeError, ValueError):
        return True


def _then(first: Change | None, second: Change) -> Change:
    if first is None:
        return second

    def change(header: DraftHeader) -> DraftHeader | None:
        middle = first(header) or header
        return second(middle) or (middle if middle is not header else None)

    return change


def _place(
    ref: str, kind: str, orders: Mapping[str, int], invoice_drafts: Mapping[str, int]
) -> tuple[str, int | list[dict[str, Any]]] | None:
    if kind == "order" and ref in orders:
        return "order", orders[ref]
    if ref in invoice_drafts:
        return "draftInvoice", invoice_drafts[ref]
    return None


def _negative(doc: Mapping[str, Any]) -> bool:
    amount = _decimal(doc.get("grossAmount"))
    if amount is None:
        amount = _decimal(doc.get("netAmount"))
    return amount is not None and amount < 0


def _invoice_first(documents: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Booked invoices with one reference, the invoice itself first: the lowest number that is not a
    credit (negative) note, then the rest by number."""
    numbered = [d for d in documents if _int(d.get("bookedInvoiceNumber")) is not None]
    return sorted(numbered, key=lambda d: (_negative(d), _int(d.get("bookedInvoiceNumber")) or 0))


def _booked_number(header: DraftHeader) -> int | None:
    booked = header.accounting.get("booked")
    return _int(booked.get("invoiceNumber")) if isinstance(booked, Mapping) else None


def _oldest_invoice_date(headers: Iterable[DraftHeader]) -> date:
    dates = []
    for header in headers:
        text = header.accounting.get("invoiceDate") or str(header.accounting.get("exportedAt") or "")[:10]
        try:
            dates.append(date.fromisoformat(str(text)))
        except ValueError:
            dates.append(header.created_at.date())
    return min(dates)


def _by_reference(documents: Sequence[Mapping[str, Any]], number_field: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for doc in documents:
        ref = _reference_of(doc)
        number = _int(doc.get(number_field))
        if ref is not None and number is not None:
            found.setdefault(ref, number)
    return found


def _reference_of(doc: Mapping[str, Any]) -> str | None:
    value = (doc.get("references") or {}).get("other")
    return str(value) if value is not None else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        return None
    try:
        return Decimal(value).quantize(CENT)
    except (InvalidOperation, ValueError):
        return None


def _error_text(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."
