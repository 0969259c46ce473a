"""The listing's index and totals in a real Table storage (Azurite): written all or nothing with the
record, right under concurrent writes, brought to stored records by `manage work reindex`, and the
indexed listing answers what the scan answers."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import TableClient

from shared.connector.service import ConnectorService
from shared.container import TABLES, build
from shared.errors import StorageUnavailable
from shared.repositories.work import TableWorkRepository, to_entity
from shared.repositories.work_index import MARKER_ROW
from shared.repositories.work_reindex import reindex
from shared.work import POSITION_NOTE, WorkQuery, WorkRecord
from tests.support.listing import KEYS, caller, random_records, random_request


@pytest.fixture
def table(app_env: dict[str, str]) -> Callable[[], TableClient]:
    return build(app_env).storage.table_ref(TABLES["work"])


def tenant() -> str:
    return "ix-" + uuid.uuid4().hex[:10]


def record(tenant: str, i: int, key_id: str = "k1", minutes: int = 30) -> WorkRecord:
    begin = datetime(2026, 10, 1, 8, tzinfo=UTC) + timedelta(hours=i)
    return WorkRecord(
        tenant=tenant,
        record_id=str(uuid.uuid4()),
        kind=POSITION_NOTE,
        key_id=key_id,
        recorded_by="conn",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        date_from=begin,
        date_to=begin + timedelta(minutes=minutes),
    )


def rows(table: TableClient, tenant: str) -> dict[str, str]:
    """Every row of the tenant's partition: RowKey -> ETag."""
    return {e["RowKey"]: str(e.metadata["etag"]) for e in table.query_entities(f"PartitionKey eq '{tenant}'")}


def legacy_write(table: TableClient, records: list[WorkRecord]) -> None:
    """Records as the code before the index stored them: the record row only."""
    for i in range(0, len(records), 100):
        table.submit_transaction([("create", to_entity(r)) for r in records[i : i + 100]])


def totals_by_key(repo: TableWorkRepository, tenant: str) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for t in repo.totals(tenant):
        count, minutes = found.get(t.key_id, (0, 0))
        found[t.key_id] = (count + t.count, minutes + t.minutes)
    return {k: v for k, v in found.items() if v != (0, 0)}


def expected_totals(records: list[WorkRecord]) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for r in records:
        count, minutes = found.get(r.key_id, (0, 0))
        found[r.key_id] = (count + 1, minutes + r.minutes)
    return found


class FailingTransactions:
    """A `TableClient` whose transactions carry one more operation that fails (an update of a row
    that does not exist), as any failure inside the transaction would."""

    def __init__(self, inner: TableClient) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def submit_transaction(self, operations: list[Any], **kwargs: Any) -> Any:
        pk = operations[0][1]["PartitionKey"]
        return self._inner.submit_transaction([*operations, ("update", {"PartitionKey": pk, "RowKey": "none"})])


def test_a_failed_transaction_writes_neither_the_record_nor_its_index_nor_totals(
    table: Callable[[], TableClient],
) -> None:
    t = tenant()
    repo = TableWorkRepository(table)
    repo.add(record(t, 0))
    before = rows(table(), t)
    failing = TableWorkRepository(lambda: FailingTransactions(table()))  # type: ignore[arg-type, return-value]
    with pytest.raises(StorageUnavailable):
        failing.add(record(t, 1))
    assert rows(table(), t) == before


