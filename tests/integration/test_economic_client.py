"""`shared.adapters.economic.EconomicClient` against the e-conomic stand-in (standins/economic/),
over real HTTP on 127.0.0.1. Retries sleep through an injected recorder, except where a test is about
real time (rate pacing, timeouts)."""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from shared.adapters.economic import (
    EconomicAuthError,
    EconomicClient,
    EconomicKeySpent,
    EconomicNotFound,
    EconomicRejected,
    EconomicUnavailable,
    document_number,
    dumps,
)
from shared.platform.secrets import SecretValue
from standins.economic import Agreement, EconomicStandin
from tests.support.reference import economic_schema_dir

APP = "app-secret-5c1e9b7d"
GRANT = "grant-tenant-a-8f2d61aa"
OTHER_GRANT = "grant-tenant-b-03b7c4e1"


class Tokens:
    """The `tokens` callable: remembers whether each call forced a refresh; `after_refresh` is what a
    forced refresh hands out (a rotated token)."""

    def __init__(self, app: str = APP, grant: str = GRANT, *, after_refresh: tuple[str, str] | None = None) -> None:
        self.current = (app, grant)
        self.after_refresh = after_refresh
        self.calls: list[bool] = []

    def __call__(self, refresh: bool) -> tuple[SecretValue, SecretValue]:
        self.calls.append(refresh)
        if refresh and self.after_refresh is not None:
            self.current = self.after_refresh
        return SecretValue(self.current[0]), SecretValue(self.current[1])


