"""An `Idempotency-Key` replay is no way around the export's access checks (issue 16, item 4).

An operator key exports another tenant with `Idempotency-Key: K`. Before the fix a reseller-only key
of the operator's tenant, refused with 403 without the key, got 202 `Idempotent-Replayed: true` with
the other tenant's job id, totals and draft numbers by sending the same key and body.

The calls go through the app's HTTP pipeline in-process (`Container.api.handle`, what every Functions
HTTP trigger calls) with real API keys, Azurite and the e-conomic stand-in.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

from shared.container import TABLES
from shared.platform.idempotency import REPLAY_HEADER
from shared.platform.keys import OPERATOR_RIGHT, RESELLER_RIGHT
from shared.repositories.keys import TableKeyRepository
from shared.web.types import ApiRequest, ApiResponse
from standins.economic import EconomicStandin
from tests.support.export import INVOICE_DATE, World


def _export(world: World, key: str, idempotency_key: str, body: bytes) -> ApiResponse:
    request = ApiRequest(
        query={"apikey": key}, headers={"idempotency-key": idempotency_key}, body=body, route_params={}
    )
    return world.container.api.handle("CreateEconomicInvoiceDrafts", request)


def _setup(env: dict[str, str], economic: EconomicStandin) -> tuple[World, str, bytes]:
    """The other tenant (with open drafts), the operator's tenant, and the body exporting the other."""
    other = World({**env, "API_KEY_CACHE_SECONDS": "0"}, economic, customers=2, notes=1)
    other.container.keys.create(other.tenant, rights=[RESELLER_RIGHT])  # a tenant exists while it has keys
    operators = "op-" + uuid.uuid4().hex[:10]
    return other, operators, json.dumps({"reseller": other.tenant, "invoiceDate": INVOICE_DATE}).encode()


def test_a_reseller_key_replaying_an_operators_export_of_another_tenant_is_refused(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    other, operators, body = _setup(env, economic)
    keys = other.container.keys
    _, operator = keys.create(operators, rights=[RESELLER_RIGHT, OPERATOR_RIGHT], limit=1000)
    _, reseller = keys.create(operators, rights=[RESELLER_RIGHT], limit=1000)
    first = _export(other, operator, "K", body)
    assert first.status == 202, first.body

    assert _export(other, reseller, "K-unused", body).status == 403  # without the key: refused
    replay = _export(other, reseller, "K", body)

    assert replay.status == 403, replay.body
    assert REPLAY_HEADER not in replay.headers
    assert isinstance(first.body, dict)
    assert first.body["jobId"] not in json.dumps(replay.body)


def test_a_key_whose_operator_right_was_taken_away_gets_no_replay(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    other, operators, body = _setup(env, economic)
    operator_key, operator = other.container.keys.create(operators, rights=[RESELLER_RIGHT, OPERATOR_RIGHT], limit=1000)
    first = _export(other, operator, "K", body)
    assert first.status == 202, first.body
    assert _export(other, operator, "K", body).headers.get(REPLAY_HEADER) == "true"

    TableKeyRepository(other.container.storage.table_ref(TABLES["keys"])).save(
        replace(operator_key, rights=frozenset({RESELLER_RIGHT}))
    )
    replay = _export(other, operator, "K", body)

    assert replay.status == 403, replay.body
    assert REPLAY_HEADER not in replay.headers


def test_another_operator_key_of_the_same_tenant_never_gets_the_first_keys_answer(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    other, operators, body = _setup(env, economic)
    keys = other.container.keys
    _, first_key = keys.create(operators, rights=[RESELLER_RIGHT, OPERATOR_RIGHT], limit=1000)
    _, second_key = keys.create(operators, rights=[RESELLER_RIGHT, OPERATOR_RIGHT], limit=1000)
    first = _export(other, first_key, "K", body)
    assert first.status == 202, first.body

    second = _export(other, second_key, "K", body)

    assert REPLAY_HEADER not in second.headers
    assert isinstance(first.body, dict)
    assert isinstance(second.body, dict)
    assert second.body.get("jobId") != first.body["jobId"]
