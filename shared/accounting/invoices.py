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
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from shared.accounting.invoices_matching import Located, bookings, locate
from shared.accounting.invoices_rules import BookedDraft, Change, SyncResult, _int, _oldest_invoice_date
from shared.accounting.ports import BookedApi, SyncBusy, SyncState, SyncStates
from shared.errors import (
    AccountingAuthFailed,
    AccountingError,
    AccountingRefused,
    AccountingUnusable,
    Conflict,
    FieldError,
    Unavailable,
    integration_refused,
)
from shared.invoicing.ledger import EXPORTED, DraftHeader
from shared.invoicing.ports import Ledger
from shared.platform.secrets import SecretError, SecretInvalid, SecretMissing

log = logging.getLogger("invoice_bridge.accounting")

LEASE = timedelta(minutes=10)
"""As long as host.json's functionTimeout: a run cannot outlive it, so an older lease is a dead run's."""
FIRST_RUN_MARGIN = timedelta(days=31)
RUN_ALL_BUDGET = timedelta(minutes=7)
"""How long the timer starts new tenants: well inside host.json's 10-minute functionTimeout."""
RUN_ALL_LIMIT = timedelta(minutes=9)
"""When the timer's runs stop reading pages, whichever tenant they are at: before the functionTimeout."""
HTTP_LIMIT = timedelta(seconds=120)
"""When an HTTP run stops reading pages: well before the front end's 230-second request timeout."""
PAGE_SIZE = 1000


# -- the service -----------------------------------------------------------------------------------


class InvoiceSync:
    def __init__(
        self,
        *,
        ledger: Ledger,
        states: SyncStates,
        economic: Callable[[str], BookedApi],
        clock: Callable[[], datetime],
        page_size: int = PAGE_SIZE,
        known_tenants: Callable[[], Iterable[str]] = lambda: (),
        budget: timedelta = RUN_ALL_BUDGET,
        limit: timedelta = RUN_ALL_LIMIT,
    ) -> None:
        self._ledger = ledger
        self._states = states
        self._economic = economic
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
            changes = bookings(tenant, economic, page, headers, booked, notes, self._clock)
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
        located = (
            locate(tenant, economic, still, headers, booked, notes, self._clock) if still and complete else Located()
        )
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
                retry_after=30,
                code="busy",
            )
        self.before_write("lease")
        taken = self._states.put(replace(current, running_until=now + LEASE, run_id=str(uuid.uuid4()), last_run_at=now))
        if taken is None:
            raise SyncBusy(
                f"An accounting sync for {tenant} has just started; retry after it ends.",
                retry_after=30,
                code="busy",
            )
        return taken

    def _connect(self, tenant: str) -> BookedApi:
        try:
            return self._economic(tenant)
        except (SecretMissing, SecretInvalid) as error:
            raise integration_refused(tenant, error.message) from None

    def _as_api_error(self, tenant: str, error: Exception) -> Exception:
        if isinstance(error, AccountingAuthFailed):
            return integration_refused(tenant, error)
        if isinstance(error, SecretError):
            return error
        if isinstance(error, Unavailable):
            return Unavailable(
                f"e-conomic or storage cannot be reached right now ({error}); retry shortly.",
                retry_after=30,
            )
        if isinstance(error, AccountingRefused):
            return AccountingUnusable(f"e-conomic refused the sync's questions: {error}")
        if isinstance(error, AccountingError):
            return AccountingUnusable(f"e-conomic answered the sync with something it cannot use: {error}")
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


def _error_text(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."
