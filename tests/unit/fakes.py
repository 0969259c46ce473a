"""In-memory stand-ins for our own storage interfaces (the Protocols in `shared/`).

Each is a plain dict behind a lock. Rows that the real tables guard with an ETag carry a version
token here too: a counter that changes on every write, so a write against a stale version fails
exactly as `IfNotModified` does in Table storage.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.idempotency import IdempotencyRecord
from shared.keys import ApiKey
from shared.work import WorkQuery, WorkRecord


class FakeWindowStore:
    """`WindowStore`: one admission log per key, with a version that changes on every save."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions = itertools.count(1)
        self._rows: dict[str, tuple[list[int], int]] = {}
        self.loads = 0
        self.saves = 0
        self.conflicts = 0

    def load(self, key: str) -> tuple[list[int], object | None]:
        with self._lock:
            self.loads += 1
            row = self._rows.get(key)
            if row is None:
                return [], None
            stamps, version = row
            return list(stamps), version

    def save(self, key: str, stamps: list[int], version: object | None) -> object | None:
        with self._lock:
            row = self._rows.get(key)
            current = None if row is None else row[1]
            if current != version:
                self.conflicts += 1
                return None
            written = next(self._versions)
            self._rows[key] = (list(stamps), written)
            self.saves += 1
            return written

    def stamps(self, key: str) -> list[int]:
        with self._lock:
            row = self._rows.get(key)
            return [] if row is None else list(row[0])


class FakeIdempotencyRepository:
    """`IdempotencyRepository`: records by (scope, key hash); replace/delete only at the current version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions = itertools.count(1)
        self._rows: dict[tuple[str, str], IdempotencyRecord] = {}

    def insert(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        with self._lock:
            row = (record.scope, record.key_hash)
            if row in self._rows:
                return None
            stored = replace(record, version=next(self._versions))
            self._rows[row] = stored
            return stored

    def get(self, scope: str, key_hash: str) -> IdempotencyRecord | None:
        with self._lock:
            return self._rows.get((scope, key_hash))

    def replace(self, record: IdempotencyRecord, version: object) -> IdempotencyRecord | None:
        with self._lock:
            row = (record.scope, record.key_hash)
            current = self._rows.get(row)
            if current is None or current.version != version:
                return None
            stored = replace(record, version=next(self._versions))
            self._rows[row] = stored
            return stored

    def delete(self, record: IdempotencyRecord) -> None:
        with self._lock:
            row = (record.scope, record.key_hash)
            current = self._rows.get(row)
            if current is not None and current.version == record.version:
                del self._rows[row]

    def purge_expired(self, now: datetime) -> int:
        with self._lock:
            expired = [row for row, record in self._rows.items() if record.expires_at < now]
            for row in expired:
                del self._rows[row]
            return len(expired)

    def records(self) -> list[IdempotencyRecord]:
        with self._lock:
            return list(self._rows.values())


class FakeKeyRepository:
    """`KeyRepository`: keys by id. `add` refuses an id that exists, as `create_entity` does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, ApiKey] = {}
        self.reads = 0

    def get(self, key_id: str) -> ApiKey | None:
        with self._lock:
            self.reads += 1
            return self._rows.get(key_id)

    def add(self, key: ApiKey) -> None:
        with self._lock:
            if key.key_id in self._rows:
                raise ValueError(f"key {key.key_id} exists already")
            self._rows[key.key_id] = key

    def list_for_tenant(self, tenant: str) -> list[ApiKey]:
        with self._lock:
            return [k for k in self._rows.values() if k.tenant == tenant]

    def save(self, key: ApiKey) -> None:
        with self._lock:
            self._rows[key.key_id] = key

    def update_digest(self, key_id: str, digest: str, hash_algorithm: str) -> None:
        """Like a MERGE: only the digest and its algorithm change; a missing key is an error."""
        with self._lock:
            self._rows[key_id] = replace(self._rows[key_id], digest=digest, hash_algorithm=hash_algorithm)

    def all(self) -> list[ApiKey]:
        with self._lock:
            return list(self._rows.values())


class FakeWorkRepository:
    """`WorkRepository`: records by (tenant, record id), filtered on every `WorkQuery` field."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], WorkRecord] = {}

    def add(self, record: WorkRecord) -> bool:
        with self._lock:
            row = (record.tenant, record.record_id)
            if row in self._rows:
                return False
            self._rows[row] = record
            return True

    def get(self, tenant: str, record_id: str) -> WorkRecord | None:
        with self._lock:
            return self._rows.get((tenant, record_id))

    def query(self, tenant: str, query: WorkQuery) -> list[WorkRecord]:
        with self._lock:
            found = [r for (t, _), r in self._rows.items() if t == tenant and _matches(r, query)]
        # Table storage answers in RowKey order within a partition.
        return sorted(found, key=lambda r: r.record_id)

    def count(self, tenant: str) -> int:
        with self._lock:
            return sum(1 for t, _ in self._rows if t == tenant)


def _matches(r: WorkRecord, q: WorkQuery) -> bool:
    return (
        r.kind in q.kinds
        and (q.starts_at_or_after is None or r.date_from >= q.starts_at_or_after)
        and (q.ends_at_or_before is None or r.date_to <= q.ends_at_or_before)
        and (q.ticket_id is None or r.ticket_id == q.ticket_id)
        and (q.service_contract_id is None or r.service_contract_id == q.service_contract_id)
        and (q.project_id is None or r.project_id == q.project_id)
        and (q.no_invoice is None or r.no_invoice == q.no_invoice)
    )


class FakeClock:
    """A clock that only moves when told to: `now()` for datetimes, `time()` for Unix seconds."""

    def __init__(self, start: datetime = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)) -> None:
        self._lock = threading.Lock()
        self._now = start

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def time(self) -> float:
        return self.now().timestamp()

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment
