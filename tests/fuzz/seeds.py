"""Valid requests for the fuzzer to start from.

The document declares types but not every rule the validation applies (dates are plain strings,
amounts are strings, ids must exist), so requests drawn from it alone are nearly all refused with 400
before they reach the use cases. Half of the drawn cases are therefore rebuilt on a valid request of
the fuzz tenant (its ids, a valid body) with ONE field taken from the drawn case: every field is
fuzzed on its own behind requests that get through validation."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.support.export import World

NOTE = {
    "dateFrom": "2026-10-06T08:00:00",
    "dateTo": "2026-10-06T09:30:00",
    "noInvoice": False,
    "extraCharge": True,
    "pause": "00:15",
    "hint": "Fuzzed work",
    "username": "fuzz",
    "ticketID": 4711,
    "serviceContractID": 101,
}


LINE = {"productNumber": "1", "description": "Fuzzed supply", "quantity": "2", "unitPrice": "9.99", "period": "2026-10"}


def valid_bodies(world: World) -> dict[str, Any]:
    """operationId -> a body the operation accepts for `world`'s tenant (customers 1-2, contracts 101-102)."""
    return {
        "CreateActivityRecording": {
            "dateFrom": "2026-10-06T08:00:00",
            "dateTo": "2026-10-06T09:00:00",
            "Quantity": 1.5,
            "bookText": "Fuzzed activity",
            "ticketID": 4711,
        },
        "CreateInvoicePositionNote": NOTE,
        "CreateTicket": NOTE,
        # Keeps customer 1 linked to e-conomic customer 1, so that exports still reach the stand-in.
        "PutCustomer": {
            "name": "Fuzz customer",
            "accountingSystemId": 1,
            "billingEmail": "fuzz@example.com",
            "currency": "DKK",
        },
        "PutContract": {
            "customerId": 1,
            "productNumber": "1",
            "hourlyRate": "950.00",
            "surchargePercent": "10",
            "roundingMinutes": 15,
        },
        "PutTicket": {"customerId": 1, "contractId": 101},
        "MergeInvoiceDrafts": {"draftIds": list(world.drafts)},
        "CreateInvoicingRun": {"period": "2026-10"},
        "CreateEconomicInvoiceDrafts": {"invoiceDate": "2026-11-01"},
        "PutTenantSettings": {"accountingEmail": "accounting@example.com"},
        "CreateInvoiceDraft": {"customerId": 1, "period": "2026-10", "lines": [LINE]},
        "AddInvoiceDraftLine": LINE,
        "ChangeInvoiceDraftLine": {"description": "Fuzzed text", "unitPrice": "12.50"},
    }


def valid_path_parameters(world: World) -> dict[str, Any]:
    """Path parameter -> an id that exists in `world`'s tenant."""
    return {"customerId": 1, "contractId": 101, "ticketId": 4711, "draftId": world.drafts[0], "lineId": "manual:1"}


@st.composite
def seeded(draw: st.DrawFn, case: Any, body: Any, path: dict[str, Any]) -> Any:
    """A copy of `case` on a valid request: the valid path ids and `body`, with one field of `case.body`."""
    case = case.derive(keep_auth=True)  # the drawn case is Hypothesis's: never changed in place
    if case.path_parameters:
        names = sorted(case.path_parameters)
        keep = draw(st.sampled_from([None, *names]))  # None: every id valid
        case.path_parameters = {
            name: case.path_parameters[name] if name == keep or name not in path else path[name] for name in names
        }
    if case.headers and "If-Match" in case.headers and draw(st.booleans()):
        case.headers = {**case.headers, "If-Match": "*"}  # any version: the edit gets past its precondition
    if isinstance(body, dict) and isinstance(case.body, dict):
        fuzzed = dict(body)
        names = sorted(set(case.body) | set(body))
        name = draw(st.sampled_from(names))
        if name in case.body:
            fuzzed[name] = case.body[name]
        else:
            del fuzzed[name]  # the drawn case left it out
        case.body = fuzzed
    return case
