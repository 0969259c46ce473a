"""The Idempotency table keeps whole responses, also those larger than one Table storage property
(64 KiB): an invoicing run of a few hundred customers answers with more than that."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.adapters.storage import StorageAccount, StorageConnection
from shared.platform.idempotency import IdempotencyRecord
from shared.repositories.idempotency import TableIdempotencyRepository


def _kept(app_env: dict[str, str], body: str) -> IdempotencyRecord:
    """`body` completed as a claim's 200 answer in a fresh table, and the claim as read back."""
    storage = StorageAccount(StorageConnection.from_env("AzureWebJobsStorage", app_env), table_prefix="idem")
    repo = TableIdempotencyRepository(storage.table_ref("Big" + uuid.uuid4().hex[:8]))
    now = datetime.now(UTC)
    claim = repo.insert(
        IdempotencyRecord(
            scope="tenant-" + uuid.uuid4().hex[:6],
            key_hash=uuid.uuid4().hex,
            fingerprint="f",
            status="INPROGRESS",
            generation="g",
            lease_until=now + timedelta(seconds=30),
            expires_at=now + timedelta(hours=1),
        )
    )
    assert claim is not None
    done = replace(claim, status="COMPLETED", response_status=200, response_body=body)
    assert repo.replace(done, claim.version) is not None

    stored = repo.get(claim.scope, claim.key_hash)

    assert stored is not None
    return stored


def test_a_response_larger_than_one_property_is_kept_whole(app_env: dict[str, str]) -> None:
    drafts = [{"draftId": n, "customer": {"name": f"Kunde {n} Ærø"}, "net": f"{n}.50"} for n in range(3000)]
    body = json.dumps({"drafts": drafts}, ensure_ascii=False)
    assert len(body.encode()) > 3 * 65536

    assert _kept(app_env, body).response_body == body


def test_an_incompressible_large_response_is_kept_whole_too(app_env: dict[str, str]) -> None:
    body = json.dumps({"noise": secrets.token_urlsafe(300_000)})

    assert _kept(app_env, body).response_body == body


def test_a_small_response_is_kept_as_it_always_was(app_env: dict[str, str]) -> None:
    body = '{"Message":"Position note created.","Success":true}'

    assert _kept(app_env, body).response_body == '{"Message":"Position note created.","Success":true}'


def test_a_response_too_large_for_an_entity_replays_as_a_completed_note(app_env: dict[str, str]) -> None:
    stored = _kept(app_env, json.dumps({"noise": secrets.token_urlsafe(1_500_000)}))  # ~1.1 MB even gzipped

    assert stored.response_status == 200
    assert json.loads(stored.response_body) == {
        "Message": "The call completed; its response was too large to keep for a replay.",
        "Success": True,
    }
