"""Benchmark: the invoice-number sync over 500 exported drafts, e-conomic stand-in at 50 ms a request, Azurite.

Sets up, per page size (ACCOUNTING_SYNC_PAGE_SIZE, default 1000 and 100), one tenant with `--drafts`
exported drafts (headers written straight into the Work table, as the export's `_finish` leaves them)
and an agreement in the e-conomic stand-in holding a draft invoice for each (`references.other` =
`IB-<draft>`, inserted straight into the agreement). There, 80 % of them are booked in a random order,
with 40 % as many booked invoices of someone else (`XYZ-...`) in between; 20 % stay draft invoices.
Then it times `container.invoice_sync.run(tenant)`, as the timer does, three times:

1. first run: no watermark yet, so the booked invoices are read by date; records 80 % of the drafts;
2. incremental: 10 more booked since: one page above the watermark, 10 recorded;
3. nothing new: the drafts still waiting are looked for again, nothing is written.

Per run it prints the e-conomic requests by kind, the ideal time (requests x latency: the sync asks one
question at a time), wall time, the ratio, storage round trips, where the time went (timed from outside
by wrapping methods on the instances: e-conomic GETs, header reads and batch writes, the state row), the
run's outcome and peak RSS (VmHWM, reset before the run). It fails loudly unless every booked draft ends
`booked` with its invoice number and every other one is still `exported`, unflagged.

    .venv/bin/python -m bench.sync                        # 500 drafts, page sizes 1000 and 100
    .venv/bin/python -m bench.sync --drafts 2000 --page-sizes 1000
    .venv/bin/python -m bench.sync --quick                # 40 drafts, page sizes 1000 and 10: a smoke test

The stand-in runs in a child process by default, as in `bench.export` (`--standin thread` keeps it
here); seeding and booking are commands sent to it over a pipe, not e-conomic requests. Azurite, the
stand-in and this process share the machine's cores, so the figures are for comparing changes here.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.connection
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

from bench.export import (
    ChildStandin,
    LocalStandin,
    Phases,
    Standin,
    env_for,
    reset_peak_rss,
    rss_mib,
    standin_stats,
)
from devhost.processes import run_azurite
from devhost.sandbox import economic_schema_dir
from shared.accounting.invoices_rules import SyncResult
from shared.container import TABLES, Container, build
from shared.export.documents import reference
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.directory import Customer
from shared.invoicing.ledger import BOOKED, EXPORTED, DraftHeader, Totals
from shared.invoicing.planning import Period
from shared.repositories.invoicing import TableLedger
from shared.timing import RoundTrips, measure_round_trips
from standins.economic import EconomicStandin

OCT = Period(2026, 10)
INVOICE_DATE = "2026-11-01"
DUE_DATE = "2026-11-15"
RATE = Decimal("950.00")
CENT = Decimal("0.01")
FIRST_DOCUMENT = 101
"""e-conomic's number for the first draft invoice seeded (the agreement had others before)."""
BOOKED_SHARE, FOREIGN_SHARE = Decimal("0.8"), Decimal("0.4")
LATER = 10
"""Drafts booked between the first and the second run."""
QUICK_DRAFTS = 40


# -- the stand-in: seeding and booking are commands, here or in a child process --------------------


