"""Manual drafts and line editing over real HTTP, through the local host, against Azurite: every edit
conditional on the draft's version (ETag / If-Match), totals to the cent, notes released and billed
again, bad input named by field."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import requests

from devhost.processes import DevHost
from tests.integration.test_invoicing_api import Admin, _mail_server_note, _setup
from tests.support.app import KeyMaker


def _edit(admin: Admin, method: str, path: str, version: str | None, body: Any = None) -> requests.Response:
    headers = {"If-Match": f'"{version}"'} if version is not None else {}
    return admin.call(method, path, body, headers=headers)


def _ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    return body


def _refused(answer: requests.Response, status: int, field: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["Errors"][0]["Field"] == field, answer.text


def _line(draft: dict[str, Any], line_id: str) -> dict[str, Any]:
    (line,) = [line for line in draft["lines"] if line["lineId"] == line_id]
    assert isinstance(line, dict)
    return line


def _consistent(draft: dict[str, Any]) -> None:
    """Totals follow from the lines, to the cent."""
    amounts = {
        kind: sum((Decimal(line["amount"]) for line in draft["lines"] if line["kind"] == kind), Decimal("0.00"))
        for kind in ("time", "surcharge", "manual")
    }
    totals = draft["totals"]
    assert Decimal(totals["time"]) == amounts["time"]
    assert Decimal(totals["surcharges"]) == amounts["surcharge"]
    assert Decimal(totals["manual"]) == amounts["manual"]
    assert Decimal(totals["net"]) == sum(amounts.values())
    assert totals["lines"] == len(draft["lines"])


def _one_draft(host: DevHost, make_key: KeyMaker) -> tuple[Admin, str, dict[str, Any]]:
    admin, client = _setup(host, make_key)
    note = _mail_server_note(client)
    run = admin.ok("POST", "invoicing/runs", {"period": "2026-10"})
    assert [d["draftId"] for d in run["drafts"]] == [1]
    return admin, note, _ok(admin.call("GET", "invoicing/drafts/1"))


def test_a_time_line_is_repriced_and_renamed_and_a_manual_line_added_changed_and_removed(
    host: DevHost, make_key: KeyMaker
) -> None:
    admin, note, draft = _one_draft(host, make_key)
    time = _line(draft, f"time:{note}")
    assert (time["kind"], time["quantity"], time["unitPrice"], time["amount"], time["period"]) == (
        "time",
        "2.25",
        "90.00",
        "202.50",
        "2026-10",
    )
    assert _line(draft, f"surcharge:{note}")["amount"] == "50.63"
    listed = admin.ok("GET", "invoicing/drafts")["drafts"]
    assert [d["version"] for d in listed] == [draft["version"]]

    repriced = _ok(
        _edit(
            admin,
            "PATCH",
            f"invoicing/drafts/1/lines/time:{note}",
            draft["version"],
            {"unitPrice": "100", "description": "Mail server maintenance"},
        )
    )
    assert repriced["version"] != draft["version"]
    time = _line(repriced, f"time:{note}")
    assert (time["amount"], time["unitPrice"], time["description"], time["noteId"]) == (
        "225.00",
        "100.00",
        "Mail server maintenance",
        note,
    )
    assert _line(repriced, f"surcharge:{note}")["amount"] == "56.25"  # 25 % follows the new amount
    assert repriced["totals"]["net"] == "281.25"

    added = _ok(
        _edit(
            admin,
            "POST",
            "invoicing/drafts/1/lines",
            repriced["version"],
            {
                "productNumber": "SUP-1",
                "description": "Toner",
                "quantity": 3,
                "unitPrice": "19.99",
                "period": "2026-10",
            },
        )
    )
    (manual,) = [line for line in added["lines"] if line["kind"] == "manual"]
    assert manual["lineId"].startswith("manual:")
    assert (manual["noteId"], manual["contractId"], manual["ticketId"], manual["user"], manual["hint"]) == (
        None,
        None,
        None,
        "",
        "",
    )
    assert (manual["quantity"], manual["unitPrice"], manual["amount"], manual["minutes"]) == ("3", "19.99", "59.97", 0)
    assert (added["totals"]["manual"], added["totals"]["net"]) == ("59.97", "341.22")

    changed = _ok(
        _edit(
            admin,
            "PATCH",
            f"invoicing/drafts/1/lines/{manual['lineId']}",
            added["version"],
            {"quantity": "2.5", "unitPrice": 0.33, "period": None},
        )
    )
    line = _line(changed, manual["lineId"])
    assert (line["amount"], line["period"], line["description"]) == ("0.83", None, "Toner")  # 0.825 half-up
    no_surcharge = _ok(_edit(admin, "DELETE", f"invoicing/drafts/1/lines/surcharge:{note}", changed["version"]))
    assert [line["kind"] for line in no_surcharge["lines"]] == ["time", "manual"]
    assert no_surcharge["totals"]["net"] == "225.83"
    removed = _ok(_edit(admin, "DELETE", f"invoicing/drafts/1/lines/{manual['lineId']}", no_surcharge["version"]))
    assert [line["kind"] for line in removed["lines"]] == ["time"]
    again = _ok(admin.call("GET", "invoicing/drafts/1"))
    assert again == removed  # what the answer said is what is stored
    for state in (repriced, added, changed, no_surcharge, removed):
        _consistent(state)


def test_deleting_a_time_line_releases_its_note_for_the_next_run(host: DevHost, make_key: KeyMaker) -> None:
    admin, note, draft = _one_draft(host, make_key)

    released = _ok(_edit(admin, "DELETE", f"invoicing/drafts/1/lines/time:{note}", draft["version"]))
    rerun = admin.ok("POST", "invoicing/runs", {"period": "2026-10"})

    assert released["lines"] == []  # its surcharge went with it
    assert (released["totals"]["net"], released["totals"]["notes"]) == ("0.00", 0)
    assert [(d["draftId"], d["totals"]["net"]) for d in rerun["drafts"]] == [(2, "253.13")]  # billed afresh
    assert _ok(admin.call("GET", "invoicing/drafts/1"))["lines"] == []


def test_two_edits_from_the_same_version_one_wins_the_other_is_412(host: DevHost, make_key: KeyMaker) -> None:
    admin, note, draft = _one_draft(host, make_key)
    answers: list[requests.Response] = []
    start = threading.Barrier(2)

    def edit(price: str) -> None:
        start.wait()
        answers.append(
            _edit(admin, "PATCH", f"invoicing/drafts/1/lines/time:{note}", draft["version"], {"unitPrice": price})
        )

    threads = [threading.Thread(target=edit, args=(price,)) for price in ("100", "110")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
    (won,) = [a for a in answers if a.status_code == 200]
    (lost,) = [a for a in answers if a.status_code == 412]
    assert lost.json()["Errors"][0]["Field"] == "draftId"
    assert "draft 1" in lost.json()["Message"]
    stored = _ok(admin.call("GET", "invoicing/drafts/1"))
    assert stored["version"] == won.json()["version"]
    assert _line(stored, f"time:{note}")["unitPrice"] == _line(won.json(), f"time:{note}")["unitPrice"]
    _consistent(stored)
    stale = _edit(admin, "POST", "invoicing/drafts/1/lines", draft["version"], _supply())
    assert stale.status_code == 412


def _supply(**fields: Any) -> dict[str, Any]:
    return {"productNumber": "SUP-1", "description": "Toner", "quantity": "1", "unitPrice": "10.00", **fields}


def test_a_manual_draft_is_created_once_per_idempotency_key_and_merges_with_a_run_draft(
    host: DevHost, make_key: KeyMaker
) -> None:
    admin, _, _ = _one_draft(host, make_key)
    body = {
        "customerId": 1,
        "period": "2026-10",
        "lines": [
            _supply(description="Fixed fee October", quantity=1, unitPrice="1500"),
            _supply(quantity="-1", unitPrice="12.5", description="Credit for a late visit"),
        ],
    }

    created = admin.call("POST", "invoicing/drafts", body, headers={"Idempotency-Key": "fee-oct"})
    replay = admin.call("POST", "invoicing/drafts", body, headers={"Idempotency-Key": "fee-oct"})

    assert created.status_code == 201, created.text
    manual = created.json()
    assert created.headers["ETag"] == f'"{manual["version"]}"'
    assert (manual["draftId"], manual["status"], manual["periodFrom"]) == (2, "open", "2026-10")
    assert [(line["kind"], line["amount"]) for line in manual["lines"]] == [("manual", "1500.00"), ("manual", "-12.50")]
    assert (manual["totals"]["manual"], manual["totals"]["net"], manual["totals"]["notes"]) == ("1487.50", "1487.50", 0)
    assert (replay.status_code, replay.json()["draftId"]) == (201, 2)
    assert (replay.headers["Idempotent-Replayed"], replay.headers["ETag"]) == ("true", created.headers["ETag"])
    assert [d["draftId"] for d in admin.ok("GET", "invoicing/drafts")["drafts"]] == [1, 2]

    merged = admin.ok("POST", "invoicing/merges", {"draftIds": [1, 2]})

    assert [line["kind"] for line in merged["lines"]] == ["time", "surcharge", "manual", "manual"]
    assert merged["totals"]["net"] == "1740.63"  # 253.13 + 1487.50
    fee = merged["lines"][2]["lineId"]
    edited = _ok(_edit(admin, "DELETE", f"invoicing/drafts/1/lines/{fee}", merged["version"]))
    assert edited["totals"]["net"] == "240.63"
    _consistent(edited)
    assert admin.call("GET", "invoicing/drafts/2").json()["status"] == "merged"


def test_preconditions_missing_lines_and_closed_drafts(host: DevHost, make_key: KeyMaker) -> None:
    admin, note, draft = _one_draft(host, make_key)
    version = draft["version"]

    without = _edit(admin, "POST", "invoicing/drafts/1/lines", None, _supply())
    assert without.status_code == 428
    assert without.json()["Errors"][0]["Field"] == "If-Match"
    assert _edit(admin, "POST", "invoicing/drafts/1/lines", "bogus", _supply()).status_code == 412
    assert _edit(admin, "POST", "invoicing/drafts/99/lines", version, _supply()).status_code == 404
    for line_id in ("time:nope", "manual:77", "surcharge:x", "other:1", "manual"):
        missing = _edit(admin, "DELETE", f"invoicing/drafts/1/lines/{line_id}", version)
        assert missing.status_code == 404, line_id
        assert missing.json()["Errors"][0]["Field"] == "lineId"

    refused = _edit(admin, "PATCH", f"invoicing/drafts/1/lines/time:{note}", version, {"quantity": 2, "period": None})
    assert refused.status_code == 422
    assert {e["Field"] for e in refused.json()["Errors"]} == {"quantity", "period"}
    surcharge = _edit(admin, "PATCH", f"invoicing/drafts/1/lines/surcharge:{note}", version, {"unitPrice": 1})
    _refused(surcharge, 422, "unitPrice")
    negative = _edit(admin, "PATCH", f"invoicing/drafts/1/lines/time:{note}", version, {"unitPrice": -1})
    _refused(negative, 422, "unitPrice")
    nothing = _edit(admin, "PATCH", f"invoicing/drafts/1/lines/time:{note}", version, {})
    _refused(nothing, 400, "body")
    unknown = admin.call(
        "POST", "invoicing/drafts", {"customerId": 99, "lines": [_supply()]}, headers={"Idempotency-Key": "x"}
    )
    _refused(unknown, 422, "customerId")

    assert admin.ok("DELETE", "invoicing/drafts/1")["Success"] is True
    closed = _edit(admin, "POST", "invoicing/drafts/1/lines", "*", _supply())
    assert closed.status_code == 422
    assert closed.json()["Errors"][0] == {
        "Field": "draftId",
        "Message": "draft 1 is deleted, only open drafts can be edited",
    }
    assert _edit(admin, "POST", "invoicing/drafts/1/lines", version, _supply()).status_code == 412  # it changed


def test_bad_lines_are_400_naming_the_field(host: DevHost, make_key: KeyMaker) -> None:
    admin, _, draft = _one_draft(host, make_key)
    cases = {
        "lines[0].quantity": _supply(quantity="1.234"),
        "lines[0].unitPrice": _supply(unitPrice="abc"),
        "lines[0].description": _supply(description="   "),
        "lines[0].productNumber": _supply(productNumber="x" * 26),
        "lines[0].period": _supply(period="2026-13"),
    }
    for field, line in cases.items():
        answer = admin.call("POST", "invoicing/drafts", {"customerId": 1, "lines": [line]})
        assert answer.status_code == 400, (field, answer.text)
        assert [e["Field"] for e in answer.json()["Errors"]] == [field], answer.text
    for body, field in (
        ({"customerId": 1, "lines": []}, "lines"),
        ({"customerId": 1, "lines": [_supply()] * 100}, "lines"),
        ({"customerId": 1, "lines": [_supply(quantity=0)]}, "lines[0].quantity"),
        ({"customerId": 1, "lines": [_supply(quantity="1e6")]}, "lines[0].quantity"),
        ({"customerId": 1, "lines": [_supply(unitPrice=1e9)]}, "lines[0].unitPrice"),
        ({"customerId": 1, "lines": [_supply(description="x" * 251)]}, "lines[0].description"),
        ({"customerId": "one", "lines": [_supply()]}, "customerId"),
    ):
        answer = admin.call("POST", "invoicing/drafts", body)
        assert answer.status_code == 400, (body, answer.text)
        assert field in [e["Field"] for e in answer.json()["Errors"]], answer.text
    line_id = "time:x"
    for patch, field in (({"unitPrice": "1.001"}, "unitPrice"), ({"description": None}, "description")):
        answer = _edit(admin, "PATCH", f"invoicing/drafts/1/lines/{line_id}", draft["version"], patch)
        _refused(answer, 400, field)
    assert admin.ok("GET", "invoicing/drafts/1")["version"] == draft["version"]  # nothing changed
