"""`python -m shared.manage billing import`: all or nothing, every bad row named, re-import = update."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from shared.container import build
from shared.invoicing.directory import TenantSettings
from tests.support.app import REPO, manage


def test_json_and_csv_examples_import_the_same_directory_and_reimport_is_an_update(app_env: dict[str, str]) -> None:
    json_tenant, csv_tenant = "cli-" + uuid.uuid4().hex[:8], "cli-" + uuid.uuid4().hex[:8]

    first = manage(app_env, "billing", "import", "--tenant", json_tenant, str(REPO / "examples/billing-directory.json"))
    again = manage(app_env, "billing", "import", "--tenant", json_tenant, str(REPO / "examples/billing-directory.json"))
    from_csv = manage(
        app_env, "billing", "import", "--tenant", csv_tenant, str(REPO / "examples/billing-directory.csv")
    )

    assert first.returncode == 0, first.stderr
    assert "Imported 2 customers, 2 contracts, 3 tickets" in first.stdout
    assert again.returncode == 0, again.stderr
    assert from_csv.returncode == 0, from_csv.stderr
    directory = build(app_env).directory
    loaded = directory.load(json_tenant)
    assert loaded == directory.load(csv_tenant)
    assert loaded.customers[1].name == "Łukasz & Söhne GmbH"
    assert loaded.contracts[12].hourly_rate == Decimal("90.00")
    assert loaded.tickets[4713].contract_id is None
    assert len(loaded.tickets) == 3


def test_a_bad_file_imports_nothing_and_names_every_bad_row(app_env: dict[str, str], tmp_path: Path) -> None:
    tenant = "cli-" + uuid.uuid4().hex[:8]
    path = tmp_path / "directory.json"
    path.write_text(
        json.dumps(
            {
                "customers": [
                    {
                        "customerId": 1,
                        "name": "A",
                        "accountingSystemId": 1,
                        "billingEmail": "a@x.io",
                        "currency": "EUR",
                    },
                    {"customerId": 2, "name": "B", "accountingSystemId": 2, "billingEmail": "b", "currency": "EUR"},
                ],
                "tickets": [{"ticketId": 7, "customerId": 1, "contractId": 99}],
            }
        )
    )
    csv_path = tmp_path / "directory.csv"
    csv_path.write_text("type,id,customerId,productNumber,hourlyRate\ncontract,5,3,P,10\nproject,1,,,\n")

    result = manage(app_env, "billing", "import", "--tenant", tenant, str(path))
    from_csv = manage(app_env, "billing", "import", "--tenant", tenant, str(csv_path))

    assert result.returncode == 2
    assert "2 problem(s)" in result.stderr
    assert "customers[1]: billingEmail must be an e-mail address" in result.stderr
    assert "tickets[0]: contractId service contract 99 does not exist" in result.stderr
    assert from_csv.returncode == 2
    assert "line 2: customerId customer 3 does not exist" in from_csv.stderr
    assert "line 3: type must be customer, contract or ticket" in from_csv.stderr
    assert build(app_env).directory.load(tenant).customers == {}


_GOOD_CUSTOMER = b'{"customerId": 1, "name": "A", "billingEmail": "a@x.io", "currency": "EUR"}'
_UNREADABLE = {
    "nested.json": (b'{"customers": ' + b"[" * 1000 + b"]" * 1000 + b"}", "file: must not nest arrays and objects"),
    "digits.json": (
        b'{"customers": [{"customerId": 1' + b"0" * 5000 + b', "name": "A"}]}',
        "file: has a number too long to read",
    ),
    "latin1.json": (
        b'{"customers": [{"customerId": 1, "name": "M\xfcller"}]}',
        "file: is not UTF-8: byte 0xfc at byte offset 43",
    ),
    "twice.json": (
        b'{"customers": [' + _GOOD_CUSTOMER + b'], "customers": []}',
        'file: has the key "customers" twice in one object',
    ),
    "big.csv": (
        b"type,id,name,billingEmail,currency\ncustomer,1,A,a@x.io,EUR\ncustomer,2," + b"x" * 140_000 + b",b@x.io,EUR\n",
        "line 3: cannot be read as CSV: field larger than field limit",
    ),
}


@pytest.mark.parametrize("name", list(_UNREADABLE))
def test_an_unreadable_file_is_reported_naming_where_not_a_traceback(
    app_env: dict[str, str], tmp_path: Path, name: str
) -> None:
    """Nested JSON, a 5,000-digit number, invalid UTF-8, a section given twice (json.loads would keep
    the last one silently) and a CSV field over the csv module's 128 kB: each a line of the report."""
    content, problem = _UNREADABLE[name]
    path = tmp_path / name
    path.write_bytes(content)
    tenant = "cli-" + uuid.uuid4().hex[:8]

    result = manage(app_env, "billing", "import", "--tenant", tenant, str(path))

    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2
    assert f"error: nothing imported from {path}" in result.stderr
    assert problem in result.stderr
    assert build(app_env).directory.load(tenant).customers == {}


def test_the_accounting_address_is_set_and_shown_from_the_cli_and_a_bad_one_is_named(app_env: dict[str, str]) -> None:
    tenant = "cli-" + uuid.uuid4().hex[:8]

    unset = manage(app_env, "billing", "settings", "--tenant", tenant)
    bad = manage(app_env, "billing", "settings", "--tenant", tenant, "--accounting-email", "nobody")
    good = manage(app_env, "billing", "settings", "--tenant", tenant, "--accounting-email", "ap@acme.example")

    assert "accounting e-mail (none)" in unset.stdout
    assert bad.returncode == 2
    assert "accountingEmail" in bad.stderr
    assert good.returncode == 0, good.stderr
    assert build(app_env).tenant_settings.get(tenant).accounting_email == "ap@acme.example"


def test_setting_the_accounting_address_from_the_cli_keeps_the_accounting_defaults(app_env: dict[str, str]) -> None:
    tenant = "cli-" + uuid.uuid4().hex[:8]
    settings = build(app_env).tenant_settings
    settings.put(tenant, TenantSettings(default_product_number="P1", layout_number=19, document_type="order"))

    result = manage(app_env, "billing", "settings", "--tenant", tenant, "--accounting-email", "ap@acme.example")

    assert result.returncode == 0, result.stderr
    assert settings.get(tenant) == TenantSettings("ap@acme.example", "P1", None, 19, "order")


def test_a_key_created_with_an_email_keeps_it(app_env: dict[str, str]) -> None:
    tenant = "cli-" + uuid.uuid4().hex[:8]

    created = manage(
        app_env, "keys", "create", "--tenant", tenant, "--rights", "reseller", "--email", "ap@acme.example"
    )

    assert created.returncode == 0, created.stderr
    (key,) = build(app_env).keys.list(tenant)
    assert key.email == "ap@acme.example"
    assert key.rights == {"reseller"}