def draft_document(economic: EconomicStandin, tenant: str, number: int, draft: int) -> dict[str, Any]:
    """Draft invoice `number` as the stand-in stores a created one: customer 1, one line of product "1"."""
    agreement = economic.agreement(tenant)
    terms, zone = agreement.payment_terms[1], agreement.vat_zones[1]
    customer, layout, product = agreement.customers[1], agreement.layouts[19], agreement.products["1"]
    hours = Decimal(1 + draft % 8)
    net = (hours * RATE).quantize(CENT)
    vat = (net * Decimal("0.25")).quantize(CENT)
    link = f"{economic.base_url}/invoices/drafts/{number}"
    return {
        "draftInvoiceNumber": number,
        "date": INVOICE_DATE,
        "dueDate": DUE_DATE,
        "currency": "DKK",
        "exchangeRate": Decimal(100),
        "paymentTerms": {
            k: terms[k] for k in ("paymentTermsNumber", "daysOfCredit", "name", "paymentTermsType", "self")
        },
        "customer": {"customerNumber": customer["customerNumber"], "self": customer["self"]},
        "recipient": {
            "name": customer["name"],
            "vatZone": {
                k: zone[k] for k in ("name", "vatZoneNumber", "enabledForCustomer", "enabledForSupplier", "self")
            },
        },
        "layout": {"layoutNumber": layout["layoutNumber"], "self": layout["self"]},
        "references": {"other": reference(tenant, draft)},
        "lines": [
            {
                "lineNumber": 1,
                "sortKey": 1,
                "description": f"Consulting, draft {draft}",
                "product": {"productNumber": product["productNumber"], "self": product["self"]},
                "quantity": hours,
                "unitNetPrice": RATE,
                "totalNetAmount": net,
            }
        ],
        "netAmount": net,
        "netAmountInBaseCurrency": net,
        "vatAmount": vat,
        "grossAmount": net + vat,
        "grossAmountInBaseCurrency": net + vat,
        "roundingAmount": Decimal("0.00"),
        "lastUpdated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "pdf": {"download": f"{link}/pdf"},
        "self": link,
    }


def seed_documents(economic: EconomicStandin, tenant: str, drafts: Sequence[int]) -> dict[int, int]:
    """A draft invoice per draft, numbered from FIRST_DOCUMENT: {draft: e-conomic draft invoice number}."""
    agreement = economic.agreement(tenant)
    documents = {draft: FIRST_DOCUMENT + i for i, draft in enumerate(drafts)}
    with economic.lock:
        for draft, number in documents.items():
            agreement.invoice_drafts[number] = draft_document(economic, tenant, number, draft)
    return documents


