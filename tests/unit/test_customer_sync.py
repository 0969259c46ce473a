"""Customers from e-conomic into the billing directory: compare, import, update, link, dry run and
how e-conomic's failures reach the caller."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from shared.accounting.cli import format_report
from shared.accounting.customers import CustomerSync
from shared.accounting.routes import compare_customers, sync_customers
from shared.accounting.schemas import CustomerReport, CustomerSyncIn
from shared.errors import (
    AccountingAuthFailed,
    AccountingRefused,
    AccountingUnavailable,
    AccountingUnusable,
    Denied,
    DomainError,
    Invalid,
    Rejected,
    Unavailable,
)
from shared.invoicing.directory import Contract, Customer
from shared.invoicing.directory_service import DirectoryService
from shared.platform.secrets import SecretMissing
from shared.validation import validate
from shared.web.status import error_body, error_response, http_status
from tests.support.fakes import FakeDirectoryRepository

TENANT = "acme"
TOKEN = "grant-token-4f9a-never-shown"


class Refused(AccountingRefused):
    pass


class TokensRefused(AccountingAuthFailed):
    pass


class Unreachable(AccountingUnavailable):
    pass


class FakeEconomic:
    """`EconomicCustomers`: a dict of e-conomic customers, or an error to raise."""

    def __init__(self, customers: dict[int, dict[str, Any]], error: Exception | None = None) -> None:
        self.rows = customers
        self.error = error

    def customers(self) -> dict[int, dict[str, Any]]:
        if self.error is not None:
            raise self.error
        return {n: dict(c) for n, c in self.rows.items()}


def remote(number: int, name: str, email: str | None = None, currency: str = "DKK", **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"customerNumber": number, "name": name, "currency": currency, **extra}
    if email is not None:
        row["email"] = email
    return row


class World:
    def __init__(
        self, economic: dict[int, dict[str, Any]], *customers: Customer, drafted: Collection[int] = ()
    ) -> None:
        self.repo = FakeDirectoryRepository()
        for c in customers:
            self.repo.put(TENANT, c)
        self.economic = FakeEconomic(economic)
        self.drafted = set(drafted)
        self.sync = CustomerSync(DirectoryService(self.repo), self.connect, lambda tenant: self.drafted)

    def connect(self, tenant: str) -> FakeEconomic:
        assert tenant == TENANT
        return self.economic

    def stored(self) -> dict[int, Customer]:
        return dict(self.repo.load(TENANT).customers)

    def apply(self, **request: Any) -> CustomerReport:
        return self.sync.apply(TENANT, CustomerSyncIn.model_validate(request))

    def refused(self, **request: Any) -> dict[str, str]:
        before = self.stored()
        with pytest.raises(Rejected) as caught:
            self.apply(**request)
        assert self.stored() == before
        return {e.field: e.message for e in caught.value.errors}


def numbers(rows: Any) -> list[int | None]:
    return [r.customerNumber for r in rows]


ACME = Customer(1, "Acme A/S", 5001, "billing@acme.dk", "DKK")
BETA = Customer(2, "Beta ApS", 5002, "old@beta.dk", "DKK")
LOCAL = Customer(3, "Local only", None, "local@example.com", "EUR")
GONE = Customer(4, "Gone", 5999, "gone@example.com", "EUR")
ECONOMIC = {
    5001: remote(5001, "Acme A/S", "billing@acme.dk"),
    5002: remote(5002, "Beta ApS", "new@beta.dk"),
    5003: remote(5003, "Gamma GmbH", "invoices@gamma.de", "EUR"),
}


def test_compare_sorts_every_customer_into_one_category_and_lists_the_differences() -> None:
    world = World(ECONOMIC, ACME, BETA, LOCAL, GONE)

    report = world.sync.compare(TENANT)

    assert [r.customerId for r in report.linked] == [1]
    assert [r.customerId for r in report.differs] == [2]
    assert [d.model_dump() for d in report.differs[0].differences] == [
        {"field": "email", "ours": "old@beta.dk", "economic": "new@beta.dk"}
    ]
    assert [(r.customerNumber, r.customerId, r.name) for r in report.new] == [(5003, None, "Gamma GmbH")]
    assert [r.customerId for r in report.unlinked] == [3]
    assert [(r.customerNumber, r.customerId) for r in report.missing] == [(5999, 4)]
    assert report.counts.model_dump() == {
        "linked": 1,
        "differs": 1,
        "new": 1,
        "unlinked": 1,
        "missing": 1,
        "imported": 0,
        "updated": 0,
        "linkedNow": 0,
        "skipped": 0,
    }
    assert world.stored() == {1: ACME, 2: BETA, 3: LOCAL, 4: GONE}


def test_a_dry_run_reports_what_would_change_and_writes_nothing() -> None:
    world = World(ECONOMIC, ACME, BETA)

    report = world.apply(importNew=True, updateLinked=True, link=[], dryRun=True)

    assert report.dryRun is True
    assert numbers(report.imported) == [5003]
    assert [(r.customerId, r.email) for r in report.updated] == [(2, "new@beta.dk")]
    assert report.new == []  # as it would be afterwards
    assert numbers(report.linked) == [5001, 5002, 5003]
    assert world.stored() == {1: ACME, 2: BETA}
    text = format_report(report)
    assert "Dry run: nothing was changed." in text
    assert "Would import (1):" in text


def test_import_all_creates_each_new_customer_under_its_e_conomic_number() -> None:
    world = World(ECONOMIC, ACME)

    report = world.apply(importNew=True)

    assert numbers(report.imported) == [5002, 5003]
    assert world.stored()[5003] == Customer(5003, "Gamma GmbH", 5003, "invoices@gamma.de", "EUR")
    assert world.stored()[5002] == Customer(5002, "Beta ApS", 5002, "new@beta.dk", "DKK")
    assert report.new == []
    assert numbers(report.linked) == [5001, 5002, 5003]
    assert report.skipped == []


def test_import_all_skips_what_cannot_be_imported_and_imports_the_rest() -> None:
    taken = Customer(5004, "Delta (ours)", None, "delta@example.com", "EUR")
    world = World(
        {
            5003: remote(5003, "Gamma GmbH", "invoices@gamma.de", "EUR"),
            5004: remote(5004, "Delta", "delta@example.com"),
            5005: remote(5005, "No mail", ""),
            5006: remote(5006, "Barred", "barred@example.com", barred=True),
            5007: remote(5007, "Odd money", "odd@example.com", "euro"),
        },
        taken,
    )

    report = world.apply(importNew=True)

    assert numbers(report.imported) == [5003]
    reasons = {s.customerNumber: s.reason for s in report.skipped}
    assert set(reasons) == {5004, 5005, 5006, 5007}
    assert "already used by our customer 5004" in reasons[5004]
    assert "link" in reasons[5004]
    assert "no valid e-mail" in reasons[5005]
    assert "barred" in reasons[5006]
    assert "ISO 4217" in reasons[5007]
    assert {s.action for s in report.skipped} == {"importNew"}
    assert set(world.stored()) == {5003, 5004}
    assert world.stored()[5004] == taken
    assert numbers(report.new) == [5004, 5005, 5006, 5007]
    assert report.new[2].barred is True


def test_an_explicit_import_list_imports_exactly_those_numbers_even_a_barred_one() -> None:
    world = World({**ECONOMIC, 5006: remote(5006, "Barred", "barred@example.com", barred=True)}, ACME)

    report = world.apply(importNew=[5006, "5003"])

    assert {r.customerNumber for r in report.imported} == {5003, 5006}
    assert set(world.stored()) == {1, 5003, 5006}
    assert numbers(report.new) == [5002]
    assert report.skipped == []


def test_an_explicit_import_list_with_any_problem_is_refused_naming_each_entry() -> None:
    taken = Customer(5004, "Delta (ours)", None, "delta@example.com", "EUR")
    world = World(
        {
            **ECONOMIC,
            5004: remote(5004, "Delta", "delta@example.com"),
            5005: remote(5005, "No mail", "not-an-address"),
        },
        ACME,
        taken,
    )

    errors = world.refused(importNew=[5003, 5001, 7777, 5004, 5005])

    assert set(errors) == {"importNew[1]", "importNew[2]", "importNew[3]", "importNew[4]"}
    assert "already linked to our customer 1" in errors["importNew[1]"]
    assert "no customer 7777" in errors["importNew[2]"]
    assert "already used by our customer 5004" in errors["importNew[3]"]
    assert "no valid e-mail" in errors["importNew[4]"]
    assert 5003 not in world.stored()  # the importable one was not imported either


def test_update_all_takes_e_conomic_name_and_e_mail() -> None:
    renamed = {**ECONOMIC, 5001: remote(5001, "Acme Holding A/S", "ap@acme.dk")}
    world = World(renamed, ACME, BETA)

    report = world.apply(updateLinked=True)

    assert world.stored()[1] == Customer(1, "Acme Holding A/S", 5001, "ap@acme.dk", "DKK")
    assert world.stored()[2].billing_email == "new@beta.dk"
    assert [(r.customerId, [(d.field, d.ours, d.economic) for d in r.differences]) for r in report.updated] == [
        (1, [("name", "Acme A/S", "Acme Holding A/S"), ("email", "billing@acme.dk", "ap@acme.dk")]),
        (2, [("email", "old@beta.dk", "new@beta.dk")]),
    ]
    assert report.differs == []
    assert numbers(report.linked) == [5001, 5002]
    assert numbers(report.new) == [5003]  # updating imports nothing


def test_the_currency_stays_while_the_customer_has_contracts_or_drafts() -> None:
    economic = {
        5001: remote(5001, "Acme Holding A/S", "billing@acme.dk", "EUR"),
        5002: remote(5002, "Beta ApS", "old@beta.dk", "EUR"),
        5003: remote(5003, "Gamma", "gamma@example.com", "EUR"),
    }
    gamma = Customer(3, "Gamma", 5003, "gamma@example.com", "DKK")
    world = World(economic, ACME, BETA, gamma, drafted={2})
    world.repo.put(TENANT, Contract(10, 1, "P1", Decimal("950.00")))

    report = world.apply(updateLinked=True)

    assert world.stored()[1] == Customer(1, "Acme Holding A/S", 5001, "billing@acme.dk", "DKK")
    assert world.stored()[2] == BETA
    assert world.stored()[3].currency == "EUR"  # no contracts, no drafts
    reasons = {s.customerId: s.reason for s in report.skipped}
    assert "service contracts 10 are priced in DKK" in reasons[1]
    assert "invoice drafts" in reasons[2]
    assert {s.action for s in report.skipped} == {"updateLinked"}
    assert [(r.customerId, [d.field for d in r.differences]) for r in report.updated] == [
        (1, ["name"]),
        (3, ["currency"]),
    ]
    assert [(r.customerId, [d.field for d in r.differences]) for r in report.differs] == [
        (1, ["currency"]),
        (2, ["currency"]),
    ]


def test_an_explicit_update_list_must_name_linked_customers() -> None:
    world = World(ECONOMIC, ACME, BETA, GONE)

    errors = world.refused(updateLinked=[5002, 5003, 5999])

    assert set(errors) == {"updateLinked[1]", "updateLinked[2]"}
    assert "importNew" in errors["updateLinked[1]"]
    assert "no customer 5999" in errors["updateLinked[2]"]
    assert world.apply(updateLinked=[5002]).updated[0].customerId == 2
    assert world.stored()[2].billing_email == "new@beta.dk"


def test_link_sets_the_number_and_reports_a_relink_as_a_change() -> None:
    moved = Customer(1, "Acme A/S", 5002, "billing@acme.dk", "DKK")
    world = World(ECONOMIC, moved, LOCAL)

    report = world.apply(link=[{"customerId": 3, "customerNumber": "5003"}, {"customerId": 1, "customerNumber": 5001}])

    assert world.stored()[3].accounting_system_id == 5003
    assert world.stored()[1].accounting_system_id == 5001
    assert [(r.customerId, r.customerNumber, r.previousCustomerNumber) for r in report.linkedNow] == [
        (3, 5003, None),
        (1, 5001, 5002),
    ]
    assert report.unlinked == []
    assert numbers(report.new) == [5002]
    assert "was e-conomic 5002" in format_report(report)


def test_link_refuses_a_number_someone_else_holds_and_two_pairs_with_one_number() -> None:
    world = World(ECONOMIC, ACME, LOCAL, GONE)

    errors = world.refused(
        link=[
            {"customerId": 3, "customerNumber": 5001},
            {"customerId": 4, "customerNumber": 5003},
            {"customerId": 3, "customerNumber": 5003},
            {"customerId": 99, "customerNumber": 6000},
        ]
    )

    assert errors == {
        "link[0].customerNumber": "e-conomic customer 5001 is already linked to our customer 1",
        "link[2].customerId": "customer 3 is also in link[0]",
        "link[2].customerNumber": "e-conomic customer 5003 is also in link[1]",
        "link[3].customerId": "customer 99 does not exist",
        "link[3].customerNumber": "e-conomic has no customer 6000",
    }


def test_links_come_first_so_a_linked_customer_is_no_longer_imported() -> None:
    world = World(ECONOMIC, ACME, LOCAL)

    report = world.apply(link=[{"customerId": 3, "customerNumber": 5003}], importNew=True, updateLinked=[5003])

    assert numbers(report.imported) == [5002]
    assert world.stored()[3] == Customer(3, "Gamma GmbH", 5003, "invoices@gamma.de", "EUR")
    assert 5003 not in world.stored()


def test_a_second_identical_import_changes_nothing_and_says_so() -> None:
    world = World(ECONOMIC, ACME, BETA)
    first = world.apply(importNew=True, updateLinked=True)
    after_first = world.stored()

    second = world.apply(importNew=True, updateLinked=True)

    assert numbers(first.imported) == [5003]
    assert (second.imported, second.updated, second.linkedNow, second.skipped) == ([], [], [], [])
    assert second.summary.startswith("Nothing was changed")
    assert world.stored() == after_first


def test_several_e_mail_addresses_import_the_first_valid_one_and_match_any() -> None:
    world = World({5003: remote(5003, "Gamma", " not-an-address ; first@gamma.de, second@gamma.de")})

    world.apply(importNew=True)
    world.repo.put(TENANT, Customer(7, "Gamma", 5003, "SECOND@gamma.de", "DKK"))

    assert world.stored()[5003].billing_email == "first@gamma.de"
    report = world.sync.compare(TENANT)
    assert [r.customerId for r in report.linked] == [7, 5003]


def test_addresses_separated_by_a_space_as_e_conomic_stores_them_are_each_read() -> None:
    # e-conomic's customer schema (economic-schemas/customers.customerNumber.get.schema.json, `email`):
    # "you can specify multiple email addresses in this field, separated by a space".
    world = World({5003: remote(5003, "Gamma", "first@gamma.de second@gamma.de\tthird@gamma.de")})

    world.apply(importNew=True)
    world.repo.put(TENANT, Customer(7, "Gamma", 5003, "third@gamma.de", "DKK"))

    assert world.stored()[5003].billing_email == "first@gamma.de"
    assert [r.customerId for r in world.sync.compare(TENANT).linked] == [7, 5003]


@pytest.mark.parametrize(
    ("error", "expected", "status"),
    [
        (TokensRefused("401 the grant token was refused"), Denied, 403),
        (Unreachable("timed out"), Unavailable, 503),
        (Refused("400 bad filter"), AccountingUnusable, 502),
    ],
)
def test_e_conomic_failures_become_http_errors(error: Exception, expected: type[DomainError], status: int) -> None:
    world = World(ECONOMIC, ACME)
    world.economic.error = error

    with pytest.raises(expected):
        world.sync.compare(TENANT)
    with pytest.raises(expected) as caught:
        world.apply(importNew=True)

    assert http_status(caught.value) == status
    assert world.stored() == {1: ACME}
    if expected is Denied:
        assert caught.value.code == "economic"
    if expected is Unavailable:
        assert error_response(caught.value).headers == {"Retry-After": "30"}


def test_missing_tokens_are_a_403_that_names_the_problem_but_not_a_token() -> None:
    def connect(tenant: str) -> FakeEconomic:
        raise SecretMissing("The e-conomic grant token of acme is not configured.", secret="economic-grant-acme")

    sync = CustomerSync(DirectoryService(FakeDirectoryRepository()), connect, lambda tenant: set())

    with pytest.raises(Denied) as caught:
        sync.compare(TENANT)

    assert caught.value.code == "economic"
    assert "not configured" in caught.value.message
    assert TOKEN not in str(error_body(caught.value))


def test_the_request_model_reads_true_false_and_lists_of_numbers() -> None:
    berlin = ZoneInfo("Europe/Berlin")

    parsed = validate(CustomerSyncIn, {"importNew": "true", "updateLinked": ["5001", 5002], "dryRun": "true"}, berlin)

    assert (parsed.importNew, parsed.updateLinked, parsed.link, parsed.dryRun) == (True, [5001, 5002], [], True)
    assert validate(CustomerSyncIn, {}, berlin).importNew is False
    with pytest.raises(Invalid) as caught:
        validate(CustomerSyncIn, {"importNew": "all", "updateLinked": [1, 0], "link": [{"customerId": 1}]}, berlin)
    errors = {e.field: e.message for e in caught.value.errors}
    assert errors == {
        "importNew": "must be true, false or a list of e-conomic customer numbers",
        "updateLinked": "item 1 must be an e-conomic customer number (a positive whole number)",
        "link[0].customerNumber": "is required",
    }


def test_the_handlers_answer_the_report_as_json() -> None:
    world = World(ECONOMIC, ACME)
    services: Any = SimpleNamespace(customer_sync=world.sync)
    principal = SimpleNamespace(tenant=TENANT)

    compared = compare_customers(services, cast(Any, SimpleNamespace(principal=principal, data=None)))
    synced = sync_customers(
        services, cast(Any, SimpleNamespace(principal=principal, data=CustomerSyncIn(importNew=[5003], dryRun=False)))
    )

    assert compared.status == 200
    assert isinstance(compared.body, dict)
    assert [r["customerNumber"] for r in compared.body["new"]] == [5002, 5003]
    assert compared.body["linked"][0] == {
        "customerNumber": 5001,
        "customerId": 1,
        "name": "Acme A/S",
        "email": "billing@acme.dk",
        "currency": "DKK",
        "barred": False,
        "differences": [],
    }
    assert isinstance(synced.body, dict)
    assert [r["customerId"] for r in synced.body["imported"]] == [5003]
    assert synced.body["dryRun"] is False
    assert 5003 in world.stored()


def test_the_cli_listing_has_a_line_per_customer_and_category() -> None:
    world = World({**ECONOMIC, 5006: remote(5006, "Barred", "b@example.com", barred=True)}, ACME, BETA, LOCAL)

    text = format_report(world.apply(importNew=True))

    lines = text.splitlines()
    assert "  e-conomic 5003  customer 5003  Gamma GmbH  invoices@gamma.de  EUR" in lines
    assert any(line.startswith("  e-conomic 5002  customer 2  Beta ApS") and "email" in line for line in lines)
    assert "  e-conomic -  customer 3  Local only  local@example.com  EUR" in lines
    assert any(line.startswith("  e-conomic 5006  customer -  importNew: is barred") for line in lines)
    assert "Dry run" not in text


def test_a_customer_without_an_e_mail_in_e_conomic_keeps_ours_and_does_not_differ() -> None:
    ours = Customer(1, "Acme A/S", 1, "ap@acme.example", "DKK")
    world = World(
        {1: remote(1, "Acme A/S"), 2: remote(2, "Globex", "not an address")},
        ours,
        Customer(2, "Globex", 2, "ap@globex.example", "DKK"),
    )

    report = world.sync.apply(TENANT, CustomerSyncIn(updateLinked=True))

    assert [row.customerNumber for row in report.linked] == [1]
    assert [row.customerNumber for row in report.differs] == [2]  # an e-mail e-conomic has, but not a valid one
    assert world.repo.load(TENANT).customers[1] == ours
