"""Billing directory and invoicing over real HTTP, through the local host, against Azurite: the
README's walk-through as a test."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pypdf
import requests

from devhost.processes import DevHost
from shared.platform.keys import ADMIN_RIGHT, CONNECTOR_RIGHTS
from tests.support.app import Client, KeyMaker


class Admin:
    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        params = {"apikey": self.key, **kwargs.pop("params", {})}
        return self.session.request(method, f"{self.base_url}/{path}", params=params, json=body, timeout=60, **kwargs)

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.call(method, path, body, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


def _setup(host: DevHost, make_key: KeyMaker) -> tuple[Admin, Client]:
    tenant = "inv-" + uuid.uuid4().hex[:8]
    key = make_key(tenant=tenant, rights=[ADMIN_RIGHT, *CONNECTOR_RIGHTS], limit=1000)
    admin = Admin(host.base_url, key)
    admin.ok(
        "PUT",
        "billing/customers/1",
        {
            "name": "Łukasz & Söhne GmbH",
            "accountingSystemId": 5001,
            "billingEmail": "billing@soehne.example",
            "currency": "EUR",
        },
    )
    admin.ok(
        "PUT",
        "billing/customers/2",
        {"name": "Other AS", "accountingSystemId": 5002, "billingEmail": "ap@other.example", "currency": "DKK"},
    )
    admin.ok(
        "PUT",
        "billing/contracts/12",
        {
            "customerId": 1,
            "productNumber": "SUPPORT-1",
            "hourlyRate": "90.00",
            "surchargePercent": "25",
            "roundingMinutes": 15,
        },
    )
    admin.ok("PUT", "billing/contracts/20", {"customerId": 2, "productNumber": "P20", "hourlyRate": 1000})
    admin.ok("PUT", "billing/tickets/4711", {"customerId": 1, "contractId": 12})
    return admin, Client(host.base_url, key)


def _note(client: Client, start: str, end: str, **fields: Any) -> str:
    body = {"dateFrom": start, "dateTo": end, "noInvoice": False, "extraCharge": False, **fields}
    response = client.post("CreateInvoicePositionNote", body)
    assert response.status_code == 200, response.text
    return str(response.json()["invoiceNoteId"])


def _mail_server_note(client: Client) -> str:
    """2 h 15 min net on ticket 4711 (customer 1) with a surcharge, by a user with a non-ASCII name: the
    walk-through's first note, and the time line the line-editing tests change."""
    return _note(
        client,
        "2026-10-02T08:00",
        "2026-10-02T10:30",
        pause="00:15",
        hint="Patched the mail server",
        username="Łukasz",
        ticketID=4711,
        extraCharge=True,
    )


def test_directory_crud_with_reference_checks(host: DevHost, make_key: KeyMaker) -> None:
    admin, _ = _setup(host, make_key)

    customers = admin.ok("GET", "billing/customers")["customers"]
    contract = admin.ok("GET", "billing/contracts/12")
    missing = admin.call("PUT", "billing/tickets/5", {"customerId": 3, "contractId": 99})
    referenced = admin.call("DELETE", "billing/contracts/12")
    bad = admin.call("PUT", "billing/contracts/13", {"customerId": 1, "productNumber": "X", "hourlyRate": 12.345})
    unknown = admin.call("GET", "billing/tickets/999")

    assert [c["name"] for c in customers] == ["Łukasz & Söhne GmbH", "Other AS"]
    assert contract == {
        "contractId": 12,
        "customerId": 1,
        "productNumber": "SUPPORT-1",
        "hourlyRate": "90.00",
        "surchargePercent": "25",
        "roundingMinutes": 15,
    }
    assert missing.status_code == 422
    assert {(e["Field"], e["Message"]) for e in missing.json()["Errors"]} == {
        ("customerId", "customer 3 does not exist"),
        ("contractId", "service contract 99 does not exist"),
    }
    assert referenced.status_code == 409
    assert "ticket 4711" in referenced.json()["Message"]
    assert bad.status_code == 400
    assert bad.json()["Errors"] == [{"Field": "hourlyRate", "Message": "must have at most 2 decimal places"}]
    assert unknown.status_code == 404
    assert admin.ok("DELETE", "billing/tickets/4711")["Success"] is True
    assert admin.ok("DELETE", "billing/contracts/12")["Success"] is True
    assert admin.call("GET", "billing/contracts/12").status_code == 404