def book_documents(economic: EconomicStandin, tenant: str, documents: Sequence[int], foreign: int) -> dict[int, int]:
    """Books the draft invoices in this order, with `foreign` invoices of someone else spread between
    them (booked on the same agreement, same invoice date): {draft invoice number: booked number}."""
    agreement = economic.agreement(tenant)
    booked: dict[int, int] = {}
    added = 0

    def someone_elses(until: int) -> None:
        nonlocal added
        while added < until:
            added += 1
            invoice = agreement.next_booked_number()
            agreement.add_booked(invoice, date=INVOICE_DATE, references={"other": f"XYZ-{invoice}"})

    for i, number in enumerate(documents, start=1):
        booked[number] = int(agreement.book(number)["bookedInvoiceNumber"])
        someone_elses(foreign * i // len(documents))
    someone_elses(foreign)
    return booked


def sync_stats(economic: EconomicStandin, tenant: str) -> dict[str, Any]:
    stats = standin_stats(economic, tenant)
    with economic.lock:
        stats["booked"] = len(economic.agreement(tenant).booked_invoices)
    return stats


def handle(economic: EconomicStandin, command: tuple[Any, ...]) -> Any:
    name, *args = command
    if name == "stats":
        return sync_stats(economic, *args)
    if name == "reset":
        economic.reset_log()
        return None
    if name == "seed":
        return seed_documents(economic, *args)
    if name == "book":
        return book_documents(economic, *args)
    raise ValueError(f"unknown command {name!r}")


class SyncStandin(Standin, Protocol):
    def seed(self, tenant: str, drafts: Sequence[int]) -> dict[int, int]: ...
    def book(self, tenant: str, documents: Sequence[int], foreign: int) -> dict[int, int]: ...


class _Commands:
    def ask(self, *command: Any) -> Any:
        raise NotImplementedError

    def stats(self, tenant: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.ask("stats", tenant)
        return answer

    def reset(self) -> None:
        self.ask("reset")

    def seed(self, tenant: str, drafts: Sequence[int]) -> dict[int, int]:
        answer: dict[int, int] = self.ask("seed", tenant, list(drafts))
        return answer

    def book(self, tenant: str, documents: Sequence[int], foreign: int) -> dict[int, int]:
        answer: dict[int, int] = self.ask("book", tenant, list(documents), foreign)
        return answer


class LocalSyncStandin(_Commands, LocalStandin):
    def ask(self, *command: Any) -> Any:
        return handle(self._economic, command)


class ChildSyncStandin(_Commands, ChildStandin):
    def ask(self, *command: Any) -> Any:
        self._connection.send(command)
        answer = self._connection.recv()
        if isinstance(answer, Failed):
            raise SystemExit(f"the e-conomic stand-in failed on {command[0]}: {answer.error}")
        return answer


@dataclass(frozen=True)
class Failed:
    error: str


def _serve(
    connection: multiprocessing.connection.Connection, latency: float, agreements: dict[str, str], schema_dir: Path
) -> None:
    with EconomicStandin(latency=latency, schema_dir=schema_dir) as economic:
        for tenant, token in agreements.items():
            economic.add_agreement(token, tenant=tenant).seed_defaults()
        connection.send((economic.base_url, economic.app_secret_token))
        while True:
            try:
                command = connection.recv()
            except EOFError:
                return
            if command[0] == "stop":
                connection.send(None)
                return
            try:
                answer = handle(economic, command)
            except Exception as error:
                answer = Failed(repr(error))
            connection.send(answer)


@contextmanager
def run_sync_standin(mode: str, latency: float, agreements: dict[str, str]) -> Iterator[SyncStandin]:
    """`bench.export.run_standin` with the seeding commands: one `seed_defaults` agreement per tenant."""
    schema_dir = economic_schema_dir()
    if mode == "thread":
        with EconomicStandin(latency=latency, schema_dir=schema_dir) as economic:
            for tenant, token in agreements.items():
                economic.add_agreement(token, tenant=tenant).seed_defaults()
            yield LocalSyncStandin(economic)
        return
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process: BaseProcess = context.Process(target=_serve, args=(child, latency, agreements, schema_dir), daemon=True)
    process.start()
    try:
        yield ChildSyncStandin(parent, process)
    finally:
        with suppress(OSError, EOFError):
            parent.send(("stop",))
            parent.recv()
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join()


# -- set-up ------------------------------------------------------------------------------------------


@dataclass
class Tenant:
    name: str
    page_size: int
    container: Container
    ledger: TableLedger
    drafts: list[int]
    documents: dict[int, int] = field(default_factory=dict)
    """draft -> e-conomic draft invoice number"""
    booked: dict[int, int] = field(default_factory=dict)
    """draft -> booked invoice number, as e-conomic booked it"""

    def waiting(self) -> list[int]:
        return [d for d in self.drafts if d not in self.booked]

    def book(self, standin: SyncStandin, drafts: Sequence[int], foreign: int) -> dict[int, int]:
        invoices = standin.book(self.name, [self.documents[d] for d in drafts], foreign)
        booked = {d: invoices[self.documents[d]] for d in drafts}
        self.booked.update(booked)
        return booked


def exported_header(tenant: str, number: int, document: int, now: datetime) -> DraftHeader:
    """A draft as the export leaves it (`ExportService._finish`)."""
    customer = Customer(number, f"Customer {number}", 1, f"c{number}@example.com", "DKK")
    net = (Decimal(1 + number % 8) * RATE).quantize(CENT)
    return DraftHeader(
        tenant=tenant,
        number=number,
        status=EXPORTED,
        customer=customer,
        period_from=OCT,
        period_to=OCT,
        created_at=now,
        updated_at=now,
        totals=Totals(minutes=60 * (1 + number % 8), time=net, notes=1, lines=1),
        accounting=AccountingState.of(
            {
                "system": "e-conomic",
                "exportJob": "bench",
                "documentType": "draftInvoice",
                "documentNumber": document,
                "reference": reference(tenant, number),
                "invoiceDate": INVOICE_DATE,
                "exportedAt": now.isoformat(),
            }
        ),
    )


def set_up(tenant: Tenant, standin: SyncStandin, rng: random.Random) -> tuple[int, int]:
    """Headers and draft invoices, then the first bookings: (ours booked, foreign booked)."""
    tenant.documents = standin.seed(tenant.name, tenant.drafts)
    now = datetime.now(UTC)

    def create(number: int) -> None:
        header = exported_header(tenant.name, number, tenant.documents[number], now)
        if tenant.ledger.put_header(header, None) is None:
            raise SystemExit(f"set-up: draft {number} of {tenant.name} exists already")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, tenant.drafts))
    ours = int(len(tenant.drafts) * BOOKED_SHARE)
    foreign = int(len(tenant.drafts) * FOREIGN_SHARE)
    tenant.book(standin, rng.sample(tenant.drafts, ours), foreign)
    tenant.container.invoice_sync.watch(tenant.name)  # the export does it before it exports
    for table in ("work", "sync"):  # created on first use: not inside the timed run
        tenant.container.storage.table(TABLES[table])
    return ours, foreign