class Sleeps:
    """An injected `sleep` that records instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.calls.append(seconds)


@pytest.fixture
def economic() -> Iterator[EconomicStandin]:
    with EconomicStandin(
        app_secret_token=APP,
        grant_tokens={"tenant-a": GRANT, "tenant-b": OTHER_GRANT},
        schema_dir=economic_schema_dir(),
    ) as standin:
        standin.agreement(GRANT).seed_defaults()
        yield standin


@pytest.fixture
def agreement(economic: EconomicStandin) -> Agreement:
    return economic.agreement(GRANT)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client_for(economic: EconomicStandin, tokens: Tokens | None = None, **options: Any) -> EconomicClient:
    return EconomicClient(tokens or Tokens(), base_url=economic.base_url, **options)


@pytest.fixture
def client(economic: EconomicStandin, sleeps: Sleeps) -> EconomicClient:
    return client_for(economic, sleep=sleeps)


def invoice(reference: str = "IB-1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": "2026-11-01",
        "currency": "DKK",
        "customer": {"customerNumber": 1},
        "recipient": {"name": "Acme A/S", "vatZone": {"vatZoneNumber": 1}},
        "paymentTerms": {"paymentTermsNumber": 1},
        "layout": {"layoutNumber": 19},
        "references": {"other": reference},
        "lines": [
            {
                "lineNumber": 1,
                "description": "Patched the mail server",
                "product": {"productNumber": "1"},
                "quantity": Decimal("1.25"),
                "unitNetPrice": Decimal("950.00"),
            },
            {
                "lineNumber": 2,
                "description": "Mileage",
                "product": {"productNumber": "KM"},
                "quantity": Decimal("37"),
                "unitNetPrice": Decimal("3.51"),
            },
        ],
    }
    body.update(changes)
    return body


# --- creating documents -----------------------------------------------------------------------------


def test_a_draft_invoice_is_created_and_priced_exactly(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient
) -> None:
    created = client.create_draft("draftInvoice", invoice(), idempotency_key="job-1-draft-1")

    assert document_number("draftInvoice", created) == 1
    # 1.25 x 950.00 + 37 x 3.51 = 1187.50 + 129.87; VAT 25 % in the domestic zone. Decimal all the way.
    assert created["netAmount"] == Decimal("1317.37")
    assert created["vatAmount"] == Decimal("329.34")
    assert created["grossAmount"] == Decimal("1646.71")
    assert isinstance(created["netAmount"], Decimal)
    # What reached e-conomic is the decimal text we meant, not a float's rendering of it.
    sent = economic.log[-1].body
    assert str(sent["lines"][0]["unitNetPrice"]) == "950.00"
    assert str(sent["lines"][0]["quantity"]) == "1.25"
    assert economic.log[-1].headers["Idempotency-Key"] == "job-1-draft-1"
    assert economic.log[-1].headers["Content-Type"] == "application/json"
    # Read back: the whole document, lines included.
    again = client.get_draft("draftInvoice", 1)
    assert again is not None
    assert [line["totalNetAmount"] for line in again["lines"]] == [
        Decimal("1187.50"),
        Decimal("129.87"),
    ]
    assert list(agreement.invoice_drafts) == [1]
    assert agreement.order_drafts == {}


def test_an_order_is_created_in_the_orders_collection(agreement: Agreement, client: EconomicClient) -> None:
    created = client.create_draft("order", invoice("IB-2"), idempotency_key="job-1-order-2")

    assert document_number("order", created) == 1
    assert created["self"].endswith("/orders/drafts/1")
    assert list(agreement.order_drafts) == [1]
    assert agreement.invoice_drafts == {}
    assert client.get_draft("order", 1) is not None
    assert client.get_draft("draftInvoice", 1) is None


def test_the_catalog_helpers_read_every_page(agreement: Agreement, client: EconomicClient) -> None:
    agreement.add_layout(30, "Retired layout", deleted=True)
    assert set(client.customers()) == {1, 2, 3}
    assert client.customers()[2]["currency"] == "EUR"
    assert client.customer_groups()[1]["layout"]["layoutNumber"] == 19
    assert set(client.layouts()) == {19, 21}  # the deleted one cannot be used
    assert set(client.products()) == {"1", "2", "KM"}


# --- refusals ---------------------------------------------------------------------------------------


def test_a_validation_refusal_names_each_field(economic: EconomicStandin, client: EconomicClient) -> None:
    body = invoice()
    body["recipient"] = {"vatZone": {"vatZoneNumber": 1}}  # no name
    body["lines"][0]["product"] = {"productNumber": "99"}
    body["lines"][1]["unitNetPrice"] = Decimal("3.515")

    with pytest.raises(EconomicRejected) as caught:
        client.create_draft("draftInvoice", body, idempotency_key="job-2-draft-1")

    error = caught.value
    assert error.status == 400
    assert error.error_code == "E04300"
    assert error.log_id
    assert "lines[0].product: Product '99' not found." in error.problems
    assert any(
        p.startswith("lines[1].unitNetPrice: unitNetPrice scale cannot be greater than 2") for p in error.problems
    )
    assert "recipient.name: Property name is required." in error.problems
    assert "Validation failed. 3 errors found." in str(error)
    assert "lines[0].product" in str(error)
    assert len(str(error)) <= 500
    assert economic.count("POST", "/invoices/drafts") == 1  # a refusal is not retried
    assert economic.agreement(GRANT).invoice_drafts == {}


def test_an_unknown_customer_or_layout_is_refused_by_economic(client: EconomicClient) -> None:
    with pytest.raises(EconomicRejected) as caught:
        client.create_draft(
            "draftInvoice",
            invoice(customer={"customerNumber": 404}, layout={"layoutNumber": 7}),
            idempotency_key="job-3",
        )
    assert "customer: Customer '404' not found." in caught.value.problems
    assert "layout: Layout '7' not found." in caught.value.problems


def test_null_and_float_are_refused_before_anything_is_sent(economic: EconomicStandin, client: EconomicClient) -> None:
    with pytest.raises(ValueError, match=r"body\.notes: e-conomic refuses null"):
        client.create_draft("draftInvoice", invoice(notes=None), idempotency_key="k")
    body = invoice()
    body["lines"][0]["quantity"] = 1.25
    with pytest.raises(TypeError, match=r"body\.lines\[0\]\.quantity: use Decimal"):
        client.create_draft("draftInvoice", body, idempotency_key="k")
    assert economic.log == []


def test_a_missing_draft_is_none_and_a_missing_path_is_not_found(client: EconomicClient) -> None:
    assert client.get_draft("draftInvoice", 77) is None
    with pytest.raises(EconomicNotFound) as caught:
        client.get("/customers/404")
    assert caught.value.status == 404
    assert caught.value.error_code == "E06000"


# --- idempotency and numbers ------------------------------------------------------------------------


def test_the_same_idempotency_key_gives_the_same_document_once(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient
) -> None:
    first = client.create_draft("draftInvoice", invoice(), idempotency_key="job-4-draft-1")
    second = client.create_draft("draftInvoice", invoice(), idempotency_key="job-4-draft-1")

    assert second == first
    assert list(agreement.invoice_drafts) == [1]
    assert [seen.from_cache for seen in economic.log] == [False, True]


def test_a_create_whose_answer_is_lost_is_reported_not_repeated(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient, sleeps: Sleeps
) -> None:
    economic.drop_after_create()  # stored, then the connection closes without an answer

    with pytest.raises(EconomicUnavailable, match=r"POST /invoices/drafts \(connection failed\); the document may"):
        client.create_draft("draftInvoice", invoice("IB-5"), idempotency_key="job-5-draft-5")

    # Not posted again blindly: the caller finds the document by its reference ...
    assert economic.count("POST", "/invoices/drafts") == 1
    assert sleeps.calls == []
    assert [document_number("draftInvoice", d) for d in client.find_drafts("draftInvoice", "IB-5")] == [1]
    # ... and a deliberate repeat with the same key is answered with the first answer, not a second draft.
    again = client.create_draft("draftInvoice", invoice("IB-5"), idempotency_key="job-5-draft-5")
    assert document_number("draftInvoice", again) == 1
    assert list(agreement.invoice_drafts) == [1]
    assert economic.log[-1].from_cache


def test_a_create_that_times_out_after_being_stored_is_reported_quickly(
    economic: EconomicStandin, agreement: Agreement, sleeps: Sleeps
) -> None:
    economic.drop_after_create(hang=5)  # stored, then no answer for longer than the read timeout
    client = client_for(economic, sleep=sleeps, timeout=(2, 0.3))

    started = time.monotonic()
    with pytest.raises(EconomicUnavailable, match=r"\(timed out\); the document may have been created"):
        client.create_draft("draftInvoice", invoice("IB-6"), idempotency_key="job-6-draft-6")

    assert time.monotonic() - started < 2
    assert list(agreement.invoice_drafts) == [1]
    assert [document_number("draftInvoice", d) for d in client.find_drafts("draftInvoice", "IB-6")] == [1]


def test_a_delete_that_fails_on_the_server_is_repeated_with_its_key(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient, sleeps: Sleeps
) -> None:
    client.create_draft("draftInvoice", invoice(), idempotency_key="c-1")
    economic.fail_next(502, method="DELETE")

    client.delete_draft("draftInvoice", 1, idempotency_key="d-1")

    assert agreement.invoice_drafts == {}
    assert [seen.status for seen in economic.log if seen.method == "DELETE"] == [502, 200]
    assert len(sleeps.calls) == 1


def test_a_create_that_may_have_been_stored_is_not_posted_again_blindly(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient
) -> None:
    economic.fail_on_create(1, status=500)

    with pytest.raises(EconomicUnavailable, match="may have been created") as caught:
        client.create_draft("draftInvoice", invoice(), idempotency_key="job-7-draft-1")

    assert caught.value.status == 500
    assert [seen.status for seen in economic.log] == [500]  # the caller looks it up by reference first


def test_a_503_on_create_replayed_from_the_key_s_cache_spends_the_key(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient
) -> None:
    # e-conomic replays a key's first answer for an hour, `X-ResultFromCache: true` (its OpenAPI
    # description, apis.e-conomic.com); nothing leaves errors out (issue 15 item 13). Retrying the same
    # key could only get the 503 again: the caller is told, to look up and use a fresh key.
    economic.fail_on_create(1, status=503)

    with pytest.raises(EconomicKeySpent, match="replayed from e-conomic's cache") as caught:
        client.create_draft("draftInvoice", invoice(), idempotency_key="job-7-draft-1")

    assert caught.value.status == 503
    assert agreement.invoice_drafts == {}
    assert [(seen.status, seen.from_cache) for seen in economic.log] == [(503, False), (503, True)]
    created = client.create_draft("draftInvoice", invoice(), idempotency_key="job-7-draft-1-2")
    assert document_number("draftInvoice", created) == 1


def test_numbers_are_reused_after_a_delete(agreement: Agreement, client: EconomicClient) -> None:
    agreement.numbering = "lowest-free"  # one of the numberings e-conomic may use (standins/economic/orders.py)
    for n in (1, 2, 3):
        client.create_draft("draftInvoice", invoice(f"IB-{n}"), idempotency_key=f"create-{n}")

    client.delete_draft("draftInvoice", 2, idempotency_key="delete-2")
    reused = client.create_draft("draftInvoice", invoice("IB-4"), idempotency_key="create-4")

    # Number 2 now belongs to another document: a number alone does not identify our draft.
    assert document_number("draftInvoice", reused) == 2
    assert agreement.invoice_drafts[2]["references"]["other"] == "IB-4"
    assert sorted(agreement.invoice_drafts) == [1, 2, 3]


def test_a_repeated_delete_with_its_key_does_not_delete_the_reused_number(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient
) -> None:
    client.create_draft("draftInvoice", invoice("IB-1"), idempotency_key="create-1")
    client.delete_draft("draftInvoice", 1, idempotency_key="delete-1")
    client.create_draft("draftInvoice", invoice("IB-2"), idempotency_key="create-2")  # gets number 1 again

    client.delete_draft("draftInvoice", 1, idempotency_key="delete-1")  # a retry of the first delete

    assert agreement.invoice_drafts[1]["references"]["other"] == "IB-2"
    assert economic.log[-1].from_cache


def test_deleting_a_draft_that_is_gone_is_not_an_error(economic: EconomicStandin, client: EconomicClient) -> None:
    client.delete_draft("order", 9, idempotency_key="delete-9")
    assert economic.answered(404) == 1


def test_find_drafts_matches_the_reference_exactly(client: EconomicClient) -> None:
    for n, reference in enumerate(("IB-7", "ib-7", "IB-(8)*,[x]$", "IB-70"), start=1):
        client.create_draft("draftInvoice", invoice(reference), idempotency_key=f"c-{n}")

    # e-conomic's filter ignores case ("IB-7" finds "ib-7" too); the client keeps the exact match only.
    assert [d["draftInvoiceNumber"] for d in client.find_drafts("draftInvoice", "IB-7")] == [1]
    assert [d["draftInvoiceNumber"] for d in client.find_drafts("draftInvoice", "IB-(8)*,[x]$")] == [3]
    assert client.find_drafts("draftInvoice", "IB-9") == []
    assert client.find_drafts("order", "IB-7") == []


def test_find_drafts_from_a_prefix_keeps_the_exact_prefix(economic: EconomicStandin, client: EconomicClient) -> None:
    # `$like:` with a trailing `*` is a prefix match, case ignored (e-conomic/slate@8abdb42
    # source/includes/_introduction.md, "Substring matching"); special characters are escaped.
    references = ("IB-a$(*),-1", "IB-a$(*),-2", "ib-A$(*),-3", "X-IB-a$(*),-4", "IB-a$(*),", "IB-b-5", "IB-[a]-6")
    for n, reference in enumerate(references, start=1):
        client.create_draft("draftInvoice", invoice(reference), idempotency_key=f"c-{n}")

    found = client.find_drafts_from("draftInvoice", "IB-a$(*),-")
    assert [d["draftInvoiceNumber"] for d in found] == [1, 2]
    assert client.find_drafts_from("order", "IB-") == []
    assert [d["references"]["other"] for d in client.find_drafts_from("draftInvoice", "IB-[a]-")] == ["IB-[a]-6"]
    sent = [seen.query.get("filter") for seen in economic.log if seen.method == "GET"]
    assert not any("$[" in (f or "") or "$]" in (f or "") for f in sent), sent


def test_find_drafts_from_pages_in_document_number_order(economic: EconomicStandin, client: EconomicClient) -> None:
    # Sorted by number, sortable on both collections (e-conomic/slate@8abdb42 source/includes/_invoices.md
    # and _orders.md, "Sortable properties"; the stand-in answers 400 to a sort the schema does not allow):
    # a draft added while the pages are read only pushes later ones forward, it never hides one.
    for n in range(1, 4):
        client.create_draft("draftInvoice", invoice(f"IB-s-{n}"), idempotency_key=f"c-{n}")

    assert [d["draftInvoiceNumber"] for d in client.find_drafts_from("draftInvoice", "IB-s-")] == [1, 2, 3]
    assert client.find_drafts_from("order", "IB-s-") == []
    sorts = [(seen.path, seen.query.get("sort"), seen.status) for seen in economic.log if seen.method == "GET"]
    assert sorts == [("/invoices/drafts", "draftInvoiceNumber", 200), ("/orders/drafts", "orderNumber", 200)]


def test_delete_of_a_whole_drafts_collection_is_never_sent(economic: EconomicStandin, client: EconomicClient) -> None:
    client.create_draft("draftInvoice", invoice(), idempotency_key="c-1")
    for path in ("/invoices/drafts", "/invoices/drafts/", "/orders/drafts", "/invoices/drafts?filter=x"):
        with pytest.raises(ValueError, match="without a document number"):
            client.delete(path, idempotency_key="oops")
    for number in (0, -1, True):
        with pytest.raises(ValueError, match="not a document number"):
            client.delete_draft("draftInvoice", number, idempotency_key="oops")
    assert economic.forbidden_calls == []
    assert economic.count("DELETE", "/invoices/drafts") == 0
    assert list(economic.agreement(GRANT).invoice_drafts) == [1]


# --- retries ----------------------------------------------------------------------------------------


def test_a_429_storm_is_ridden_out_honouring_retry_after(
    economic: EconomicStandin, client: EconomicClient, sleeps: Sleeps
) -> None:
    economic.fail_next(429, times=3, retry_after=7)

    assert set(client.customers()) == {1, 2, 3}

    assert economic.count("GET", "/customers") == 4
    assert len(sleeps.calls) == 3
    assert all(7 <= s < 8 for s in sleeps.calls), sleeps.calls


def test_server_errors_are_retried_with_backoff_then_unavailable(economic: EconomicStandin, sleeps: Sleeps) -> None:
    economic.fail_next(503, times=100)
    client = client_for(economic, sleep=sleeps, max_attempts=5, backoff=0.5, max_backoff=2)

    with pytest.raises(EconomicUnavailable) as caught:
        client.get("/layouts")

    assert economic.count("GET", "/layouts") == 5
    assert "GET /layouts" in str(caught.value)
    assert "503" in str(caught.value)
    assert "5 attempts" in str(caught.value)
    assert caught.value.status == 503
    caps = [0.5, 1, 2, 2]  # doubling, capped at max_backoff
    assert len(sleeps.calls) == 4
    assert all(cap / 2 <= s <= cap for s, cap in zip(sleeps.calls, caps, strict=True)), sleeps.calls


def test_a_passing_server_error_is_retried(economic: EconomicStandin, client: EconomicClient) -> None:
    economic.fail_next(500, times=2)
    assert set(client.layouts()) == {19, 21}
    assert economic.count("GET", "/layouts") == 3


def test_no_answer_at_all_is_unavailable(economic: EconomicStandin, sleeps: Sleeps) -> None:
    client = client_for(economic, sleep=sleeps, max_attempts=3)
    economic.stop()
    with pytest.raises(EconomicUnavailable, match=r"did not answer GET /customers after 3 attempts \(last: connection"):
        client.customers()
    assert len(sleeps.calls) == 2


# --- authentication ---------------------------------------------------------------------------------


def test_a_401_refreshes_the_tokens_once_and_retries(economic: EconomicStandin, sleeps: Sleeps) -> None:
    tokens = Tokens(grant="grant-that-was-rotated", after_refresh=(APP, GRANT))
    client = client_for(economic, tokens, sleep=sleeps)

    assert set(client.layouts()) == {19, 21}

    assert tokens.calls == [False, True]
    assert [seen.status for seen in economic.log] == [401, 200]
    assert sleeps.calls == []


def test_tokens_refused_after_a_refresh_are_an_auth_error(economic: EconomicStandin) -> None:
    tokens = Tokens(app="app-secret-revoked-77aa")
    client = client_for(economic, tokens)

    with pytest.raises(EconomicAuthError) as caught:
        client.customers()

    assert tokens.calls == [False, True]
    assert [seen.status for seen in economic.log] == [401, 401]
    assert caught.value.status == 401
    assert "X-AppSecretToken is not valid" in str(caught.value)


def test_a_403_is_an_auth_error_without_retrying(economic: EconomicStandin, agreement: Agreement) -> None:
    agreement.read_only = True
    tokens = Tokens()
    with pytest.raises(EconomicAuthError) as caught:
        client_for(economic, tokens).create_draft("draftInvoice", invoice(), idempotency_key="k")
    assert caught.value.status == 403
    assert tokens.calls == [False]
    assert len(economic.log) == 1


def test_tokens_never_show_in_errors_or_logs(
    economic: EconomicStandin, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = ("app-secret-wrong-ba5e", "grant-wrong-c0ffee")
    errors: list[BaseException] = []
    client = client_for(economic, Tokens(*secrets), sleep=sleeps, max_attempts=2)
    with pytest.raises(EconomicAuthError) as caught:
        client.customers()
    errors.append(caught.value)
    good = client_for(economic, sleep=sleeps, max_attempts=2)
    with pytest.raises(EconomicRejected) as refused:
        good.create_draft("draftInvoice", invoice(customer={"customerNumber": 5}), idempotency_key="k")
    errors.append(refused.value)
    economic.fail_next(503, times=5)
    with pytest.raises(EconomicUnavailable) as unavailable:
        good.customers()
    errors.append(unavailable.value)
    economic.stop()
    with pytest.raises(EconomicUnavailable) as unreachable:
        good.customers()
    errors.append(unreachable.value)

    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(client), caplog.text]
    texts += [str(e.__cause__) for e in errors] + [str(e.__context__) for e in errors]
    for secret in (*secrets, APP, GRANT):
        assert all(secret not in text for text in texts), secret
    assert unreachable.value.__cause__ is None  # requests' exception (which holds the headers) is not kept


# --- paging and rate --------------------------------------------------------------------------------


def test_get_all_pages_through_a_collection(economic: EconomicStandin, sleeps: Sleeps) -> None:
    other = economic.agreement(OTHER_GRANT)
    for number in range(1, 46):
        other.add_customer(number, f"Customer {number}")
    client = client_for(economic, Tokens(grant=OTHER_GRANT), sleep=sleeps)

    customers = client.get_all("/customers", pagesize=10)

    assert [c["customerNumber"] for c in customers] == list(range(1, 46))
    assert [seen.query["skippages"] for seen in economic.log] == ["0", "1", "2", "3", "4"]
    assert {seen.query["pagesize"] for seen in economic.log} == {"10"}
    with pytest.raises(ValueError, match="pagesize"):
        client.get_all("/customers", pagesize=1001)


def test_the_rate_budget_is_never_exceeded_under_concurrency() -> None:
    with EconomicStandin(
        app_secret_token=APP,
        grant_tokens={"t": GRANT},
        rate_limit=30,
        rate_window=2,
        schema_dir=economic_schema_dir(),
    ) as economic:
        economic.agreement(GRANT).seed_defaults()
        # Control: a client that ignores X-RateLimiting runs into 429s at this budget.
        headers = {"X-AppSecretToken": APP, "X-AgreementGrantToken": GRANT}
        with requests.Session() as raw:
            statuses = [raw.get(f"{economic.base_url}/layouts", headers=headers).status_code for _ in range(40)]
        assert 429 in statuses
        time.sleep(2.1)  # the bucket refills
        economic.reset_log()
        refusals_before = economic.rate_refusals
        client = client_for(economic)

        started = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda _: client.get("/layouts/19"), range(60)))
        elapsed = time.monotonic() - started

        assert len(results) == 60
        assert economic.answered(429) == 0
        assert economic.rate_refusals == refusals_before
        assert economic.count("GET", "/layouts/{number}") == 60
        assert economic.max_tokens_used <= 30
        assert client.rate_waited > 0
        # 60 calls at 15 tokens/s with a 27-token head start cannot take less than ~2 s.
        assert elapsed >= 1.8


def test_pacing_costs_nothing_far_from_the_limit(economic: EconomicStandin, sleeps: Sleeps) -> None:
    client = client_for(economic, sleep=sleeps)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.get("/products/KM"), range(200)))
    assert sleeps.calls == []
    assert client.rate_waited == 0
    assert economic.count("GET", "/products/{number}") == 200
    assert economic.answered(200) == 200


def test_concurrent_creates_get_distinct_numbers(economic: EconomicStandin, agreement: Agreement) -> None:
    economic.latency = 0.02
    client = client_for(economic)

    def create(n: int) -> int:
        doc = client.create_draft("draftInvoice", invoice(f"IB-{n}"), idempotency_key=f"job-8-{n}")
        return document_number("draftInvoice", doc)

    with ThreadPoolExecutor(16) as pool:
        numbers = list(pool.map(create, range(1, 65)))

    assert sorted(numbers) == list(range(1, 65))
    assert economic.count("POST", "/invoices/drafts") == 64
    assert {agreement.invoice_drafts[n]["references"]["other"] for n in numbers} == {f"IB-{n}" for n in range(1, 65)}


def test_retry_after_as_an_http_date_is_honoured(
    economic: EconomicStandin, client: EconomicClient, sleeps: Sleeps
) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    economic.fail_next(503, retry_after=when)

    client.layouts()

    assert len(sleeps.calls) == 1
    assert 28 <= sleeps.calls[0] <= 31, sleeps.calls


def test_a_retry_after_beyond_reason_gives_up_at_once(
    economic: EconomicStandin, client: EconomicClient, sleeps: Sleeps
) -> None:
    economic.fail_next(429, retry_after=3600)

    with pytest.raises(EconomicUnavailable) as caught:
        client.layouts()

    assert caught.value.retry_after == 3600
    assert sleeps.calls == []
    assert economic.count("GET", "/layouts") == 1


def test_the_older_documented_error_shape_is_read_too(economic: EconomicStandin, client: EconomicClient) -> None:
    # The example of e-conomic's "Annotated errors" documentation: `message`/`value` in each error, and
    # the lines as a plain list of {"arrayIndex": ...}.
    economic.fail_next(
        400,
        body={
            "message": "Validation error.",
            "developerHint": "Inspect validation errors and correct your request.",
            "logId": "c7ca5bc2-ad2d-4639-93f9-b22ba88c97d7",
            "httpStatusCode": 400,
            "errors": {
                "currency": {
                    "errors": [{"errorCode": "E06000", "message": "currency does not exist.", "value": "ZUL"}]
                },
                "lines": [
                    {
                        "arrayIndex": 0,
                        "unitNetPrice": {
                            "errors": [
                                {
                                    "errorCode": "E04740",
                                    "message": "unitNetPrice scale cannot be greater then two decimal places.",
                                    "value": 10.12345,
                                }
                            ]
                        },
                    },
                    {"arrayIndex": 1, "product": {"errors": [{"errorCode": "E04500", "message": "No identifiers."}]}},
                ],
            },
        },
    )

    with pytest.raises(EconomicRejected) as caught:
        client.create_draft("draftInvoice", invoice(), idempotency_key="k")

    assert caught.value.problems == [
        "currency: currency does not exist. (got 'ZUL')",
        "lines[0].unitNetPrice: unitNetPrice scale cannot be greater then two decimal places. (got '10.12345')",
        "lines[1].product: No identifiers.",
    ]
    assert caught.value.log_id == "c7ca5bc2-ad2d-4639-93f9-b22ba88c97d7"


def test_a_refused_filter_names_the_property(client: EconomicClient) -> None:
    with pytest.raises(EconomicRejected) as caught:
        client.get_all("/customers", filter="bogusProp$eq:1")
    assert caught.value.problems == ["Filtering is not allowed on property 'bogusProp'."]
    assert "bogusProp" in str(caught.value)


def test_decimals_are_written_digit_for_digit() -> None:
    assert dumps({"a": Decimal("12.50"), "b": Decimal("1E+2"), "c": [Decimal("-0.01"), 3, True, "ø"]}) == (
        '{"a":12.50,"b":100,"c":[-0.01,3,true,"ø"]}'
    )
    with pytest.raises(ValueError, match="not a number"):
        dumps({"a": Decimal("NaN")})


def test_a_reference_with_brackets_is_found_without_the_escapes_e_conomic_ignores(
    economic: EconomicStandin, client: EconomicClient
) -> None:
    # e-conomic does not honour `$[`/`$]` (issue 15 item 16: such a filter matches nothing), though its 2019
    # docs list them (e-conomic/slate@8abdb42 source/includes/_introduction.md). The stand-in does the former.
    for n, reference in enumerate(("IB-[x]-7", "IB-[X]-7", "IB-x-7", "[]"), start=1):
        client.create_draft("draftInvoice", invoice(reference), idempotency_key=f"c-{n}")

    assert [d["draftInvoiceNumber"] for d in client.find_drafts("draftInvoice", "IB-[x]-7")] == [1]
    assert [d["draftInvoiceNumber"] for d in client.find_drafts("draftInvoice", "[]")] == [4]
    sent = [seen.query.get("filter") for seen in economic.log if seen.method == "GET"]
    assert not any("$[" in (f or "") or "$]" in (f or "") for f in sent), sent


def test_a_delete_whose_answer_was_lost_is_resent_only_while_the_number_is_still_ours(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient
) -> None:
    # e-conomic reuses draft numbers (the reference material's README; no numbering rule is documented):
    # by the time a DELETE whose answer was lost is sent again, the number may be someone else's draft.
    client.create_draft("draftInvoice", invoice("IB-1"), idempotency_key="create-1")

    def meanwhile() -> None:
        agreement.idempotency.clear()  # the key's answer is no longer kept (an hour passed, say)
        client.create_draft("draftInvoice", invoice("IB-2"), idempotency_key="create-2")  # takes number 1

    economic.drop_next(method="DELETE", after=meanwhile)

    client.delete_draft("draftInvoice", 1, idempotency_key="delete-1", reference="IB-1")

    assert agreement.invoice_drafts[1]["references"]["other"] == "IB-2"
    assert [seen.method for seen in economic.log if seen.method != "POST"] == ["DELETE", "GET"]  # not resent


def test_a_delete_that_is_still_ours_is_resent_with_a_fresh_key_after_a_cached_error(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient
) -> None:
    client.create_draft("draftInvoice", invoice("IB-1"), idempotency_key="create-1")
    economic.fail_next(500, method="DELETE", cached=True)

    client.delete_draft("draftInvoice", 1, idempotency_key="delete-1", reference="IB-1")

    assert agreement.invoice_drafts == {}
    deletes = [seen for seen in economic.log if seen.method == "DELETE"]
    assert [(seen.status, seen.headers["Idempotency-Key"]) for seen in deletes][-1] == (200, "delete-1-again-1")


def test_orders_are_deleted_with_e_conomic_s_204_without_a_body(
    economic: EconomicStandin, agreement: Agreement, client: EconomicClient
) -> None:
    # e-conomic/slate@8abdb42 _orders.md: DELETE /orders/drafts/:orderNumber returns 204.
    number = document_number("order", client.create_draft("order", invoice("IB-1"), idempotency_key="o-1"))

    client.delete_draft("order", number, idempotency_key="delete-o-1", reference="IB-1")

    assert agreement.order_drafts == {}
    assert economic.log[-1].status == 204


def test_a_write_to_orders_refused_for_the_inventory_module_says_what_to_do(
    agreement: Agreement, client: EconomicClient
) -> None:
    # e-conomic/slate@8abdb42 _orders.md: no /orders writes on agreements with the inventory module.
    agreement.inventory_module = True
    agreement.inventory_refusal_status = 403  # undocumented; a 403 here is not about the tokens

    with pytest.raises(EconomicRejected, match="inventory module") as caught:
        client.create_draft("order", invoice("IB-1"), idempotency_key="o-1")

    assert "documentType draftInvoice" in str(caught.value)
    assert "grant token" not in str(caught.value)
