"""The specification report (issue 17) over real HTTP, through the local host, against Azurite: the
hours behind one draft or a set of drafts, as CSV and PDF, and bad input named, never a 500."""

from __future__ import annotations

import csv
import io

import pypdf
import requests

from devhost.processes import DevHost
from shared.invoicing.specification_csv import COLUMNS
from tests.integration.test_invoicing_api import Admin, _note, _setup
from tests.support.app import Client, KeyMaker


def _drafts(host: DevHost, make_key: KeyMaker) -> tuple[Admin, Client, str]:
    admin, client = _setup(host, make_key)
    first = _note(
        client,
        "2026-10-02T08:00",
        "2026-10-02T10:30",
        pause="00:15",
        hint='=HYPERLINK("http://evil.example","click"), then "quoted"\nsecond line',
        username="Łukasz",
        ticketID=4711,
        extraCharge=True,
    )
    _note(client, "2026-10-20T09:00", "2026-10-20T09:10", serviceContractID=20, username="@bo", hint="-1+2")
    run = admin.ok("POST", "invoicing/runs", {"period": "2026-10"})
    assert [d["draftId"] for d in run["drafts"]] == [1, 2]
    return admin, client, first


def _rows(response: requests.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))


def test_one_drafts_hours_as_csv_one_row_per_note_with_the_raw_and_billed_minutes(
    host: DevHost, make_key: KeyMaker
) -> None:
    admin, _, first = _drafts(host, make_key)

    response = admin.call("GET", "invoicing/drafts/1/specification", params={"format": "csv"})

    assert response.headers["Content-Disposition"] == 'attachment; filename="specification-draft-1.csv"'
    assert response.content.decode("utf-8").splitlines()[0] == ",".join(COLUMNS)
    [row] = _rows(response)
    assert row == {
        "draftId": "1",
        "customerId": "1",
        "customer": "Łukasz & Söhne GmbH",
        "kind": "note",
        "noteId": first,
        "date": "2026-10-02",
        "start": "2026-10-02 08:00",
        "end": "2026-10-02 10:30",
        "user": "Łukasz",
        "ticketId": "4711",
        "contractId": "12",
        "minutes": "135",
        "pause": "15",
        "billableMinutes": "135",
        "hours": "2.25",
        "rate": "90.00",
        "quantity": "",
        "unitPrice": "",
        "amount": "202.50",
        "surchargePercent": "25",
        "surcharge": "50.63",
        "productNumber": "SUPPORT-1",
        # A formula is shown as text (OWASP "CSV Injection"); quotes, comma and line break survive RFC 4180.
        "text": '\'=HYPERLINK("http://evil.example","click"), then "quoted"\nsecond line',
    }


def test_a_set_of_drafts_as_csv_and_pdf(host: DevHost, make_key: KeyMaker) -> None:
    admin, _, _ = _drafts(host, make_key)

    rows = _rows(admin.call("GET", "invoicing/specification", params={"draftIds": "2,1", "format": "csv"}))
    pdf = admin.call("GET", "invoicing/specification", params={"draftIds": "1,2"})

    assert [(r["draftId"], r["user"], r["text"], r["minutes"]) for r in rows] == [
        ("2", "'@bo", "'-1+2", "10"),
        ("1", "Łukasz", rows[1]["text"], "135"),
    ]
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="specification-2-drafts-1-to-2.pdf"'
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in ("2 drafts", "Draft 1", "Draft 2", "Łukasz", "HYPERLINK", "Other AS", "135", "4711"):
        assert expected in text, expected


def test_one_draft_as_pdf_by_default(host: DevHost, make_key: KeyMaker) -> None:
    admin, _, _ = _drafts(host, make_key)

    response = admin.call("GET", "invoicing/drafts/1/specification")

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="specification-draft-1.pdf"'
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    assert "Specification of hours — draft 1" in text
    assert "135 minutes worked, 15 minutes pause" in text