# -- one run -----------------------------------------------------------------------------------------


@dataclass
class Run:
    scenario: str
    tenant: Tenant
    result: SyncResult
    wall: float
    trips: RoundTrips
    phases: Phases
    stats: dict[str, Any]
    rss_mib: float | None
    rss_before_mib: float | None
    stored_result: bool

    @property
    def requests(self) -> int:
        return sum(self.stats["calls"].values())


def instrument(container: Container, tenant: str) -> Phases:
    phases = Phases()
    sync: Any = container.invoice_sync
    phases.wrap(sync._ledger, "headers", "read headers")
    phases.wrap(sync._ledger, "replace_headers", "write headers")
    phases.wrap(sync._states, "get", "state")
    phases.wrap(sync._states, "put", "state")
    phases.wrap(sync._economic(tenant), "get", "e-conomic")  # one client per tenant: the run uses this one
    return phases


def timed_run(scenario: str, tenant: Tenant, standin: SyncStandin) -> Run:
    standin.reset()
    sync = tenant.container.invoice_sync
    phases = instrument(tenant.container, tenant.name)
    rss_before = rss_mib("VmRSS") if reset_peak_rss() else None
    try:
        with measure_round_trips() as trips:
            started = time.perf_counter()
            result = sync.run(tenant.name, trigger="timer")
            wall = time.perf_counter() - started
    finally:
        phases.restore()
    rss = rss_mib("VmHWM") if rss_before is not None else None
    stored = bool(sync.state(tenant.name).last_result)
    stats = standin.stats(tenant.name)
    return Run(scenario, tenant, result, wall, trips, phases, stats, rss, rss_before, stored)


# -- report ------------------------------------------------------------------------------------------


