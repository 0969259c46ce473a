"""`Idempotency-Key` handling for creates: Logic Apps retries timed-out and failed calls.

- The first request with a key claims it (an insert, so exactly one concurrent request wins).
- A repeat with the same key and body replays the first answer; with another body it gets 422.
  A repeat while the first is still running waits for it (up to `in_flight_wait`, polling the claim)
  and replays its answer; still running after that, it gets 503 with Retry-After, a status Logic Apps
  retries (it retries only 408, 429 and 5xx: https://learn.microsoft.com/azure/logic-apps/error-exception-handling),
  where a 409 would end the action as failed though the first attempt created the record.
- Keys are kept `ttl` (24 h); after that the key may be used afresh.
- A key belongs to its caller and operation: the claim is stored under the tenant (`scope`) and a
  hash of the API key's id, the operation and the key, so another connection (even of the same
  tenant) sending the same key never gets this one's answer. The pipeline runs the operation's
  authentication, right and resource-scope checks before it asks for a replay
  (`shared.web.pipeline`), so a replay answers only a caller that may make the call now.
  Claims stored before keys were scoped by caller (hash of operation and key only) never match a
  new one: a retry of such a call runs as a new call (see docs/api.md, Retries and Idempotency-Key).

Crash safety: a claim that is never completed (the worker died) is a lease that runs out. The next
attempt takes the claim over and runs the action again with the same `generation` token. Actions
derive the ids of what they create from that token, so the second run finds what the first one
wrote instead of writing it twice. Only successful (2xx) answers are kept; a failed attempt
releases the key so that a retry runs again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from shared.errors import FieldError, Invalid, Rejected, Unavailable
from shared.web.types import ApiResponse, dumps

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotencyRecord:
    scope: str
    key_hash: str
    fingerprint: str
    status: Literal["INPROGRESS", "COMPLETED"]
    generation: str
    lease_until: datetime
    expires_at: datetime
    response_status: int = 0
    response_body: str = ""
    version: object | None = None


class IdempotencyRepository(Protocol):
    def insert(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """The stored record with its version, or None when one exists already."""
        ...

    def get(self, scope: str, key_hash: str) -> IdempotencyRecord | None: ...

    def replace(self, record: IdempotencyRecord, version: object) -> IdempotencyRecord | None:
        """The stored record, or None when `version` is no longer current."""
        ...

    def delete(self, record: IdempotencyRecord) -> None: ...

    def purge_expired(self, now: datetime) -> int:
        """Deletes claims whose `expires_at` is before `now`; returns how many."""
        ...


def fingerprint(payload: dict[str, Any]) -> str:
    """Digest of the request body as data: key order and whitespace do not make it a different body."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise Invalid(
            f"The {HEADER} header is invalid.",
            [FieldError(HEADER, f"must be 1-{MAX_KEY_LENGTH} visible ASCII characters without spaces")],
        )
    return key


def claim_hash(caller: str, operation: str, key: str) -> str:
    """The claim's row: three lines, so it never equals a claim stored before keys were scoped by
    caller (`sha256(operation + "\\n" + key)`; neither an operation name nor a key holds a line break)."""
    return hashlib.sha256(f"{caller}\n{operation}\n{key}".encode()).hexdigest()