def test_totals_and_index_stay_exact_under_concurrent_writes_of_one_connection(
    table: Callable[[], TableClient],
) -> None:
    t = tenant()
    repo = TableWorkRepository(table)
    written = [record(t, i, key_id=KEYS[i % 2], minutes=10 + i % 7) for i in range(96)]
    chunks = [written[i::8] for i in range(8)]
    threads = [threading.Thread(target=lambda c=c: [repo.add(r) for r in c]) for c in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert totals_by_key(repo, t) == expected_totals(written)
    entries = list(repo.entries(t, WorkQuery(), newest_first=True))
    assert sorted(e.record_id for e in entries) == sorted(r.record_id for r in written)
    assert [e.date_from for e in entries] == sorted((r.date_from for r in written), reverse=True)


def test_adding_a_record_twice_counts_it_once(table: Callable[[], TableClient]) -> None:
    t = tenant()
    repo = TableWorkRepository(table)
    r = record(t, 0)
    assert repo.add(r) is True
    assert repo.add(r) is False
    assert totals_by_key(repo, t) == expected_totals([r])


def test_reindex_dry_run_writes_nothing_then_indexes_once_and_a_second_run_changes_nothing(
    table: Callable[[], TableClient],
) -> None:
    t = tenant()
    repo = TableWorkRepository(table)
    old = [record(t, i, key_id=KEYS[i % 3]) for i in range(70)]
    legacy_write(table(), old)
    new = record(t, 100)
    repo.add(new)  # written by the new code before the migration ran: indexed already
    before = rows(table(), t)

    dry = reindex(table(), t, dry_run=True)
    assert (dry.records, dry.already, dry.indexed, dry.marked) == (71, 1, 70, False)
    assert rows(table(), t) == before
    assert repo.indexed(t) is False

    done = reindex(table(), t)
    assert (done.indexed, done.marked) == (70, True)
    assert repo.indexed(t) is True
    assert totals_by_key(repo, t) == expected_totals([*old, new])
    after = rows(table(), t)

    again = reindex(table(), t)
    assert again.indexed == 0
    assert rows(table(), t) == after


class RacingTable:
    """A `TableClient` that, before the migration's first transaction, lets the app write a new note
    and another migration run to its end: both race the one under test."""

    def __init__(self, inner: TableClient, race: Callable[[], None]) -> None:
        self._inner = inner
        self._race: Callable[[], None] | None = race

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def submit_transaction(self, operations: list[Any], **kwargs: Any) -> Any:
        if self._race is not None:
            race, self._race = self._race, None
            race()
        return self._inner.submit_transaction(operations, **kwargs)


def test_notes_and_a_second_migration_during_a_migration_are_counted_once(table: Callable[[], TableClient]) -> None:
    t = tenant()
    repo = TableWorkRepository(table)
    old = [record(t, i, key_id=KEYS[i % 2]) for i in range(40)]
    legacy_write(table(), old)
    new = record(t, 200, key_id=KEYS[0])

    def race() -> None:
        repo.add(new)
        reindex(table(), t)

    report = reindex(RacingTable(table(), race), t)  # type: ignore[arg-type]
    assert report.indexed == 0  # the other run did it all
    assert totals_by_key(repo, t) == expected_totals([*old, new])
    assert len(list(repo.entries(t, WorkQuery(), newest_first=False))) == 41


def test_the_indexed_listing_answers_what_the_scan_answers_for_every_order_and_filter(
    table: Callable[[], TableClient],
) -> None:
    rng = random.Random(18)
    t = tenant()
    repo = TableWorkRepository(table)
    data = random_records(rng, t, 150)
    legacy_write(table(), data[:100])
    for r in data[100:]:
        repo.add(r)
    clock = lambda: datetime(2027, 1, 1, tzinfo=UTC)  # noqa: E731
    service = ConnectorService(repo, clock=clock)
    requests = [(random_request(rng), caller(t, rng.choice(KEYS))) for _ in range(60)]
    by_scan = [service.list_assignments(who, request) for request, who in requests]
    reindex(table(), t)
    assert repo.indexed(t)
    for (request, who), expected in zip(requests, by_scan, strict=True):
        assert service.list_assignments(who, request) == expected, request
    table().delete_entity(t, MARKER_ROW)  # back to the scan: nothing else changed
    assert [service.list_assignments(who, request) for request, who in requests] == by_scan