def report(run: Run, latency: float) -> None:
    result, phases = run.result, run.phases
    calls: dict[tuple[str, str], int] = run.stats["calls"]
    kinds = ", ".join(f"{method} {template} {n}" for (method, template), n in sorted(calls.items()))
    ideal = run.requests * latency
    economic = phases.seconds["e-conomic"]
    print(f"{run.scenario}, page size {run.tenant.page_size}")
    print(f"  e-conomic        {run.requests:8d} requests ({kinds or 'none'})")
    print(f"  ideal            {ideal:8.2f} s   (requests x latency: the sync asks one at a time)")
    print(f"  wall             {run.wall:8.2f} s")
    print(f"  ratio            {run.wall / ideal if ideal else float('nan'):8.2f}     (wall / ideal)")
    print(f"  storage          {run.trips.count:8d} round trips, {run.trips.seconds:.2f} s")
    split = [
        f"{label} {phases.seconds[label]:.2f} ({phases.calls[label]})"
        for label in ("e-conomic", "read headers", "write headers", "state")
        if phases.calls[label]
    ]
    rest = run.wall - sum(phases.seconds[label] for label in ("e-conomic", "read headers", "write headers", "state"))
    print(f"  time split (s)   {', '.join(split)}, rest {rest:.2f}  (calls in brackets)")
    if phases.calls["e-conomic"]:
        beyond = (economic - phases.calls["e-conomic"] * latency) / phases.calls["e-conomic"] * 1000
        print(f"  e-conomic answer {beyond:8.1f} ms a request beyond the latency (stand-in work, JSON, HTTP)")
    watermark = f"watermark {result.watermark_before} -> {result.watermark_after}"
    print(
        f"  outcome          {len(result.booked)} booked, {result.still_waiting} still waiting, "
        f"{len(result.missing)} missing; booked pages read {result.pages}; {watermark}"
    )
    print(
        f"  e-conomic holds  {run.stats['booked']} booked invoices, {len(run.stats['documents'])} draft invoices"
        f"; last result on the state row: {'stored' if run.stored_result else 'LOST'}"
    )
    if run.rss_mib is not None and run.rss_before_mib is not None:
        grown = run.rss_mib - run.rss_before_mib
        print(f"  peak RSS         {run.rss_mib:8.1f} MiB (whole process; +{grown:.1f} MiB over before the run)")


def summary(runs: Sequence[Run], latency: float) -> None:
    print(f"summary (e-conomic latency {latency * 1000:.0f} ms)")
    columns = ("page", 5), ("requests", 8), ("ideal s", 8), ("wall s", 7), ("ratio", 6), ("storage", 7), ("booked", 6)
    print(f"  {'run':<14} " + " ".join(f"{title:>{width}}" for title, width in columns))
    for run in runs:
        ideal = run.requests * latency
        ratio = f"{run.wall / ideal:6.1f}" if ideal else f"{'-':>6}"
        print(
            f"  {run.scenario:<14} {run.tenant.page_size:5d} {run.requests:8d} {ideal:8.2f} {run.wall:7.2f} "
            f"{ratio} {run.trips.count:7d} {len(run.result.booked):6d}"
        )


# -- checks ------------------------------------------------------------------------------------------


def check_run(run: Run, expected: dict[int, int], *, pages: int | None = None) -> list[str]:
    """The run recorded exactly `expected` (draft -> invoice number), flagged nothing, left the rest waiting."""
    name, result = f"{run.scenario} (page size {run.tenant.page_size})", run.result
    problems: list[str] = []
    recorded = {b.draft: b.invoice_number for b in result.booked}
    if recorded != expected:
        wrong = sorted(set(recorded.items()) ^ set(expected.items()))[:5]
        problems.append(f"{name}: booked {len(recorded)} drafts, expected {len(expected)} (differences: {wrong})")
    if result.missing or result.still_missing:
        problems.append(f"{name}: flagged missing: {list(result.missing)[:5]} {list(result.still_missing)[:5]}")
    if result.still_waiting != len(run.tenant.waiting()):
        problems.append(f"{name}: {result.still_waiting} still waiting, expected {len(run.tenant.waiting())}")
    if result.notes:
        problems.append(f"{name}: notes {list(result.notes)[:3]}")
    if pages is not None and result.pages != pages:
        problems.append(f"{name}: read {result.pages} pages of booked invoices, expected {pages}")
    if run.stats["rate_refusals"]:
        problems.append(f"{name}: the stand-in refused {run.stats['rate_refusals']} requests (429)")
    return problems


