"""The accounting-sync endpoints (`integration/economic/sync`, `integration/economic/customers`,
`invoicing/drafts/{draftId}/reopen`) with numbers too long to read: a 400 naming the field and the
rule, never a 500 or Python's own message.

The calls go through the app's HTTP pipeline in-process (`Container.api.handle`, exactly what
`blueprints._http.serve` calls for every Functions HTTP trigger) with a real API key, Azurite and the
e-conomic stand-in. An exception escaping `handle` is what the Functions host answers with 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.platform.keys import ADMIN_RIGHT, RESELLER_RIGHT
from shared.web.types import ApiRequest, ApiResponse
from standins.economic import EconomicStandin
from tests.support.export import World


class App:
    """One tenant of the app, called as an HTTP client with an API key would."""

    def __init__(self, env: dict[str, str], economic: EconomicStandin) -> None:
        self.world = World(env, economic, customers=2, notes=1)
        _, self.key = self.world.container.keys.create(
            self.world.tenant, rights=[ADMIN_RIGHT, RESELLER_RIGHT], limit=1000
        )

    def call(self, operation: str, body: bytes = b"", route: dict[str, str] | None = None) -> ApiResponse:
        request = ApiRequest(query={"apikey": self.key}, headers={}, body=body, route_params=route or {})
        try:
            return self.world.container.api.handle(operation, request)
        except Exception as error:  # the Functions host turns this into a 500
            pytest.fail(f"{operation} raised {type(error).__name__}: {error} -- the host answers 500")


def _errors(response: ApiResponse) -> list[dict[str, Any]]:
    assert isinstance(response.body, dict), response.body
    assert response.body.get("Success") is False, response.body
    return list(response.body.get("Errors", []))


@pytest.fixture
def app(env: dict[str, str], economic: EconomicStandin) -> App:
    return App(env, economic)


# -- a JSON integer of more than 4300 digits ---------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "field"),
    [("SyncEconomicCustomers", "dryRun"), ("SyncEconomicInvoices", "reseller")],
)
def test_a_json_integer_with_more_than_4300_digits_is_a_400_not_a_500(app: App, operation: str, field: str) -> None:
    """A number of 5000 digits in the body (Python reads ints of at most 4300): a 400 naming the body."""
    body = b'{"' + field.encode() + b'": 1' + b"0" * 5000 + b"}"

    response = app.call(operation, body)

    assert response.status == 400, response.body
    errors = _errors(response)
    assert [e["Field"] for e in errors] in ([field], ["body"]), errors
    assert "sys.set_int_max_str_digits" not in json.dumps(response.body)


# -- a tiny JSON number with a huge exponent ---------------------------------------------------------


def test_a_customer_number_with_a_huge_exponent_is_refused_at_once(app: App) -> None:
    """`[1e600000]` (29 bytes) is refused by the id rule. That this happens before the number is made an
    int (seconds of CPU) is tested in tests/unit/test_validation.py (numbers refused unread)."""
    response = app.call("SyncEconomicCustomers", b'{"importNew": [1e600000]}')

    assert response.status == 400, response.body
    assert _errors(response)[0]["Field"].startswith("importNew")


# -- a long digit string ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "body", "route", "field"),
    [
        ("ReopenInvoiceDraft", b"", {"draftId": "1" * 5000}, "draftId"),
        (
            "SyncEconomicCustomers",
            b'{"link": [{"customerId": "' + b"1" * 5000 + b'", "customerNumber": 1}]}',
            None,
            "link[0].customerId",
        ),
    ],
    ids=["reopen-draftId", "link-customerId"],
)
def test_a_digit_string_longer_than_4300_digits_gets_the_id_rule(
    app: App, operation: str, body: bytes, route: dict[str, str] | None, field: str
) -> None:
    """A 5000-digit id in the path or in `link` gets the id rule, not Python's "Exceeds the limit (4300
    digits) ... use sys.set_int_max_str_digits()"."""
    response = app.call(operation, body, route)

    assert response.status == 400, response.body
    errors = _errors(response)
    assert [e["Field"] for e in errors] == [field], errors
    message = errors[0]["Message"]
    assert "set_int_max_str_digits" not in message, message
    assert "Value error" not in message, message
    assert "positive whole number" in message, message