def test_run_get_pdf_merge_delete_and_rerun(host: DevHost, make_key: KeyMaker) -> None:
    admin, client = _setup(host, make_key)
    first = _mail_server_note(client)
    _note(client, "2026-10-20T09:00", "2026-10-20T09:10", serviceContractID=20, username="bo")
    _note(client, "2026-10-21T09:00", "2026-10-21T10:00", noInvoice=True, ticketID=4711)
    orphan = _note(client, "2026-10-22T09:00", "2026-10-22T10:00", ticketID=999)
    _note(client, "2026-09-30T23:30", "2026-10-01T00:30", ticketID=4711)  # September's: starts there

    run = admin.ok("POST", "invoicing/runs", {"period": "2026-10"})

    assert run["period"] == "2026-10"
    assert [(d["draftId"], d["customer"]["customerId"], d["totals"]["net"]) for d in run["drafts"]] == [
        (1, 1, "253.13"),  # 135 min at 90.00 = 202.50, plus 25 % = 50.63 (50.625 half-up)
        (2, 2, "166.67"),  # 10 min at 1000.00
    ]
    assert run["unresolved"] == [
        {"noteId": orphan, "field": "ticketID", "reason": "ticket 999 is not in the directory"}
    ]

    draft = admin.ok("GET", "invoicing/drafts/1")
    assert draft["status"] == "open"
    assert draft["customer"]["accountingSystemId"] == 5001
    assert (draft["periodFrom"], draft["periodTo"]) == ("2026-10", "2026-10")
    assert [
        (ln["kind"], ln["noteId"], ln["minutes"], ln["hours"], ln["rate"], ln["amount"]) for ln in draft["lines"]
    ] == [
        ("time", first, 135, "2.25", "90.00", "202.50"),
        ("surcharge", first, 0, "0", "25", "50.63"),
    ]
    assert draft["lines"][0]["productNumber"] == "SUPPORT-1"
    assert draft["totals"]["net"] == "253.13"

    listed = client.list(TakeAll=True)["Results"]
    status = {item["AssignmentId"]: (item["Status"], item.get("InvoiceDraftNumber")) for item in listed}
    assert status[first] == ("Drafted", 1)
    assert status[orphan] == ("Open", None)

    pdf = admin.call("GET", "invoicing/drafts/1/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"].startswith("application/pdf")
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "CONCEPT — not an invoice" in text
    assert "Łukasz & Söhne GmbH" in text
    assert "2026-10" in text
    assert "Patched the mail server" in text
    assert "202.50" in text
    assert "253.13" in text

    september = admin.ok("POST", "invoicing/runs", {"period": "2026-09"})
    assert [d["draftId"] for d in september["drafts"]] == [3]
    merged = admin.ok("POST", "invoicing/merges", {"draftIds": [3, 1]})
    assert merged["draftId"] == 1
    assert (merged["periodFrom"], merged["periodTo"]) == ("2026-09", "2026-10")
    assert len(merged["lines"]) == 3
    assert merged["totals"]["net"] == "343.13"
    assert admin.ok("GET", "invoicing/drafts/3")["status"] == "merged"
    assert [d["draftId"] for d in admin.ok("GET", "invoicing/drafts", params={"customerId": 1})["drafts"]] == [1]

    deleted = admin.ok("DELETE", "invoicing/drafts/1")
    assert deleted["releasedNotes"] == 2
    rerun = admin.ok("POST", "invoicing/runs", {"period": "2026-10"})
    assert [(d["draftId"], d["totals"]["net"]) for d in rerun["drafts"]] == [(4, "253.13")]
    assert admin.call("GET", "invoicing/drafts/1/pdf").status_code == 422


def test_merge_of_different_customers_is_refused_naming_the_field(host: DevHost, make_key: KeyMaker) -> None:
    admin, client = _setup(host, make_key)
    _note(client, "2026-10-02T08:00", "2026-10-02T09:00", ticketID=4711)
    _note(client, "2026-10-02T08:00", "2026-10-02T09:00", serviceContractID=20)
    admin.ok("POST", "invoicing/runs", {"period": "2026-10"})

    response = admin.call("POST", "invoicing/merges", {"draftIds": [1, 2]})

    assert response.status_code == 422
    assert response.json()["Errors"][0]["Field"] == "draftIds"
    assert "different customers" in response.json()["Errors"][0]["Message"]


def test_bad_input_gets_4xx_naming_the_field(host: DevHost, make_key: KeyMaker) -> None:
    admin, _ = _setup(host, make_key)

    period = admin.call("POST", "invoicing/runs", {"period": "October"})
    draft = admin.call("GET", "invoicing/drafts/abc")
    missing = admin.call("GET", "invoicing/drafts/77")
    email = admin.call(
        "PUT", "billing/customers/3", {"name": "X", "accountingSystemId": 1, "billingEmail": "nope", "currency": "eur"}
    )
    status = admin.call("GET", "invoicing/drafts", params={"status": "paid"})

    assert period.status_code == 400
    assert period.json()["Errors"] == [{"Field": "period", "Message": "must be a month written YYYY-MM, e.g. 2026-10"}]
    assert draft.status_code == 400
    assert draft.json()["Errors"][0]["Field"] == "draftId"
    assert missing.status_code == 404
    assert {e["Field"] for e in email.json()["Errors"]} == {"billingEmail", "currency"}
    assert status.status_code == 400
    assert status.json()["Errors"][0]["Field"] == "status"


def test_invoicing_needs_the_admin_right(host: DevHost, make_key: KeyMaker) -> None:
    key = make_key(rights=CONNECTOR_RIGHTS)
    for method, path in (("GET", "billing/customers"), ("POST", "invoicing/runs"), ("GET", "invoicing/drafts/1/pdf")):
        response = requests.request(method, f"{host.base_url}/{path}", params={"apikey": key}, timeout=30)
        assert response.status_code == 403, path
        assert response.json()["Success"] is False


def test_a_run_with_an_idempotency_key_is_performed_once(host: DevHost, make_key: KeyMaker) -> None:
    admin, client = _setup(host, make_key)
    _note(client, "2026-10-02T08:00", "2026-10-02T09:00", ticketID=4711)
    headers = {"Idempotency-Key": "run-" + uuid.uuid4().hex}

    first = admin.call("POST", "invoicing/runs", {"period": "2026-10"}, headers=headers)
    again = admin.call("POST", "invoicing/runs", {"period": "2026-10"}, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert [d["draftId"] for d in first.json()["drafts"]] == [1]
