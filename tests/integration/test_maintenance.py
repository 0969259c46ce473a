"""Housekeeping: expired Idempotency-Key claims are deleted from Table storage, live ones kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.container import TABLES, build
from shared.idempotency import IdempotencyRecord
from shared.repositories.idempotency import TableIdempotencyRepository


def test_purge_deletes_expired_claims_and_keeps_live_ones(app_env: dict[str, str]) -> None:
    container = build(app_env)
    repo = TableIdempotencyRepository(container.storage.table_ref(TABLES["idempotency"]))
    now = datetime.now(UTC)
    expired = IdempotencyRecord(
        scope="purge-tenant",
        key_hash="a" * 64,
        fingerprint="f",
        status="COMPLETED",
        generation="g1",
        lease_until=now - timedelta(days=2),
        expires_at=now - timedelta(hours=1),
        response_status=200,
        response_body="{}",
    )
    live = replace(expired, key_hash="b" * 64, generation="g2", expires_at=now + timedelta(hours=1))
    assert repo.insert(expired) is not None
    assert repo.insert(live) is not None

    deleted = container.idempotency.purge_expired()

    assert deleted == 1
    assert repo.get("purge-tenant", "a" * 64) is None
    kept = repo.get("purge-tenant", "b" * 64)
    assert kept is not None
    assert kept.generation == "g2"