class Idempotency:
    def __init__(
        self,
        repository: IdempotencyRepository,
        *,
        clock: Callable[[], datetime],
        ttl: timedelta = timedelta(hours=24),
        lease: timedelta = timedelta(seconds=30),
        in_flight_wait: timedelta = timedelta(seconds=5),
        poll: timedelta = timedelta(milliseconds=250),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._ttl = ttl
        self._lease = lease
        self._in_flight_wait = in_flight_wait
        self._poll = poll
        self._sleep = sleep

    def run(
        self,
        scope: str,
        caller: str,
        operation: str,
        key: str,
        body_fingerprint: str,
        action: Callable[[str], ApiResponse],
    ) -> ApiResponse:
        """Runs `action` once per (`scope`, `caller`, `operation`, `key`): `scope` is the tenant,
        `caller` the API key's id."""
        key_hash = claim_hash(caller, operation, check_key(key))
        claim = self._claim(scope, key_hash, body_fingerprint)
        if isinstance(claim, ApiResponse):
            return claim
        try:
            response = action(claim.generation)
        except BaseException:
            self._release(claim)
            raise
        if 200 <= response.status < 300:
            done = replace(
                claim, status="COMPLETED", response_status=response.status, response_body=dumps(response.body)
            )
            # If this fails our lease ran out and another attempt owns the key; it will find what we
            # created through the shared generation token, so there is nothing to undo here.
            self._repo.replace(done, claim.version)
        else:
            self._release(claim)
        return response

    def _claim(self, scope: str, key_hash: str, body_fingerprint: str) -> IdempotencyRecord | ApiResponse:
        waited = False
        for _ in range(10):
            now = self._clock()
            fresh = IdempotencyRecord(
                scope=scope,
                key_hash=key_hash,
                fingerprint=body_fingerprint,
                status="INPROGRESS",
                generation=uuid.uuid4().hex,
                lease_until=now + self._lease,
                expires_at=now + self._ttl,
            )
            stored = self._repo.insert(fresh)
            if stored is not None:
                return stored
            existing = self._repo.get(scope, key_hash)
            if existing is None:
                continue  # released between our insert and our read: try to claim again
            if existing.expires_at <= now:
                taken = self._repo.replace(fresh, existing.version)
            elif existing.fingerprint != body_fingerprint:
                raise Rejected(
                    f"This {HEADER} was already used with a different request body.",
                    [FieldError(HEADER, "was used before with a different body; use a new key for a new request")],
                )
            elif existing.status == "COMPLETED":
                return ApiResponse(
                    existing.response_status, json.loads(existing.response_body), {REPLAY_HEADER: "true"}
                )
            elif existing.lease_until > now:
                if not waited and self._settled_while_waiting(existing):
                    waited = True  # wait once per request, however often the claim changes hands
                    continue  # finished, released or its lease ran out: look again
                now = self._clock()
                raise Unavailable(
                    f"A request with this {HEADER} is still being processed; retry after Retry-After seconds.",
                    code="in_progress",
                    retry_after=max(1, int((existing.lease_until - now).total_seconds()) + 1),
                )
            else:
                # The earlier attempt died mid-way. Take over with its generation, so the action
                # recognises what that attempt already wrote.
                taken = self._repo.replace(replace(existing, lease_until=now + self._lease), existing.version)
            if taken is not None:
                return taken
        raise Unavailable(
            f"A request with this {HEADER} is still being processed; retry after Retry-After seconds.",
            code="in_progress",
            retry_after=1,
        )

    def _settled_while_waiting(self, running: IdempotencyRecord) -> bool:
        """Polls the claim of a running attempt for up to `in_flight_wait`: True as soon as it completed,
        was released or changed hands, or its lease ran out; False if it is still running."""
        for _ in range(int(self._in_flight_wait / self._poll) if self._poll > timedelta(0) else 0):
            self._sleep(self._poll.total_seconds())
            current = self._repo.get(running.scope, running.key_hash)
            if (
                current is None
                or current.status != "INPROGRESS"
                or current.generation != running.generation
                or current.lease_until != running.lease_until
                or current.lease_until <= self._clock()
            ):
                return True
        return False

    def purge_expired(self) -> int:
        """Removes expired keys from storage (they already count as unused; this keeps the table small)."""
        return self._repo.purge_expired(self._clock())

    def _release(self, claim: IdempotencyRecord) -> None:
        # Best effort: a claim we fail to release runs out with its lease.
        with contextlib.suppress(Exception):
            self._repo.delete(claim)
