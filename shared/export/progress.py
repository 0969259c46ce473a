"""The worker's steps 2 and 3 (see `worker.py`): what earlier attempts left in e-conomic, found with one
paged look-up per job, and asked for once more by exact reference for a draft it did not find where an
earlier attempt or job may have left one (the paged look-up can miss a document while others are
deleted); a document's POST, looked up again only after an answer that never came; and each created
document's number recorded on its header in batches, while the other documents are still being
created."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.errors import AccountingKeySpent, Unavailable
from shared.export.documents import REFERENCE_PREFIX, number_in, reference_of, released
from shared.export.jobs import DocumentType, Job
from shared.export.ports import EconomicApi, Transient
from shared.invoicing.ledger import DraftHeader
from shared.invoicing.ports import Ledger

Leftovers = Mapping[int, list[dict[str, Any]]]
"""Documents found in e-conomic by draft number (its documents of the job's type, by ascending number)."""


def leftovers(economic: EconomicApi, job: Job, drafts: Sequence[DraftHeader]) -> Leftovers:
    """The documents of the job's type already in e-conomic for each of `drafts`, by draft number: those
    whose `references.other` is exactly the draft's reference (`IB-<tenant>-<draft>`). One paged
    look-up of every draft whose reference starts with `IB-<tenant>-` (a prefix other tenants' references
    can share, `IB-<tenant>-x-7`: only exact references count), instead of one request per draft."""
    wanted = {reference_of(h): h.number for h in drafts}
    if not wanted:
        return {}
    found: dict[int, list[dict[str, Any]]] = {}
    for doc in economic.find_drafts_from(job.document_type, f"{REFERENCE_PREFIX}{job.tenant}-"):
        number = wanted.get(str((doc.get("references") or {}).get("other")))
        if number is not None:
            found.setdefault(number, []).append(doc)
    for docs in found.values():
        docs.sort(key=lambda doc: number_in(job.document_type, doc))
    return found


RECHECKS = 8
"""Exact look-ups (`find_drafts`) at once when a rollback asks again for the drafts `leftovers` missed."""


def unsure(job: Job, header: DraftHeader) -> bool:
    """Whether a document of the draft that `leftovers` did not find may still be in e-conomic, so it must
    be asked for by its exact reference before one is created: on a redelivery (an earlier attempt of
    this job may have created it), or when an earlier job left an orphan for the draft (its document is
    to be deleted, not kept beside a new one). `leftovers` pages with `skippages`, and a deletion
    meanwhile (another job's rollback) moves a document across
    a page boundary unseen (`find_drafts_from`). On a first attempt no attempt of this job came before,
    so a draft without an orphan can have no document of ours: the paged look-up is all it costs."""
    return job.attempts > 1 or isinstance(header.accounting.orphan, Mapping)


def exact(economic: EconomicApi, job: Job, header: DraftHeader) -> list[dict[str, Any]]:
    """The draft's documents of the job's type, asked for by its exact reference, by ascending number."""
    docs = economic.find_drafts(job.document_type, reference_of(header))
    return sorted(docs, key=lambda doc: number_in(job.document_type, doc))


def every_leftover(economic: EconomicApi, job: Job, drafts: Sequence[DraftHeader]) -> Leftovers:
    """`leftovers`, and each draft it did not find asked for again by its exact reference (a few at once):
    for a rollback, which must find every document its job may have created."""
    found = dict(leftovers(economic, job, drafts))
    missed = [h for h in drafts if h.number not in found]
    if missed:
        with ThreadPoolExecutor(max_workers=min(RECHECKS, len(missed)), thread_name_prefix="recheck") as pool:
            for header, docs in zip(missed, pool.map(lambda h: exact(economic, job, h), missed), strict=True):
                if docs:
                    found[header.number] = docs
    return found


AMBIGUOUS = (None, 500, 502, 504)
"""A create that failed so (no answer, or these statuses) may have stored the document: look it up
before posting again."""


def post_document(
    job: Job,
    economic: EconomicApi,
    kind: DocumentType,
    ref: str,
    body: dict[str, Any],
    draft: int,
    *,
    fresh: bool = False,
) -> int:
    """POSTs the document; after an answer that never came (or a key that is spent), looks it up
    before posting again, and then with a fresh key.
    `fresh`: documents of the draft were just deleted; a key used before must not replay one.

    The first POST of each attempt uses the draft's key (`J-<draft>`), so a redelivery replays what
    an earlier attempt created if the look-up before it missed it. e-conomic replays a key's first
    answer for an hour, errors not excluded (its OpenAPI description, apis.e-conomic.com; issue 15
    item 13): once a look-up proved the document missing, a POST with a used key could only get that
    old answer again, so it gets a new one (`J-<draft>-<attempt>.<n>`)."""
    base = f"{job.job_id}-{draft}" + ("-after-orphans" if fresh else "")
    key = base
    for attempt in range(1, 4):
        try:
            return number_in(kind, economic.create_draft(kind, body, idempotency_key=key))
        except Unavailable as error:
            spent = isinstance(error, AccountingKeySpent)
            if not (spent or getattr(error, "status", 0) in AMBIGUOUS) or attempt == 3:
                raise  # e-conomic answered (429/5xx after its retries): the queue retries later
            found = economic.find_drafts(kind, ref)
            if found:
                return min(number_in(kind, doc) for doc in found)
            key = f"{base}-{job.attempts}.{attempt + 1}"  # proven missing: a key never used before
    raise AssertionError("unreachable")  # pragma: no cover


class Recorder:
    """Records each created document on its draft's header (`documentNumber`, `reference`, the job) in
    conditional transactions of up to `ledger.max_transaction` headers: a thread of its own writes
    whatever has arrived since its last write, so a number is on its header a transaction's time after
    its document was created (as with one write per draft) in a few round trips instead of one per
    draft, and no create waits for it. `close` waits for the last write and raises what failed."""

    def __init__(self, ledger: Ledger, job: Job, clock: Callable[[], datetime]) -> None:
        self._ledger = ledger
        self._job = job
        self._clock = clock
        self._pending: list[DraftHeader] = []
        self._ready = threading.Condition()
        self._closing = False
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="export-record", daemon=True)
        self._thread.start()

    def add(self, header: DraftHeader, number: int) -> None:
        """`header` as read (its version is the write's condition) has the document `number`."""
        accounting = released(header.accounting).changed(
            export_job=self._job.job_id,
            document_type=self._job.document_type,
            document_number=number,
            reference=reference_of(header),
        )
        with self._ready:
            self._pending.append(replace(header, accounting=accounting))
            self._ready.notify()

    def close(self) -> None:
        """Writes what is left; raises the first failure (the attempt then ends with it)."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join()
        if self.failure is not None:
            raise self.failure

    def _run(self) -> None:
        size = self._ledger.max_transaction
        while True:
            with self._ready:
                while not self._pending and not self._closing:
                    self._ready.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending[:size], self._pending[size:]
            if self.failure is not None:
                continue  # failed: nothing more is written; `close` raises it
            try:
                now = self._clock()
                if not self._ledger.replace_headers([replace(h, updated_at=now) for h in batch]):
                    numbers = ", ".join(str(h.number) for h in batch)
                    raise Transient(f"a draft changed while its document was created (one of {numbers})")
            except BaseException as error:  # handed to the worker by `close`
                self.failure = error