def check_headers(tenant: Tenant) -> list[str]:
    """Every booked draft `booked` with its invoice number; every other one `exported`, not flagged missing."""
    headers = tenant.ledger.headers(tenant.name)
    problems: list[str] = []
    for draft in tenant.drafts:
        header = headers.get(draft)
        where = f"page size {tenant.page_size}: draft {draft}"
        if header is None:
            problems.append(f"{where} is gone")
        elif draft in tenant.booked:
            number = (header.accounting.get("booked") or {}).get("invoiceNumber")
            if header.status != BOOKED or number != tenant.booked[draft]:
                problems.append(
                    f"{where} is {header.status} with invoice {number}, not booked as {tenant.booked[draft]}"
                )
        elif header.status != EXPORTED or "missing" in header.accounting:
            problems.append(f"{where} is {header.status} {dict(header.accounting).get('missing', '')}, not exported")
    return problems


# -- main --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=500, help="exported drafts per tenant")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the stand-in takes per request")
    parser.add_argument("--page-sizes", default=None, help="ACCOUNTING_SYNC_PAGE_SIZE, one tenant each (1000,100)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DRAFTS} drafts, page sizes 1000,10")
    parser.add_argument("--standin", choices=("process", "thread"), default="process")
    parser.add_argument("--seed", type=int, default=1, help="random seed: which drafts are booked, in what order")
    args = parser.parse_args()
    if args.quick:
        args.drafts = min(args.drafts, QUICK_DRAFTS)
    page_sizes = [int(s) for s in (args.page_sizes or ("1000,10" if args.quick else "1000,100")).split(",")]
    rng = random.Random(args.seed)
    names = {f"bs-{uuid.uuid4().hex[:8]}": size for size in page_sizes}
    tokens = {name: "grant-" + name for name in names}
    runs: list[Run] = []
    problems: list[str] = []
    with run_azurite() as azurite, run_sync_standin(args.standin, args.latency, tokens) as standin:
        env = env_for(azurite, standin, 8, tokens)
        for name, size in names.items():
            container = build({**env, "ACCOUNTING_SYNC_PAGE_SIZE": str(size)})
            if container.invoice_sync._page_size != size:
                raise SystemExit(f"ACCOUNTING_SYNC_PAGE_SIZE={size} gave page size {container.invoice_sync._page_size}")
            ledger = TableLedger(container.storage.table_ref(TABLES["work"]))
            tenant = Tenant(name, size, container, ledger, list(range(1, args.drafts + 1)))
            started = time.perf_counter()
            ours, foreign = set_up(tenant, standin, rng)
            print(
                f"set-up, page size {size}: {args.drafts} exported drafts; in e-conomic {ours} of them booked "
                f"between {foreign} booked invoices of someone else, {len(tenant.waiting())} still draft "
                f"invoices ({time.perf_counter() - started:.1f} s)"
            )

            first = timed_run("first run", tenant, standin)
            report(first, args.latency)
            problems += check_run(first, dict(tenant.booked))

            later = tenant.book(standin, rng.sample(tenant.waiting(), min(LATER, len(tenant.waiting()) // 2)), 0)
            incremental = timed_run(f"{len(later)} more booked", tenant, standin)
            report(incremental, args.latency)
            problems += check_run(incremental, later, pages=1)

            idle = timed_run("nothing new", tenant, standin)
            report(idle, args.latency)
            problems += check_run(idle, {}, pages=0)

            problems += check_headers(tenant)
            runs += [first, incremental, idle]
    summary(runs, args.latency)
    if problems:
        raise SystemExit("sync check failed:\n  " + "\n  ".join(problems[:20]))
    tenants = {r.tenant.name: r.tenant for r in runs}.values()
    counts = ", ".join(f"{len(t.booked)} of {len(t.drafts)} (page size {t.page_size})" for t in tenants)
    print(f"  check            ok: booked with their invoice numbers {counts}; the others exported, none missing")


if __name__ == "__main__":
    main()
