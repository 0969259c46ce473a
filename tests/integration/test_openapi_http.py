"""GET /ApiInvoice/swagger.json through the local host: anonymous, valid, and pointing at this host."""

from __future__ import annotations

import requests

from devhost.processes import DevHost
from shared.operations import ALL_OPERATIONS
from tests.support.reference import swagger_2_errors


def test_the_app_serves_its_swagger_document_without_a_key(host: DevHost) -> None:
    response = requests.get(f"{host.base_url}/ApiInvoice/swagger.json", timeout=30)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert swagger_2_errors(document) == []
    assert document["host"] == host.base_url.split("://", 1)[1]
    assert document["schemes"] == ["http"]
    ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert ids == {spec.operation_id for spec in ALL_OPERATIONS}
