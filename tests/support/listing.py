"""Random work records and random listing requests, for comparing the indexed listing with the scan."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.connector.schemas import ListAssignmentsIn
from shared.platform.keys import CONNECTOR_RIGHTS, Principal
from shared.validation import validate
from shared.work import ACTIVITY_RECORDING, POSITION_NOTE, WorkRecord

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2025, 1, 1, tzinfo=UTC)
KEYS = ["k-alice", "k-bob", "k-carol"]


def caller(tenant: str, key_id: str) -> Principal:
    return Principal(key_id, tenant, key_id, frozenset(CONNECTOR_RIGHTS), 100, 60)


def random_records(rng: random.Random, tenant: str, n: int) -> list[WorkRecord]:
    """Few distinct start and creation times, so that ties in every order are common."""
    starts = [
        START + timedelta(days=rng.randrange(0, 700), minutes=rng.randrange(0, 24 * 60)) for _ in range(n // 3 + 1)
    ]
    created = [START + timedelta(days=800, seconds=rng.randrange(0, 50)) for _ in range(5)]
    records = []
    for i in range(n):
        begin = rng.choice(starts).astimezone(rng.choice([UTC, BERLIN]))
        kind = rng.choice([ACTIVITY_RECORDING, POSITION_NOTE])
        records.append(
            WorkRecord(
                tenant=tenant,
                record_id=f"{rng.randrange(16**8):08x}-rec-{i}",
                kind=kind,
                key_id=rng.choice(KEYS),
                recorded_by=rng.choice(["Alice", "Bob"]),
                created_at=rng.choice(created),
                date_from=begin,
                date_to=begin + timedelta(minutes=rng.choice([15, 60, 61, 90, 600])),
                pause=timedelta(minutes=rng.choice([0, 0, 5])),
                no_invoice=rng.random() < 0.3,
                extra_charge=rng.random() < 0.2,
                hint=rng.choice([None, "Mail server", "printer"]),
                book_text=rng.choice([None, "mail backup"]) if kind == ACTIVITY_RECORDING else None,
                username=rng.choice([None, "Anna", "anna", "Ben"]) if kind == POSITION_NOTE else None,
                ticket_id=rng.choice([None, 1, 2, 3]),
                service_contract_id=rng.choice([None, 10, 11]),
                project_id=rng.choice([None, 5, 6]) if kind == ACTIVITY_RECORDING else None,
            )
        )
    return records


def random_request(rng: random.Random) -> ListAssignmentsIn:
    body: dict[str, Any] = {
        "Skip": rng.choice([0, 0, 1, 7, 30]),
        "PageSize": rng.choice([1, 5, 20, 1000]),
        "OrderByAsc": rng.random() < 0.4,
        "OrderColumns": rng.choice([6, 6, 6, 1, 2, 3, 4, 5, 7]),
        "TakeAll": rng.random() < 0.1,
    }
    if rng.random() < 0.15:
        body["Search"] = rng.choice(["mail", "PRINTER", "rec-1"])
    filters: dict[str, Any] = {}
    if rng.random() < 0.5:
        begin = START + timedelta(days=rng.randrange(0, 700))
        if rng.random() < 0.8:
            filters["DateTimeFrom"] = begin.isoformat()
        if rng.random() < 0.8:
            filters["DateTimeTo"] = (begin + timedelta(days=rng.choice([1, 30, 200]))).isoformat()
    for name, values in (
        ("ShowActivityRecordings", [True, False]),
        ("ShowPositionNotes", [True, False]),
        ("IsInvoice", [True, False]),
        ("TicketId", [1, 2]),
        ("ServiceContractId", [10]),
        ("UserIds", ["anna", "Ben, Alice"]),
        ("Project", ["5"]),
    ):
        if rng.random() < 0.15:
            filters[name] = rng.choice(values)
    if filters or rng.random() < 0.3:
        body["AdditionalSearchData"] = filters
    return validate(ListAssignmentsIn, body, BERLIN)
