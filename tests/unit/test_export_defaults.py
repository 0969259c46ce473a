"""The tenant's accounting defaults in the export's preflight (issue 17): each applies only where
nothing more specific names a value, and a problem a default would fix says so."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from shared.export.documents import document_body
from shared.export.preflight import Catalog, ProductOnly, preflight
from shared.invoicing.directory import TenantSettings
from tests.support.invoicing import directory
from tests.unit.test_export_rules import CATALOG, economic_customer, header, line

TERMS: dict[int, dict[str, Any]] = {
    1: {"paymentTermsNumber": 1},
    2: {"paymentTermsNumber": 2, "paymentTermsType": "net", "daysOfCredit": 30},
}
WITH_TERMS = replace(CATALOG, payment_terms=TERMS, layouts=frozenset({19, 21}), products=frozenset({"P1", "P2"}))


def test_a_line_whose_contract_names_no_product_takes_the_tenants_default_and_others_keep_theirs() -> None:
    drafts = [(header(1), [line(60, product=""), line(30, product="P1")])]

    planned, problems = preflight(
        drafts, directory(), WITH_TERMS, layout=None, defaults=TenantSettings(default_product_number="P2")
    )

    assert problems == []
    assert [ln.product_number for ln in planned[0].lines] == ["P2", "P1"]


def test_no_product_anywhere_is_named_with_the_setting_that_would_fix_it() -> None:
    for lines in ([line(60, product="")], [ProductOnly("")]):
        planned, problems = preflight([(header(7), lines)], directory(), WITH_TERMS, layout=None)
        assert planned == []
        [problem] = problems
        assert problem.field == "product"
        assert "draft 7" in problem.message
        assert "defaultProductNumber in billing/settings" in problem.message


def test_a_default_product_unknown_to_e_conomic_is_named_as_the_default() -> None:
    _, problems = preflight(
        [(header(1), [line(60, product="")])],
        directory(),
        WITH_TERMS,
        layout=None,
        defaults=TenantSettings(default_product_number="GONE"),
    )
    assert [(p.field, p.message) for p in problems] == [
        (
            "economic.product",
            "Product not found in e-conomic with product code: GONE (the tenant's defaultProductNumber)",
        )
    ]


def test_layout_precedence_request_then_customer_then_group_then_tenant() -> None:
    defaults = TenantSettings(layout_number=21)
    group_has_none = replace(
        WITH_TERMS, customers={5001: economic_customer(5001, customerGroup={"customerGroupNumber": 2})}
    )
    own = replace(WITH_TERMS, customers={5001: economic_customer(5001, layout={"layoutNumber": 19})})

    def chosen(catalog: Catalog, layout: int | None) -> int:
        planned, problems = preflight([(header(1), [line(60)])], directory(), catalog, layout=layout, defaults=defaults)
        assert problems == []
        return planned[0].layout

    assert chosen(group_has_none, None) == 21  # only the tenant names one
    assert chosen(WITH_TERMS, None) == 19  # the group's wins over the tenant's
    assert chosen(own, None) == 19  # the customer's own
    assert chosen(group_has_none, 19) == 19  # the request's wins over all


def test_a_deleted_default_layout_is_named_as_the_tenants() -> None:
    group_has_none = replace(
        WITH_TERMS, customers={5001: economic_customer(5001, customerGroup={"customerGroupNumber": 2})}
    )
    _, problems = preflight(
        [(header(1), [line(60)])], directory(), group_has_none, layout=None, defaults=TenantSettings(layout_number=77)
    )
    [problem] = problems
    assert problem.field == "economic.layout"
    assert "Layout 77" in problem.message
    assert "the tenant's default layoutNumber" in problem.message


def test_payment_terms_are_the_customers_else_the_tenants_default() -> None:
    without = {k: v for k, v in economic_customer(5001).items() if k != "paymentTerms"}
    catalog = replace(WITH_TERMS, customers={5001: without})

    _, problems = preflight([(header(1), [line(60)])], directory(), catalog, layout=None)
    [problem] = problems
    assert problem.field == "economic.paymentTerms"
    assert "set paymentTermsNumber in billing/settings" in problem.message

    _, problems = preflight(
        [(header(1), [line(60)])], directory(), catalog, layout=None, defaults=TenantSettings(payment_terms_number=9)
    )
    assert [p.field for p in problems] == ["economic.paymentTerms"]
    assert "default payment terms 9" in problems[0].message
    assert "do not exist" in problems[0].message

    planned, problems = preflight(
        [(header(1), [line(60)])], directory(), catalog, layout=None, defaults=TenantSettings(payment_terms_number=2)
    )
    assert problems == []
    assert planned[0].payment_terms == 2
    body = document_body(
        planned[0].header,
        planned[0].lines,
        customer=planned[0].customer,
        layout=planned[0].layout,
        invoice_date=date(2026, 11, 1),
        group=False,
        payment_terms=planned[0].payment_terms,
    )
    assert body["paymentTerms"] == {"paymentTermsNumber": 2}

    # The customer's own terms win over the default.
    planned, _ = preflight(
        [(header(1), [line(60)])], directory(), WITH_TERMS, layout=None, defaults=TenantSettings(payment_terms_number=2)
    )
    assert planned[0].payment_terms == 1


def test_a_draft_whose_lines_were_all_deleted_is_named_and_not_planned() -> None:
    empty: list[ProductOnly] = []
    planned, problems = preflight(
        [(header(4), empty), (header(5), [ProductOnly("P1")])], directory(), WITH_TERMS, layout=None
    )
    assert [p.header.number for p in planned] == [5]
    assert [(p.field, p.message) for p in problems] == [
        ("lines", "Invoice draft 4 has no lines: add a line, or delete the draft")
    ]
