"""The e-conomic stand-in itself (tests/economic_standin.py), spoken to with plain `requests`: what it
refuses must be what e-conomic refuses, or the client tests prove nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.economic_standin import EconomicStandin, FilterError, decode_self_id, encode_self_id, matches, parse_filter

APP, GRANT = "app-secret", "grant-a"
HEADERS = {"X-AppSecretToken": APP, "X-AgreementGrantToken": GRANT}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def economic(clock: FakeClock) -> Iterator[EconomicStandin]:
    with EconomicStandin(app_secret_token=APP, grant_tokens={"tenant-a": GRANT}, clock=clock) as standin:
        standin.agreement(GRANT).seed_defaults()
        yield standin


def http(method: str, url: str, **options: Any) -> requests.Response:
    return requests.request(method, url, timeout=5, **options)


def body(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "date": "2026-11-01",
        "currency": "DKK",
        "customer": {"customerNumber": 1},
        "recipient": {"name": "Acme A/S", "vatZone": {"vatZoneNumber": 1}},
        "paymentTerms": {"paymentTermsNumber": 1},
        "layout": {"layoutNumber": 19},
        "references": {"other": "IB-1"},
        "lines": [{"product": {"productNumber": "1"}, "quantity": 2, "unitNetPrice": 100}],
    }
    document.update(changes)
    return document


def post(economic: EconomicStandin, document: Any, path: str = "/invoices/drafts", **headers: str) -> requests.Response:
    text = document if isinstance(document, str) else json.dumps(document)
    return http(
        "POST",
        economic.base_url + path,
        data=text,
        headers={**HEADERS, "Content-Type": "application/json", **headers},
    )


def errors_of(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["errorCode"] == "E04300"
    assert answer["developerHint"] == "Inspect validation errors and correct your request."
    assert answer["httpStatusCode"] == 400
    assert answer["logId"]
    assert answer["logTime"]
    errors: dict[str, Any] = answer["errors"]
    return errors


def line_errors(errors: dict[str, Any], index: int) -> dict[str, Any]:
    item: dict[str, Any] = next(i for i in errors["lines"]["items"] if i["arrayIndex"] == index)
    return item


# --- validation -------------------------------------------------------------------------------------


def test_a_valid_body_is_created_with_the_server_s_prices(economic: EconomicStandin) -> None:
    response = post(economic, body())
    assert response.status_code == 201
    created = response.json()
    assert created["draftInvoiceNumber"] == 1
    assert response.headers["Location"] == created["self"] == f"{economic.base_url}/invoices/drafts/1"
    assert (created["netAmount"], created["vatAmount"], created["grossAmount"]) == (200.0, 50.0, 250.0)
    assert created["paymentTerms"]["daysOfCredit"] == 14
    assert created["dueDate"] == "2026-11-15"
    assert created["recipient"]["vatZone"]["name"] == "Domestic"
    assert '"netAmount":200.00' in response.text  # money written as decimals, never through float


def test_what_the_schema_refuses_is_refused(economic: EconomicStandin) -> None:
    document = body(currency="DK", date="01.11.2026")
    del document["customer"]
    document["references"]["other"] = "x" * 251

    errors = errors_of(post(economic, document))

    assert errors["customer"]["errors"][0] == {
        "propertyName": "customer",
        "errorMessage": "Property customer is required.",
        "errorCode": "E04010",
    }
    assert errors["currency"]["errors"][0]["inputValue"] == "DK"
    assert errors["date"]["errors"][0]["propertyName"] == "date"
    assert errors["references"]["other"]["errors"][0]["errorMessage"].startswith("String is longer")
    assert economic.agreement(GRANT).invoice_drafts == {}


def test_null_is_refused_anywhere(economic: EconomicStandin) -> None:
    document = body(notes=None)
    document["lines"][0]["description"] = None

    errors = errors_of(post(economic, document))

    assert errors["notes"]["errors"][0]["errorCode"] == "E04020"
    assert line_errors(errors, 0)["description"]["errors"][0]["propertyName"] == "description"
    assert post(economic, body()).status_code == 201  # the same body without the nulls is fine


def test_more_decimals_than_the_schema_allows_are_refused(economic: EconomicStandin) -> None:
    document = body(exchangeRate=100.1234567)
    document["lines"][0]["unitNetPrice"] = 1.005
    document["lines"].append({"product": {"productNumber": "1"}, "quantity": 1.5, "unitNetPrice": 10.50})

    response = post(economic, document)
    errors = errors_of(response)

    assert response.json()["message"] == "Validation failed. 2 errors found."
    assert line_errors(errors, 0)["unitNetPrice"]["errors"][0] == {
        "propertyName": "unitNetPrice",
        "errorMessage": "unitNetPrice scale cannot be greater than 2 decimal places.",
        "errorCode": "E04740",
        "inputValue": 1.005,
        "developerHint": "Please check the format of your data.",
    }
    assert errors["exchangeRate"]["errors"][0]["errorCode"] == "E04740"  # maxDecimal 6
    assert all(i["arrayIndex"] != 1 for i in errors["lines"]["items"])  # 1.5 and 10.50 are fine


def test_references_must_exist(economic: EconomicStandin) -> None:
    economic.agreement(GRANT).add_layout(30, "Gone", deleted=True)
    document = body(
        customer={"customerNumber": 99},
        layout={"layoutNumber": 30},
        paymentTerms={"paymentTermsNumber": 9},
        currency="XYZ",
        recipient={"name": "A", "vatZone": {"self": "https://restapi.e-conomic.com/vat-zones/8"}},
    )
    document["lines"] = [
        {"product": {"productNumber": "NOPE"}, "quantity": 1},
        {"quantity": 1, "unitNetPrice": 5},
        {"product": {"productNumber": "1"}},
        {"description": "A text line needs nothing else"},
        {"product": {}, "quantity": 1},
    ]

    errors = errors_of(post(economic, document))

    assert errors["customer"]["errors"][0]["errorMessage"] == "Customer '99' not found."
    assert errors["customer"]["errors"][0]["errorCode"] == "E06000"
    assert errors["layout"]["errors"][0]["inputValue"] == 30
    assert errors["paymentTerms"]["errors"][0]["inputValue"] == 9
    assert errors["recipient"]["vatZone"]["errors"][0]["inputValue"] == 8
    assert errors["currency"]["errors"][0]["errorMessage"] == "Currency 'XYZ' does not exist."
    assert line_errors(errors, 0)["product"]["errors"][0]["errorMessage"] == "Product 'NOPE' not found."
    assert line_errors(errors, 1)["product"]["errors"][0]["errorCode"] == "E04730"
    assert line_errors(errors, 2)["quantity"]["errors"][0]["errorCode"] == "E04730"
    assert line_errors(errors, 4)["product"]["errors"][0]["errorCode"] == "E04500"
    assert all(i["arrayIndex"] != 3 for i in errors["lines"]["items"])


def test_json_only(economic: EconomicStandin) -> None:
    response = http(
        "POST",
        economic.base_url + "/invoices/drafts",
        data="date=2026-11-01",
        headers={**HEADERS, "Content-Type": "text/plain"},
    )
    assert response.status_code == 415


# --- auth, rate, idempotency ------------------------------------------------------------------------


def test_both_tokens_are_required(economic: EconomicStandin) -> None:
    for headers in (
        {},
        {"X-AppSecretToken": APP},
        {"X-AgreementGrantToken": GRANT},
        {**HEADERS, "X-AppSecretToken": "x"},
    ):
        response = http("GET", economic.base_url + "/customers", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["demoLink"].endswith("/customers?demo=true")
        assert "X-RateLimiting" not in response.headers
    assert (
        http("GET", economic.base_url + "/customers", headers={**HEADERS, "X-AgreementGrantToken": "g2"}).status_code
        == 401
    )
    assert all(seen.headers.get("X-AppSecretToken") in (None, "<redacted>") for seen in economic.log)


def test_a_read_only_agreement_refuses_writes(economic: EconomicStandin) -> None:
    economic.agreement(GRANT).read_only = True
    assert post(economic, body()).status_code == 403
    assert http("GET", economic.base_url + "/customers", headers=HEADERS).status_code == 200


def test_the_token_bucket_reports_and_refuses(clock: FakeClock) -> None:
    with EconomicStandin(
        app_secret_token=APP, grant_tokens={"t": GRANT}, rate_limit=3, rate_window=60, clock=clock
    ) as economic:
        answers = [http("GET", economic.base_url + "/layouts", headers=HEADERS) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["X-RateLimiting"] for a in answers] == [
            "token-limit-3-per-60-seconds: 1/3",
            "token-limit-3-per-60-seconds: 2/3",
            "token-limit-3-per-60-seconds: 3/3",
            "token-limit-3-per-60-seconds: 3/3",
        ]
        assert answers[3].headers["Retry-After"] == "20"
        assert answers[0].headers["X-CallCost"] == "1"
        assert economic.rate_refusals == 1
        assert economic.max_tokens_used == 3
        clock.now += 20  # one token back
        assert http("GET", economic.base_url + "/layouts", headers=HEADERS).status_code == 200


def test_an_idempotency_key_replays_the_first_answer_for_an_hour(economic: EconomicStandin, clock: FakeClock) -> None:
    first = post(economic, body(), **{"Idempotency-Key": "k-1"})
    replay = post(economic, body(references={"other": "different"}), **{"Idempotency-Key": "k-1"})
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["X-ResultFromCache"] == "true"
    assert "X-ResultFromCache" not in first.headers
    refused = post(economic, body(customer={"customerNumber": 77}), **{"Idempotency-Key": "k-2"})
    assert post(economic, body(), **{"Idempotency-Key": "k-2"}).json() == refused.json()  # refusals replay too
    clock.now += 3601
    assert post(economic, body(), **{"Idempotency-Key": "k-1"}).json()["draftInvoiceNumber"] == 2


def test_delete_answers_like_economic_and_numbers_are_reused(economic: EconomicStandin) -> None:
    for _ in range(3):
        post(economic, body())
    deleted = http("DELETE", economic.base_url + "/invoices/drafts/2", headers=HEADERS)
    assert deleted.status_code == 200
    assert deleted.json() == {
        "message": "Deleted invoice.",
        "deletedCount": 1,
        "deletedItems": [{"draftInvoiceNumber": 2, "self": f"{economic.base_url}/invoices/drafts/2"}],
    }
    missing = http("DELETE", economic.base_url + "/invoices/drafts/2", headers=HEADERS)
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "E06000"
    assert post(economic, body()).json()["draftInvoiceNumber"] == 2
    assert post(economic, body()).json()["draftInvoiceNumber"] == 4


def test_deleting_a_whole_drafts_collection_is_recorded_as_forbidden(economic: EconomicStandin) -> None:
    post(economic, body())
    for path in ("/invoices/drafts", "/invoices/drafts/"):
        assert http("DELETE", economic.base_url + path, headers=HEADERS).status_code == 400
    assert [seen.path for seen in economic.forbidden_calls] == ["/invoices/drafts", "/invoices/drafts"]
    assert list(economic.agreement(GRANT).invoice_drafts) == [1]


def test_injected_failures(economic: EconomicStandin) -> None:
    economic.fail_next(503, times=2, retry_after=3, path_contains="/layouts")
    statuses = [
        http("GET", economic.base_url + p, headers=HEADERS) for p in ("/customers", "/layouts", "/layouts", "/layouts")
    ]
    assert [r.status_code for r in statuses] == [200, 503, 503, 200]
    assert statuses[1].headers["Retry-After"] == "3"
    economic.fail_on_create(2, status=400)
    assert [post(economic, body()).status_code for _ in range(3)] == [201, 400, 201]
    assert sorted(economic.agreement(GRANT).invoice_drafts) == [1, 2]
    economic.drop_after_create()
    with pytest.raises(requests.ConnectionError):
        post(economic, body())
    assert sorted(economic.agreement(GRANT).invoice_drafts) == [1, 2, 3]
    assert economic.count("POST", "/invoices/drafts") == 4


# --- collections ------------------------------------------------------------------------------------


def test_collections_page_and_filter(economic: EconomicStandin) -> None:
    for n in range(4, 26):
        economic.agreement(GRANT).add_customer(n, f"Customer {n}", group=2 if n % 2 else 1)

    page = http("GET", economic.base_url + "/customers", headers=HEADERS, params={"skippages": 1}).json()
    assert [c["customerNumber"] for c in page["collection"]] == [21, 22, 23, 24, 25]
    pagination = page["pagination"]
    assert {
        k: pagination[k] for k in ("skipPages", "pageSize", "maxPageSizeAllowed", "results", "resultsWithoutFilter")
    } == {
        "skipPages": 1,
        "pageSize": 20,
        "maxPageSizeAllowed": 1000,
        "results": 25,
        "resultsWithoutFilter": 25,
    }
    assert "nextPage" not in pagination
    assert pagination["lastPage"].endswith("skippages=1&pagesize=20")

    filtered = http(
        "GET",
        economic.base_url + "/customers",
        headers=HEADERS,
        params={
            "filter": "customerGroup.customerGroupNumber$eq:2$and:(customerNumber$lt:8$or:name$like:*24)",
            "pagesize": 2,
        },
    ).json()
    assert [c["customerNumber"] for c in filtered["collection"]] == [2, 3]
    assert filtered["pagination"]["results"] == 4
    assert filtered["pagination"]["resultsWithoutFilter"] == 25
    assert "filter=" in filtered["pagination"]["nextPage"]

    refused = http("GET", economic.base_url + "/customers", headers=HEADERS, params={"filter": "layout$eq:19"})
    assert refused.status_code == 400
    assert refused.json()["errors"] == ["Filtering is not allowed on property 'layout'."]
    assert "customerNumber" in refused.json()["allowedFilteringFields"]
    assert http("GET", economic.base_url + "/customers", headers=HEADERS, params={"pagesize": 1001}).status_code == 400


def test_filter_syntax() -> None:
    allowed = ["customerNumber", "name", "references.other", "ean"]
    doc = {"customerNumber": 5, "name": "Ab (Cd) * $5, [x]", "references": {"other": "IB-7"}}

    def ok(text: str) -> bool:
        return matches(doc, parse_filter(text, allowed))

    assert ok("customerNumber$eq:5")
    assert ok("customerNumber$gte:5")
    assert not ok("customerNumber$gt:5")
    assert ok("customerNumber$in:[2,5,7]")
    assert not ok("customerNumber$nin:[2,5,7]")
    assert ok("references.other$eq:ib-7")  # strings compare without case
    assert ok("name$eq:ab $(cd$) $* $$5$, $[x$]")  # escapes
    assert ok("name$like:ab*")
    assert ok("name$like:cd")
    assert not ok("name$like:$*x")
    assert ok("ean$eq:$null:")
    assert not ok("ean$ne:$null:")
    assert ok("customerNumber$eq:1$or:customerNumber$eq:5$and:name$like:ab")
    assert not ok("(customerNumber$eq:1$or:customerNumber$eq:5)$and:name$like:zz")
    for bad in ("address$eq:x", "name$eq:(x", "name$foo:x", "customerNumber$in:[a]", "name"):
        with pytest.raises(FilterError):
            parse_filter(bad, allowed)


def test_product_numbers_in_urls_use_economic_s_encoding(economic: EconomicStandin) -> None:
    number = "My Awesome Product_Discount5%"
    assert encode_self_id(number) == "My_9_Awesome_9_Product_8_Discount5_3_"
    assert decode_self_id(encode_self_id(number)) == number
    economic.agreement(GRANT).add_product(number, "Discounted")
    found = http("GET", f"{economic.base_url}/products/{encode_self_id(number)}", headers=HEADERS)
    assert found.status_code == 200
    assert found.json()["productNumber"] == number
