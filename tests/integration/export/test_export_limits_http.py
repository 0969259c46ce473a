"""An export asking for what can never be stored is a 400 naming the field, never a 503 that Logic Apps
retries forever (issue 16, item 6: 7,000 `invoicesToOmit` ids overflowed the job record's 64 KiB
property and were answered "storage unavailable, retry shortly").

Through the app's HTTP pipeline in-process (`Container.api.handle`) with a real key, Azurite and the
e-conomic stand-in.
"""

from __future__ import annotations

import json

from shared.container import TABLES
from shared.export.schemas import MAX_DRAFT_IDS
from shared.platform.keys import RESELLER_RIGHT
from shared.repositories.export import TableJobRepository
from shared.web.types import ApiRequest, ApiResponse
from standins.economic import EconomicStandin
from tests.support.export import INVOICE_DATE, World


def _export(world: World, key: str, omit: list[int]) -> ApiResponse:
    body = json.dumps({"invoiceDate": INVOICE_DATE, "invoicesToOmit": omit}).encode()
    request = ApiRequest(query={"apikey": key}, headers={}, body=body, route_params={})
    return world.container.api.handle("CreateEconomicInvoiceDrafts", request)


def test_seven_thousand_drafts_to_omit_is_a_400_naming_the_field_and_its_limit(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=1, notes=1)
    _, key = world.container.keys.create(world.tenant, rights=[RESELLER_RIGHT], limit=1000)

    response = _export(world, key, list(range(100_000, 107_000)))

    assert response.status == 400, response.body
    assert "Retry-After" not in response.headers
    assert isinstance(response.body, dict)
    [error] = response.body["Errors"]
    assert error["Field"] == "invoicesToOmit"
    assert f"at most {MAX_DRAFT_IDS}" in error["Message"]


def test_the_most_drafts_to_omit_with_the_longest_ids_are_stored_and_the_export_is_queued(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    """What validation accepts fits the job record: 1,000 ids of 16 digits."""
    world = World(env, economic, customers=1, notes=1)
    _, key = world.container.keys.create(world.tenant, rights=[RESELLER_RIGHT], limit=1000)
    omit = [2**53 - 1 - n for n in range(MAX_DRAFT_IDS)]

    response = _export(world, key, omit)

    assert response.status == 202, response.body
    assert isinstance(response.body, dict)
    assert response.body["total"] == 1
    job = TableJobRepository(world.container.storage.table_ref(TABLES["exports"])).get(response.body["jobId"])
    assert job is not None
    assert job.omit == tuple(sorted(omit))
