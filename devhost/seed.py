"""`python -m devhost.seed`: a tenant ready for a month end on the workbench, against the sandbox.

Creates an API key (printed once, alone on the last line), a billing directory whose customers and
products exist in the sandbox's e-conomic stand-in (`Agreement.seed_defaults()`: customers 1 Acme A/S,
2 Globex GmbH, 3 Initech Ltd; products "1" and "2"), the tenant's accounting address, and position notes
in the last two months, one of them on a ticket the directory does not know (so the invoicing run has
something to list as unresolved). Run it once with `make run` running (it writes to the same Azurite);
a second run adds the notes again.

Tenant `demo` is the one the sandbox's e-conomic agreement belongs to (devhost/sandbox.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.connector.schemas import PositionNoteIn
from shared.container import Container, build
from shared.invoicing.directory import Contract, Customer, Entry, TenantSettings, Ticket
from shared.invoicing.planning import Period
from shared.local_settings import load_local_settings
from shared.platform.keys import Principal
from shared.platform.tenants import validate_tenant

RIGHTS = ("admin", "reseller", "CreateInvoicePositionNote", "GetServiceAssignmentsDispatcher")
UNKNOWN_TICKET = 9999

CUSTOMERS = (
    Customer(1, "Acme A/S", 1, "ap@acme.example", "DKK"),
    Customer(2, "Globex GmbH", 2, "invoices@globex.example", "EUR"),
    Customer(3, "Initech Ltd", 3, "billing@initech.example", "GBP"),
)
CONTRACTS = (
    Contract(11, 1, "1", Decimal("950.00"), Decimal(25), 15),
    Contract(12, 2, "2", Decimal("95.00"), Decimal(0), 15),
    Contract(13, 3, "2", Decimal("80.00"), Decimal(0), 1),
)
TICKETS = (Ticket(4711, 1, 11), Ticket(4712, 2, 12), Ticket(4713, 3, 13))


@dataclass(frozen=True)
class Note:
    """A note `months_back` months ago, on `day` at `hour` (local time), `minutes` long."""

    months_back: int
    day: int
    hour: int
    minutes: int
    hint: str
    user: str
    ticket: int | None = None
    contract: int | None = None
    extra_charge: bool = False


NOTES = (
    Note(1, 3, 8, 150, "Patched the mail server", "anna", ticket=4711, extra_charge=True),
    Note(1, 9, 13, 75, "Backup check", "bo", ticket=4711),
    Note(1, 16, 10, 60, "Firewall rules for the new office", "anna", contract=11),
    Note(1, 4, 9, 120, "Release 4.2 rollout", "bo", ticket=4712),
    Note(1, 18, 14, 45, "Printer queue", "carla", ticket=4712),
    Note(1, 11, 8, 90, "Database upgrade", "anna", ticket=4713),
    Note(1, 21, 15, 30, "Phone call about licences", "bo", ticket=UNKNOWN_TICKET),
    Note(2, 25, 9, 60, "VPN for the sales team", "carla", ticket=4711),
)


@dataclass(frozen=True)
class Seeded:
    tenant: str
    key: str
    months: tuple[Period, Period]
    notes: int


def month_back(now: datetime, zone: ZoneInfo, months: int) -> Period:
    period = Period.containing(now, zone)
    for _ in range(months):
        period = period.previous()
    return period


def record_note(
    container: Container,
    who: Principal,
    start: datetime,
    minutes: int,
    *,
    hint: str,
    user: str,
    ticket: int | None = None,
    contract: int | None = None,
    extra_charge: bool = False,
) -> str:
    """A position note recorded as the connector records one (same validation, same record), so the
    seed never writes a note the API could not have written."""
    data = PositionNoteIn.model_validate(
        {
            "dateFrom": start.isoformat(),
            "dateTo": (start + timedelta(minutes=minutes)).isoformat(),
            "noInvoice": False,
            "extraCharge": extra_charge,
            "hint": hint,
            "username": user,
            "ticketID": ticket,
            "serviceContractID": contract,
        }
    )
    return container.connector.create_position_note(who, data)


def seed(container: Container, tenant: str, *, now: datetime | None = None, email: str = "me@example.com") -> Seeded:
    tenant = validate_tenant(tenant)
    zone = container.settings.default_timezone
    now = now or datetime.now(UTC)
    _, raw = container.keys.create(tenant, name="workbench", rights=RIGHTS, email=email)
    entries: list[tuple[str, Entry]] = [("c", c) for c in CUSTOMERS]
    entries += [("k", k) for k in CONTRACTS] + [("t", t) for t in TICKETS]
    problems = container.directory.import_entries(tenant, entries)
    if problems:
        raise RuntimeError("; ".join(problems))
    container.tenant_settings.put(tenant, TenantSettings(accounting_email="accounting@example.com"))
    who = container.keys.authenticate(raw)
    for note in NOTES:
        month = month_back(now, zone, note.months_back)
        start = datetime(month.year, month.month, note.day, note.hour, tzinfo=zone)
        record_note(
            container,
            who,
            start,
            note.minutes,
            hint=note.hint,
            user=note.user,
            ticket=note.ticket,
            contract=note.contract,
            extra_charge=note.extra_charge,
        )
    return Seeded(tenant, raw, (month_back(now, zone, 1), month_back(now, zone, 2)), len(NOTES))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost.seed", description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", default="demo", help="tenant to fill (default: %(default)s, the sandbox's)")
    parser.add_argument("--settings", default="local.settings.json", help="local settings file (default: %(default)s)")
    parser.add_argument("--email", default="me@example.com", help="the key's e-mail: gets the export reports")
    args = parser.parse_args(argv)
    load_local_settings(Path(args.settings), os.environ)
    done = seed(build(), args.tenant, email=args.email)
    last, before = done.months
    print(f"Tenant {done.tenant}: customers 1 Acme A/S, 2 Globex GmbH, 3 Initech Ltd (e-conomic customers 1-3),")
    print(f"contracts 11-13, tickets 4711-4713, accounting address accounting@example.com, {done.notes} notes")
    print(f"in {last} and {before}. Open http://127.0.0.1:7071/workbench, paste the key, generate {last}.")
    print("Store the key now; it is shown only this once:")
    print(done.key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
