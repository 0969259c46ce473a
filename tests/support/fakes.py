"""In-memory stand-ins for our own storage interfaces (the Protocols in `shared/`).

Each is a plain dict behind a lock. Rows that the real tables guard with an ETag carry a version
token here too: a counter that changes on every write, so a write against a stale version fails
exactly as `IfNotModified` does in Table storage.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.invoicing.directory import Contract, Customer, Directory, Entry, with_entry
from shared.invoicing.ledger import BilledNote, Change, DraftHeader, DropLine, Link, PutLine, Rebill
from shared.invoicing.planning import ManualLine
from shared.platform.idempotency import IdempotencyRecord
from shared.platform.keys import ApiKey
from shared.work import IndexEntry, Kind, WorkQuery, WorkRecord, WorkTotals


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
    """`WorkRepository`: records by (tenant, record id), filtered on every `WorkQuery` field. With
    `indexed` (the default), it also answers as the index of `TableWorkRepository` does: entries by
    start time (ties by creation time, then id) and totals per connection, kind and billability."""

    def __init__(self, *, indexed: bool = True) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], WorkRecord] = {}
        self._indexed = indexed

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

    def indexed(self, tenant: str) -> bool:
        return self._indexed

    def entries(
        self, tenant: str, query: WorkQuery, *, newest_first: bool, limit: int | None = None
    ) -> Iterator[IndexEntry]:
        found = [IndexEntry.of(r) for r in self.query(tenant, query)]
        found.sort(key=lambda e: (e.created_at, e.record_id))
        found.sort(key=lambda e: e.date_from, reverse=newest_first)
        return iter(found[:limit] if limit is not None else found)

    def totals(self, tenant: str) -> list[WorkTotals]:
        sums: dict[tuple[str, Kind, bool], list[int]] = {}
        for r in self.query(tenant, WorkQuery()):
            counted = sums.setdefault((r.key_id, r.kind, r.no_invoice), [0, 0])
            counted[0] += 1
            counted[1] += r.minutes
        return [WorkTotals(k, kind, ni, n, m) for (k, kind, ni), (n, m) in sums.items()]

    def get_many(self, tenant: str, record_ids: Sequence[str]) -> list[WorkRecord]:
        with self._lock:
            return [self._rows[(tenant, i)] for i in record_ids if (tenant, i) in self._rows]


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


class FakeDirectoryRepository:
    """`DirectoryRepository`: one `Directory` per tenant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, Directory] = {}

    def load(self, tenant: str) -> Directory:
        with self._lock:
            return self._rows.get(tenant, Directory())

    def put(self, tenant: str, entry: Entry) -> None:
        with self._lock:
            self._rows[tenant] = with_entry(self._rows.get(tenant, Directory()), entry)

    def put_many(self, tenant: str, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.put(tenant, entry)

    def delete(self, tenant: str, kind: type[Entry], entry_id: int) -> None:
        with self._lock:
            d = self._rows.get(tenant, Directory())
            customers, contracts, tickets = dict(d.customers), dict(d.contracts), dict(d.tickets)
            if kind is Customer:
                customers.pop(entry_id, None)
            elif kind is Contract:
                contracts.pop(entry_id, None)
            else:
                tickets.pop(entry_id, None)
            self._rows[tenant] = Directory(customers, contracts, tickets)


class FakeLedger:
    """`Ledger`: notes and draft headers of every tenant, each row with a version that changes on
    every write; conditional writes and "transactions" behave as in Table storage (all or nothing)."""

    def __init__(self, max_transaction: int = 100) -> None:
        self.max_transaction = max_transaction
        self._lock = threading.RLock()
        self._versions = itertools.count(1)
        self._notes: dict[tuple[str, str], BilledNote] = {}
        self._headers: dict[tuple[str, int], DraftHeader] = {}
        self._counters: dict[str, int] = {}
        self._lines: dict[tuple[str, int], ManualLine] = {}

    def add_note(self, record: WorkRecord) -> None:
        with self._lock:
            self._notes[(record.tenant, record.record_id)] = BilledNote(record, None, next(self._versions))

    def all_notes(self, tenant: str) -> list[BilledNote]:
        with self._lock:
            return [n for (t, _), n in self._notes.items() if t == tenant]

    def headers(self, tenant: str) -> dict[int, DraftHeader]:
        with self._lock:
            return {n: h for (t, n), h in self._headers.items() if t == tenant}

    def notes_starting(self, tenant: str, start: datetime, end: datetime) -> list[BilledNote]:
        return [
            n for n in self.all_notes(tenant) if n.record.kind == "PositionNote" and start <= n.record.date_from < end
        ]

    def billed_notes_starting(self, tenant: str, start: datetime, end: datetime) -> list[BilledNote]:
        return [n for n in self.notes_starting(tenant, start, end) if n.billing is not None]

    def billed_products(self, tenant: str, start: datetime, end: datetime) -> list[tuple[int, str]]:
        return [
            (n.billing.draft_number, n.billing.product_number)
            for n in self.notes_starting(tenant, start, end)
            if n.billing is not None
        ]

    def notes_of(self, tenant: str, numbers: Collection[int]) -> list[BilledNote]:
        return [n for n in self.all_notes(tenant) if n.billing is not None and n.billing.draft_number in numbers]

    def reserve(self, tenant: str, count: int) -> list[int]:
        with self._lock:
            last = self._counters.get(tenant, 0)
            self._counters[tenant] = last + count
            return list(range(last + 1, last + count + 1))

    def _note_ok(self, note: BilledNote) -> bool:
        current = self._notes.get((note.record.tenant, note.record.record_id))
        return current is not None and current.version == note.version

    def _write_link(self, link: Link) -> None:
        note = link.note.record
        record = replace(note, draft_number=link.billing.draft_number)
        self._notes[(note.tenant, note.record_id)] = BilledNote(record, link.billing, next(self._versions))

    def create_with_links(self, header: DraftHeader, links: Sequence[Link]) -> DraftHeader | None:
        assert len(links) < self.max_transaction
        with self._lock:
            if (header.tenant, header.number) in self._headers or not all(self._note_ok(k.note) for k in links):
                return None
            for link in links:
                self._write_link(link)
            stored = replace(header, version=next(self._versions))
            self._headers[(header.tenant, header.number)] = stored
            return stored

    def put_header(self, header: DraftHeader, expected: object | None) -> DraftHeader | None:
        with self._lock:
            current = self._headers.get((header.tenant, header.number))
            if (current is None) != (expected is None) or (current is not None and current.version != expected):
                return None
            stored = replace(header, version=next(self._versions))
            self._headers[(header.tenant, header.number)] = stored
            return stored

    def link(self, tenant: str, links: Sequence[Link]) -> set[str]:
        done: set[str] = set()
        with self._lock:
            for link in links:
                if self._note_ok(link.note):
                    self._write_link(link)
                    done.add(link.note.record.record_id)
        return done

    def unlink(self, tenant: str, notes: Sequence[BilledNote]) -> int:
        count = 0
        with self._lock:
            for note in notes:
                if self._note_ok(note):
                    record = replace(note.record, draft_number=None)
                    self._notes[(tenant, record.record_id)] = BilledNote(record, None, next(self._versions))
                    count += 1
        return count

    def replace_headers(self, headers: Sequence[DraftHeader]) -> bool:
        with self._lock:
            for h in headers:
                current = self._headers.get((h.tenant, h.number))
                if current is None or current.version != h.version:
                    return False
            for h in headers:
                self._headers[(h.tenant, h.number)] = replace(h, version=next(self._versions))
            return True

    def manual_lines(self, tenant: str, numbers: Collection[int]) -> list[ManualLine]:
        with self._lock:
            return [m for (t, _), m in self._lines.items() if t == tenant and m.draft_number in numbers]

    def manual_lines_between(self, tenant: str, low: int, high: int) -> list[ManualLine]:
        return self.manual_lines(tenant, range(low, high + 1))

    def reserve_lines(self, tenant: str, count: int) -> list[int]:
        return self.reserve("lines:" + tenant, count)

    def write(self, header: DraftHeader, changes: Sequence[Change]) -> DraftHeader | None:
        assert len(changes) < self.max_transaction
        with self._lock:
            current = self._headers.get((header.tenant, header.number))
            if (current is None) != (header.version is None) or (
                current is not None and current.version != header.version
            ):
                return None
            for change in changes:
                if isinstance(change, Rebill) and not self._note_ok(change.note):
                    return None
                if isinstance(change, PutLine | DropLine):
                    existing = self._lines.get((header.tenant, change.line.number))
                    if (existing.version if existing is not None else None) != change.line.version:
                        return None
            for change in changes:
                if isinstance(change, Rebill):
                    note = change.note.record
                    number = change.billing.draft_number if change.billing is not None else None
                    record = replace(note, draft_number=number)
                    self._notes[(note.tenant, note.record_id)] = BilledNote(
                        record, change.billing, next(self._versions)
                    )
                elif isinstance(change, PutLine):
                    self._lines[(header.tenant, change.line.number)] = replace(
                        change.line, version=next(self._versions)
                    )
                else:
                    del self._lines[(header.tenant, change.line.number)]
            stored = replace(header, version=next(self._versions))
            self._headers[(header.tenant, header.number)] = stored
            return stored


class Crash(Exception):
    """Raised by `CrashingLedger`: the process died here."""


class CrashingLedger:
    """Wraps a `Ledger` and "crashes" (raises `Crash`) instead of performing write number `after`
    (0-based), so a test can stop a run between any two of its writes."""

    WRITES = frozenset(
        {"reserve", "reserve_lines", "create_with_links", "put_header", "link", "unlink", "replace_headers", "write"}
    )

    def __init__(self, inner: Any, after: int) -> None:
        self._inner = inner
        self._after = after
        self.writes = 0
        self.max_transaction = inner.max_transaction

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self.WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            if self.writes == self._after:
                raise Crash(f"crash before write {self.writes} ({name})")
            self.writes += 1
            return attr(*args, **kwargs)

        return write