def test_bad_input_is_named_never_a_500(host: DevHost, make_key: KeyMaker) -> None:
    admin, _, _ = _drafts(host, make_key)
    admin.ok("DELETE", "invoicing/drafts/2")

    cases = [
        ("invoicing/drafts/1/specification", {"format": "xls"}, 400, "format", "must be pdf or csv"),
        ("invoicing/drafts/0/specification", {}, 400, "draftId", "positive"),
        ("invoicing/drafts/99/specification", {}, 404, "draftId", "no draft 99"),
        ("invoicing/drafts/2/specification", {}, 422, "draftId", "draft 2 is deleted"),
        ("invoicing/specification", {}, 400, "draftIds", ""),
        ("invoicing/specification", {"draftIds": ""}, 400, "draftIds", "is required"),
        ("invoicing/specification", {"draftIds": ","}, 400, "draftIds", "1 to 100 draft ids"),
        ("invoicing/specification", {"draftIds": "1,x"}, 400, "draftIds", "1 to 100 draft ids"),
        ("invoicing/specification", {"draftIds": ",".join(map(str, range(1, 102)))}, 400, "draftIds", "1 to 100"),
        ("invoicing/specification", {"draftIds": "9" * 30}, 400, "draftIds", ""),
        ("invoicing/specification", {"draftIds": "1,2,99"}, 422, "draftIds", "draft 99 does not exist"),
        ("invoicing/specification", {"draftIds": "1", "format": "PDF"}, 400, "format", "pdf or csv"),
    ]
    for path, params, status, field, message in cases:
        response = admin.call("GET", path, params=params)
        assert response.status_code == status, (path, params, response.text)
        errors = response.json()["Errors"]
        assert field in {e["Field"] for e in errors}, (path, params, errors)
        assert any(message in e["Message"] for e in errors), (path, params, errors)
    unknown = admin.call("GET", "invoicing/specification", params={"draftIds": "1,2,99"}).json()["Errors"]
    assert {e["Message"] for e in unknown} == {
        "draft 2 is deleted; only open, exported or booked drafts",
        "draft 99 does not exist",
    }


def test_a_merged_draft_lists_the_notes_of_every_draft_merged_into_it(host: DevHost, make_key: KeyMaker) -> None:
    admin, client = _setup(host, make_key)
    october = _note(client, "2026-10-02T08:00", "2026-10-02T09:00", ticketID=4711, username="a")
    november = _note(client, "2026-11-03T08:00", "2026-11-03T08:20", ticketID=4711, username="b")
    admin.ok("POST", "invoicing/runs", {"period": "2026-10"})
    admin.ok("POST", "invoicing/runs", {"period": "2026-11"})
    admin.ok("POST", "invoicing/merges", {"draftIds": [1, 2]})

    rows = _rows(admin.call("GET", "invoicing/drafts/1/specification", params={"format": "csv"}))
    absorbed = admin.call("GET", "invoicing/drafts/2/specification")

    assert [(r["draftId"], r["noteId"], r["billableMinutes"]) for r in rows] == [
        ("1", october, "60"),
        ("1", november, "30"),  # 20 minutes, rounded up to the contract's 15
    ]
    assert absorbed.status_code == 422
    assert absorbed.json()["Errors"] == [
        {"Field": "draftId", "Message": "draft 2 is merged into draft 1; only open, exported or booked drafts"}
    ]


def test_a_drafts_manual_lines_are_listed_after_its_notes(host: DevHost, make_key: KeyMaker) -> None:
    admin, _, first = _drafts(host, make_key)
    version = admin.ok("GET", "invoicing/drafts/1")["version"]
    line = {"productNumber": "KM", "description": "=Mileage", "quantity": "42.5", "unitPrice": "3.51"}
    admin.ok("POST", "invoicing/drafts/1/lines", line, headers={"If-Match": f'"{version}"'})

    rows = _rows(admin.call("GET", "invoicing/drafts/1/specification", params={"format": "csv"}))

    assert [(r["kind"], r["noteId"]) for r in rows] == [("note", first), ("manual", "")]
    manual = rows[1]
    assert (manual["quantity"], manual["unitPrice"], manual["amount"], manual["productNumber"]) == (
        "42.5",
        "3.51",
        "149.18",
        "KM",
    )
    assert manual["text"] == "'=Mileage"  # formula guard on manual text too
    pdf = admin.call("GET", "invoicing/drafts/1/specification")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "=Mileage" in text
    assert "149.18" in text
