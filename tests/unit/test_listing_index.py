"""The indexed listing answers exactly what the scan answers, for every order and filter."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.connector.service import ConnectorService
from tests.support.fakes import FakeWorkRepository
from tests.support.listing import KEYS, caller, random_records, random_request


def _clock() -> datetime:
    return datetime(2027, 1, 1, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 80))
def test_indexed_listing_equals_the_scan_on_random_data(seed: int, n: int) -> None:
    rng = random.Random(seed)
    indexed, scanned = FakeWorkRepository(indexed=True), FakeWorkRepository(indexed=False)
    for record in random_records(rng, "acme", n) + random_records(rng, "other", 5):
        indexed.add(record)
        scanned.add(record)
    by_index, by_scan = ConnectorService(indexed, clock=_clock), ConnectorService(scanned, clock=_clock)
    for _ in range(15):
        request = random_request(rng)
        who = caller("acme", rng.choice(KEYS))
        assert by_index.list_assignments(who, request) == by_scan.list_assignments(who, request), request
