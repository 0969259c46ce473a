"""Builders shared by the invoicing tests (unit and integration)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared.invoicing.directory import Contract, Customer, Directory, Ticket
from shared.work import POSITION_NOTE, Kind, WorkRecord

BERLIN = ZoneInfo("Europe/Berlin")


def note(
    tenant: str = "acme",
    start: datetime = datetime(2026, 10, 5, 8, 0, tzinfo=BERLIN),
    minutes: int = 60,
    *,
    pause: int = 0,
    kind: Kind = POSITION_NOTE,
    record_id: str | None = None,
    **fields: Any,
) -> WorkRecord:
    return WorkRecord(
        tenant=tenant,
        record_id=record_id or str(uuid.uuid4()),
        kind=kind,
        key_id="k1",
        recorded_by="conn",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        date_from=start,
        date_to=start + timedelta(minutes=minutes),
        pause=timedelta(minutes=pause),
        **fields,
    )


def directory(customers: int = 2, rate: str = "90.00", percent: str = "25", rounding: int = 15) -> Directory:
    """Customer i (1-based) has contract 100+i and ticket 1000+i (priced by that contract); ticket
    2000+i has no contract."""
    cs = {i: Customer(i, f"Customer {i}", 5000 + i, f"billing{i}@example.com", "EUR") for i in range(1, customers + 1)}
    ks = {100 + i: Contract(100 + i, i, f"P{i}", Decimal(rate), Decimal(percent), rounding) for i in cs}
    ts = {1000 + i: Ticket(1000 + i, i, 100 + i) for i in cs} | {2000 + i: Ticket(2000 + i, i, None) for i in cs}
    return Directory(cs, ks, ts)
