"""Housekeeping: expired Idempotency-Key claims are deleted from Table storage, live ones kept."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import requests

from devhost.processes import DevHost
from shared.container import TABLES, build
from shared.platform.idempotency import IdempotencyRecord
from shared.repositories.idempotency import TableIdempotencyRepository


def _claims(app_env: dict[str, str], scope: str) -> tuple[TableIdempotencyRepository, IdempotencyRecord]:
    repo = TableIdempotencyRepository(build(app_env).storage.table_ref(TABLES["idempotency"]))
    now = datetime.now(UTC)
    expired = IdempotencyRecord(
        scope=scope,
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
    return repo, live


def test_purge_deletes_expired_claims_and_keeps_live_ones(app_env: dict[str, str]) -> None:
    repo, _ = _claims(app_env, "purge-tenant")

    deleted = build(app_env).idempotency.purge_expired()

    assert deleted == 1
    assert repo.get("purge-tenant", "a" * 64) is None
    kept = repo.get("purge-tenant", "b" * 64)
    assert kept is not None
    assert kept.generation == "g2"


def test_the_daily_timer_function_purges_when_run(host: DevHost, app_env: dict[str, str]) -> None:
    repo, _ = _claims(app_env, "timer-tenant")

    started = requests.post(
        f"{host.base_url}/admin/functions/purge_expired_idempotency_keys", json={"input": ""}, timeout=30
    )

    assert started.status_code == 202
    deadline = time.monotonic() + 20
    while repo.get("timer-tenant", "a" * 64) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert repo.get("timer-tenant", "a" * 64) is None
    assert repo.get("timer-tenant", "b" * 64) is not None
