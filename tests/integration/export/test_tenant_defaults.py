"""The tenant's accounting defaults (`billing/settings`, issue 17) over the in-process HTTP pipeline, and
an export that needs them: real Azurite and the e-conomic stand-in."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from shared.container import TABLES
from shared.errors import Rejected
from shared.platform.keys import ADMIN_RIGHT, RESELLER_RIGHT
from shared.repositories.billing import SETTINGS_ROW, SETTINGS_TYPE
from shared.repositories.work import TableWorkRepository
from shared.web.types import ApiRequest, ApiResponse
from standins.economic import EconomicStandin
from tests.support.export import OCT, World
from tests.support.invoicing import BERLIN, note

ALL = {
    "accountingEmail": "books@example.com",
    "defaultProductNumber": "2",
    "paymentTermsNumber": 2,
    "layoutNumber": 21,
    "documentType": "order",
}


def call(world: World, key: str, operation: str, body: Any = None, **route: str) -> ApiResponse:
    data = b"" if body is None else json.dumps(body).encode()
    request = ApiRequest(query={"apikey": key}, headers={}, body=data, route_params=route)
    return world.container.api.handle(operation, request)


def admin(world: World) -> str:
    return world.container.keys.create(world.tenant, rights=[ADMIN_RIGHT, RESELLER_RIGHT], limit=1000)[1]


def test_settings_round_trip_and_put_sets_only_the_fields_it_names(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=1, notes=1)
    key = admin(world)

    put = call(world, key, "PutTenantSettings", ALL)
    got = call(world, key, "GetTenantSettings")
    assert (put.status, put.body) == (200, ALL)
    assert (got.status, got.body) == (200, ALL)

    # A caller from before the defaults existed sets the address only: the defaults stay.
    call(world, key, "PutTenantSettings", {"accountingEmail": "ledger@example.com"})
    assert call(world, key, "GetTenantSettings").body == {**ALL, "accountingEmail": "ledger@example.com"}

    call(world, key, "PutTenantSettings", {"layoutNumber": 19, "documentType": None, "defaultProductNumber": None})
    assert call(world, key, "GetTenantSettings").body == {
        "accountingEmail": "ledger@example.com",
        "defaultProductNumber": None,
        "paymentTermsNumber": 2,
        "layoutNumber": 19,
        "documentType": None,
    }


def test_settings_stored_before_the_defaults_existed_still_read(env: dict[str, str], economic: EconomicStandin) -> None:
    world = World(env, economic, customers=1, notes=1)
    table = world.container.storage.table_ref("Billing")()
    old = {
        "PartitionKey": world.tenant,
        "RowKey": SETTINGS_ROW,
        "Type": SETTINGS_TYPE,
        "AccountingEmail": "a@b.example",
    }
    table.upsert_entity(old)

    got = call(world, admin(world), "GetTenantSettings")

    assert got.status == 200
    assert got.body == {
        "accountingEmail": "a@b.example",
        "defaultProductNumber": None,
        "paymentTermsNumber": None,
        "layoutNumber": None,
        "documentType": None,
    }


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("defaultProductNumber", "no spaces allowed", "letters, digits"),
        ("defaultProductNumber", "x" * 26, "1-25"),
        ("paymentTermsNumber", 0, ""),
        ("paymentTermsNumber", "many", ""),
        ("layoutNumber", -3, ""),
        ("layoutNumber", 1.5, ""),
        ("documentType", "invoice", "draftInvoice"),
    ],
)
def test_bad_settings_are_a_400_naming_the_field(
    env: dict[str, str], economic: EconomicStandin, field: str, value: Any, rule: str
) -> None:
    world = World(env, economic, customers=1, notes=1)
    key = admin(world)
    before = call(world, key, "GetTenantSettings").body

    response = call(world, key, "PutTenantSettings", {**ALL, field: value})

    assert response.status == 400, response.body
    assert isinstance(response.body, dict)
    [error] = response.body["Errors"]
    assert error["Field"] == field
    assert rule in error["Message"]
    assert call(world, key, "GetTenantSettings").body == before  # nothing stored


def test_the_export_uses_the_tenants_document_type_product_and_layout_where_nothing_else_names_one(
    env: dict[str, str], economic: EconomicStandin
) -> None:
    world = World(env, economic, customers=1, notes=2)
    key = admin(world)
    # Customer 3 of the stand-in (Initech) has no layout, nor has its group; a contract without a product.
    customer = {"name": "Initech", "accountingSystemId": 3, "billingEmail": "ap@initech.example", "currency": "GBP"}
    assert call(world, key, "PutCustomer", {**customer, "customerId": 9}).status == 200
    contract = {"contractId": 90, "customerId": 9, "hourlyRate": "100.00"}
    assert call(world, key, "PutContract", contract).status == 200
    stored = call(world, key, "GetContract", contractId="90").body
    assert isinstance(stored, dict)
    assert stored["productNumber"] is None
    work = TableWorkRepository(world.container.storage.table_ref(TABLES["work"]))
    work.add(note(world.tenant, OCT.start(BERLIN) + timedelta(days=3), minutes=90, service_contract_id=90))
    drafts = [h.number for h in world.container.invoicing.run(world.tenant, OCT).drafts]

    with pytest.raises(Rejected) as caught:
        world.start(draftIds=drafts)
    fields = sorted(e.field for e in caught.value.errors)
    assert fields == ["economic.customerGroup.layout", "product"]
    assert all("billing/settings" in e.message for e in caught.value.errors)

    call(world, key, "PutTenantSettings", {"defaultProductNumber": "2", "layoutNumber": 21, "documentType": "order"})
    job = world.run(world.start(draftIds=drafts)["jobId"])

    assert job.state == "succeeded", job.errors
    assert job.document_type == "order"
    (doc,) = world.documents("order").values()
    assert doc["layout"]["layoutNumber"] == 21
    assert {line["product"]["productNumber"] for line in doc["lines"]} == {"2"}
