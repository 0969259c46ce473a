"""The export's pure rules: which drafts an invoice date selects, the e-conomic documents drafts
become (amounts to the cent, grouping, layout fallbacks) and the preflight's problems."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.export.documents import document_body, document_lines, layout_for, reference, select_drafts
from shared.export.messages import decode_message
from shared.export.preflight import Catalog, preflight
from shared.invoicing.directory import Customer, Directory
from shared.invoicing.ledger import DELETED, EXPORTED, OPEN, DraftHeader, Totals
from shared.invoicing.planning import Line, Period, money
from tests.support.invoicing import BERLIN, directory
from tests.support.reference import reference_dir

NOW = datetime(2026, 11, 1, 6, tzinfo=UTC)


def header(number: int, period: str = "2026-10", status: str = OPEN, customer: int = 1, **kw: Any) -> DraftHeader:
    return DraftHeader(
        tenant="acme",
        number=number,
        status=status,  # type: ignore[arg-type]
        customer=Customer(customer, f"Customer {customer}", 5000 + customer, "b@example.com", "EUR"),
        period_from=Period.parse(kw.pop("period_from", period)),
        period_to=Period.parse(period),
        created_at=NOW,
        updated_at=NOW,
        totals=Totals(),
        **kw,
    )


def line(minutes: int, rate: str = "100.00", product: str = "P1", day: date = date(2026, 10, 5), **kw: Any) -> Line:
    amount = money(Decimal(minutes) * Decimal(rate) / 60)
    return Line(
        kw.pop("kind", "time"),
        "n1",
        day,
        None,
        "Alice",
        "work",
        minutes,
        Decimal(minutes) / 60,
        Decimal(rate),
        kw.pop("amount", amount),
        product,
        1,
        kw.pop("description", f"{day} Alice: work"),
    )


def economic_customer(number: int = 5001, **extra: Any) -> dict[str, Any]:
    return {
        "customerNumber": number,
        "name": f"Remote {number}",
        "currency": "EUR",
        "vatZone": {"vatZoneNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1},
        "customerGroup": {"customerGroupNumber": 1},
        **extra,
    }


# -- selection ---------------------------------------------------------------------------------------


def test_the_first_of_the_month_exports_every_open_draft_of_months_that_have_ended() -> None:
    drafts = [
        header(1, "2026-09"),
        header(2, "2026-10"),
        header(3, "2026-11"),
        header(4, "2026-10", status=EXPORTED),
        header(5, "2026-10", status=DELETED),
        header(6, "2026-11", period_from="2026-10"),  # merged across October and November
    ]

    assert [h.number for h in select_drafts(drafts, date(2026, 11, 1), BERLIN)] == [1, 2]
    assert [h.number for h in select_drafts(drafts, date(2026, 10, 31), BERLIN)] == [1]
    assert [h.number for h in select_drafts(drafts, date(2026, 12, 1), BERLIN)] == [1, 2, 3, 6]


# -- lines and amounts -------------------------------------------------------------------------------


def test_whole_quarter_hours_go_as_hours_times_rate() -> None:
    (doc,) = document_lines([line(75, "96.00")], group=False)

    assert (doc.quantity, doc.unit_net_price, doc.amount) == (Decimal("1.25"), Decimal("96.00"), Decimal("120.00"))


def test_hours_that_two_decimals_cannot_hold_go_as_one_times_the_amount_with_the_hours_in_the_text() -> None:
    (doc,) = document_lines([line(61, "100.00")], group=False)

    assert (doc.quantity, doc.unit_net_price) == (Decimal(1), Decimal("101.67"))
    assert "61 min = 1.0167 h at 100.00/h" in doc.description


def test_grouping_sums_same_product_month_and_price_and_never_mixes_prices() -> None:
    lines = [
        line(60, "100.00", day=date(2026, 10, 1)),
        line(30, "100.00", day=date(2026, 10, 9)),
        line(60, "120.00", day=date(2026, 10, 9)),
        line(60, "100.00", product="P2"),
        line(60, "100.00", day=date(2026, 9, 30)),
        line(0, "25", kind="surcharge", amount=Decimal("25.00"), description="Surcharge"),
        line(0, "25", kind="surcharge", amount=Decimal("12.50"), description="Surcharge"),
    ]

    grouped = document_lines(lines, group=True)

    by_key = {(d.product_number, d.unit_net_price, d.description.split(":")[0]): d.quantity for d in grouped}
    assert by_key[("P1", Decimal("100.00"), "October 2026")] == Decimal("1.50")
    assert by_key[("P1", Decimal("120.00"), "October 2026")] == Decimal("1.00")
    assert by_key[("P2", Decimal("100.00"), "October 2026")] == Decimal("1.00")
    assert by_key[("P1", Decimal("100.00"), "September 2026")] == Decimal("1.00")
    surcharge = [d for d in grouped if "surcharge" in d.description]
    assert [(d.quantity, d.unit_net_price) for d in surcharge] == [(Decimal(1), Decimal("37.50"))]
    assert len(grouped) == 5
    assert len(document_lines(lines, group=False)) == len(lines)


amounts = st.tuples(
    st.integers(min_value=1, max_value=24 * 60),
    st.sampled_from(["95.55", "100.00", "0.50", "87.33", "120.00"]),
    st.sampled_from(["P1", "P2"]),
    st.integers(min_value=1, max_value=28),
)


@given(st.lists(amounts, min_size=1, max_size=30), st.booleans())
def test_every_document_totals_exactly_what_the_draft_totals(items: list[Any], group: bool) -> None:
    lines = [line(m, rate, product=p, day=date(2026, 10, d)) for m, rate, p, d in items]

    docs = document_lines(lines, group=group)

    assert sum(d.amount for d in docs) == sum(line.amount for line in lines)
    for d in docs:  # what e-conomic accepts: at most two decimals
        assert d.quantity == d.quantity.quantize(Decimal("0.01"))
        assert d.unit_net_price == d.unit_net_price.quantize(Decimal("0.01"))


# -- the document -------------------------------------------------------------------------------------


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((reference_dir() / "economic-schemas" / name).read_text(encoding="utf-8"))
    return schema


def _nulls(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_nulls(v) for v in value.values())
    if isinstance(value, list):
        return any(_nulls(v) for v in value)
    return False


@pytest.mark.parametrize("schema", ["invoices.drafts.post.schema.json", "orders.drafts.post.schema.json"])
def test_the_document_is_valid_for_e_conomic_and_carries_our_draft_id(schema: str) -> None:
    remote = economic_customer(address="Main St 1", city="Aarhus", zip="8000", ean="")
    body = document_body(
        header(42),
        [line(60), line(61)],
        customer=remote,
        layout=19,
        invoice_date=date(2026, 11, 1),
        group=False,
    )

    as_json = json.loads(json.dumps(body, default=lambda d: float(d)))
    errors = list(jsonschema.Draft3Validator(_schema(schema)).iter_errors(as_json))
    assert errors == []
    assert not _nulls(body)
    assert "ean" not in body["recipient"]  # empty optional fields are left out
    assert body["references"]["other"] == reference("acme", 42) == "IB-acme-42"
    assert body["customer"] == {"customerNumber": 5001}
    assert body["recipient"]["name"] == "Remote 5001"
    assert body["recipient"]["vatZone"] == {"vatZoneNumber": 1}
    assert body["layout"] == {"layoutNumber": 19}
    assert body["date"] == "2026-11-01"
    assert all(isinstance(item["product"]["productNumber"], str) for item in body["lines"])


def test_layout_comes_from_the_request_else_the_customer_else_its_group() -> None:
    groups = {1: {"layout": {"layoutNumber": 7}}, 2: {}}

    assert layout_for(3, economic_customer(layout={"layoutNumber": 5}), groups) == 3
    assert layout_for(None, economic_customer(layout={"layoutNumber": 5}), groups) == 5
    assert layout_for(None, economic_customer(), groups) == 7
    assert layout_for(None, economic_customer(customerGroup={"customerGroupNumber": 2}), groups) is None


# -- preflight ----------------------------------------------------------------------------------------


CATALOG = Catalog(
    customers={5001: economic_customer(5001), 5002: economic_customer(5002, customerGroup={"customerGroupNumber": 2})},
    customer_groups={1: {"layout": {"layoutNumber": 19}}, 2: {}},
    layouts=frozenset({19}),
    products=frozenset({"P1"}),
)


def test_preflight_passes_when_everything_is_there() -> None:
    planned, problems = preflight([(header(1), [line(60)])], directory(), CATALOG, layout=None)

    assert problems == []
    assert [(p.header.number, p.layout, p.customer["customerNumber"]) for p in planned] == [(1, 19, 5001)]


def test_preflight_names_each_problem_once_with_the_integrations_codes() -> None:
    d = directory(customers=4)
    customers = dict(d.customers)
    customers[3] = Customer(3, "No Number", None, "c@example.com", "EUR")
    customers[4] = Customer(4, "Unknown Remote", 9999, "d@example.com", "EUR")
    d = Directory(customers, d.contracts, d.tickets)
    drafts = [
        (header(1, customer=1), [line(60, product="P1"), line(60, product="NOPE")]),
        (header(2, customer=2), [line(60)]),  # group 2 has no layout
        (header(3, customer=3), [line(60)]),
        (header(4, customer=4), [line(60)]),
        (header(5, customer=77), [line(60)]),
        (header(6, customer=4), [line(60)]),  # same customer again: named once
    ]

    planned, problems = preflight(drafts, d, CATALOG, layout=None)

    assert planned == []
    assert [(p.field, p.message) for p in problems] == [
        ("economic.product", "Product not found in e-conomic with product code: NOPE"),
        (
            "economic.customerGroup.layout",
            "Customer did not have a layout available: Customer 2 (none in the request, on the customer or its "
            "customer group; a layoutNumber in billing/settings would be used)",
        ),
        ("finance.accountingSystemId", "Accounting system ID is not found for: No Number"),
        ("economic.customer", "Customer not found in economic: Unknown Remote (customer number 9999)"),
        ("customer", "Customer was not found for invoice: 5"),
    ]


def test_a_layout_named_in_the_request_must_exist_and_then_serves_every_customer() -> None:
    _, problems = preflight([(header(2, customer=2), [line(60)])], directory(), CATALOG, layout=20)
    assert [p.field for p in problems] == ["layout"]

    planned, problems = preflight([(header(2, customer=2), [line(60)])], directory(), CATALOG, layout=19)
    assert problems == []
    assert planned[0].layout == 19


# -- queue messages -----------------------------------------------------------------------------------


def test_queue_messages_may_be_plain_or_base64_json() -> None:
    message = {"reseller": "acme", "invoiceDate": "2026-11-01"}
    plain = json.dumps(message)

    assert decode_message(plain) == message
    assert decode_message(base64.b64encode(plain.encode()).decode()) == message
    assert decode_message("\ufeff" + plain) == message
    with pytest.raises(ValueError, match="neither JSON nor base64"):
        decode_message("hello there")
    with pytest.raises(ValueError, match="Expecting value"):
        decode_message(base64.b64encode(b"not json").decode())
