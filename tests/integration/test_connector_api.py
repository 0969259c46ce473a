"""The connector actions over real HTTP, through the local host, against Azurite."""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import requests

from devhost.processes import DevHost
from tests.support.app import NOTE, Client, KeyMaker


def test_position_note_is_recorded_and_read_back(client: Client) -> None:
    created = client.post("CreateInvoicePositionNote", NOTE)

    assert created.status_code == 200
    body = created.json()
    assert body["Success"] is True
    assert body["Message"]
    note_id = body["invoiceNoteId"]
    [item] = client.list()["Results"]
    assert item["AssignmentId"] == note_id
    assert item["MinAssignmentTime"] == "2024-05-02T08:00:00+02:00"  # local time read in Europe/Berlin
    assert item["MaxAssignmentTime"] == "2024-05-02T10:30:00+02:00"
    assert item["PositionsUnits"] == {
        "Minutes": 135,
        "Quantity": 2.25,
        "MinutesNoInvoice": 0,
        "QuantityNoInvoice": 0,
        "Pause": 15,
    }
    assert item["UserInfo"]["UserName"] == "anna"
    assert item["TicketId"] == 4711
    assert item["Ticket"]["ServiceContractID"] == 12
    assert item["AssignmentType"]["AssignmentTypeName"] == "Position note"
    assert item["Assignmenttext"] == "Patched the mail server"


def test_activity_recording_is_recorded_and_read_back(client: Client) -> None:
    created = client.post(
        "CreateActivityRecording",
        {
            "dateFrom": "2024-05-03T06:00:00Z",
            "dateTo": "2024-05-03T07:30:00Z",
            "Quantity": 1.5,
            "bookText": "Install printer",
            "noteText": "Third floor",
            "ticketID": "88",
            "projectId": 5,
        },
    )

    assert created.status_code == 200, created.text
    recording_id = created.json()["ActivityRecordingId"]
    [item] = client.list()["Results"]
    assert item["AssignmentId"] == recording_id
    assert item["AssignmentType"]["AssignmentTypeName"] == "Activity recording"
    assert item["MinAssignmentTime"] == "2024-05-03T06:00:00Z"
    assert item["PositionsUnits"]["Minutes"] == 90
    assert item["PositionsUnits"]["Quantity"] == 1.5
    assert (item["Assignmenttext"], item["AssignmentPositionText"]) == ("Install printer", "Third floor")
    assert item["TicketId"] == 88


def test_first_connector_version_path_creates_a_position_note(client: Client) -> None:
    created = client.post("CreateTicket", NOTE)

    assert created.status_code == 200, created.text
    [item] = client.list()["Results"]
    assert item["AssignmentId"] == created.json()["invoiceNoteId"]
    assert item["AssignmentType"]["AssignmentTypeName"] == "Position note"


def test_power_automate_strings_for_booleans_and_ids_are_accepted(client: Client) -> None:
    created = client.post(
        "CreateInvoicePositionNote",
        {**NOTE, "noInvoice": "true", "extraCharge": "false", "ticketID": "4711", "pause": "PT30M"},
    )

    assert created.status_code == 200, created.text
    [item] = client.list()["Results"]
    assert item["PositionsUnits"]["MinutesNoInvoice"] == 120
    assert item["PositionsUnits"]["Minutes"] == 0
    assert item["ExtraCharge"] is False


def test_invalid_body_is_refused_naming_each_field_and_nothing_is_stored(client: Client) -> None:
    response = client.post(
        "CreateInvoicePositionNote",
        {"dateFrom": "yesterday", "dateTo": "2024-05-02T10:00:00", "noInvoice": "maybe", "ticketID": -3},
    )

    assert response.status_code == 400
    body = response.json()
    assert body["Success"] is False
    fields = {e["Field"]: e["Message"] for e in body["Errors"]}
    assert set(fields) == {"dateFrom", "noInvoice", "extraCharge", "ticketID"}
    assert "ISO 8601" in fields["dateFrom"]
    assert fields["extraCharge"] == "is required"
    assert client.list()["Count"] == 0


def test_span_rules_are_checked(client: Client) -> None:
    backwards = client.post("CreateInvoicePositionNote", {**NOTE, "dateTo": "2024-05-02T07:00:00"})
    long_pause = client.post("CreateInvoicePositionNote", {**NOTE, "pause": "03:00"})

    assert backwards.status_code == 400
    assert backwards.json()["Errors"] == [{"Field": "dateTo", "Message": "must be after dateFrom"}]
    assert long_pause.status_code == 400
    assert long_pause.json()["Errors"][0]["Field"] == "pause"


def test_malformed_json_is_a_400_not_a_500(client: Client) -> None:
    response = client.post(
        "CreateInvoicePositionNote", data=b'{"dateFrom": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["Errors"][0]["Field"] == "body"
    assert "not valid JSON" in response.json()["Message"]


def test_body_over_one_megabyte_is_refused_with_413(client: Client) -> None:
    response = client.post("CreateInvoicePositionNote", {**NOTE, "hint": "x" * (1024 * 1024)})

    assert response.status_code == 413
    assert response.json()["Success"] is False


def test_calls_without_a_valid_key_are_refused(host: DevHost, make_key: KeyMaker) -> None:
    good = make_key()
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")

    for key in (None, "not-a-key", tampered):
        response = Client(host.base_url, key).post("CreateInvoicePositionNote", NOTE)
        assert response.status_code == 401
        assert response.json()["Success"] is False
        if key:
            assert key not in response.text


def test_key_is_accepted_from_apikey_variants_and_header(host: DevHost, make_key: KeyMaker) -> None:
    key = make_key()
    url = f"{host.base_url}/ApiInvoice/CreateInvoicePositionNote"

    assert requests.post(url, params={"apiKey": key}, json=NOTE, timeout=30).status_code == 200
    assert requests.post(url, headers={"X-Api-Key": key}, json=NOTE, timeout=30).status_code == 200


def test_key_without_the_right_gets_403(host: DevHost, make_key: KeyMaker) -> None:
    reader = Client(host.base_url, make_key(rights=["GetServiceAssignmentsDispatcher"]))

    response = reader.post("CreateInvoicePositionNote", NOTE)

    assert response.status_code == 403
    assert "CreateInvoicePositionNote" in response.json()["Message"]
    assert [(e["Field"], e["Message"].split(" (")[0]) for e in response.json()["Errors"]] == [
        ("apikey", "needs the CreateInvoicePositionNote right")
    ]
    assert reader.list()["Count"] == 0


def test_revoked_key_stops_working(host: DevHost, make_key: KeyMaker, app_env: dict[str, str]) -> None:
    from shared.container import build

    key = make_key()
    client = Client(host.base_url, key)
    assert client.post("CreateInvoicePositionNote", NOTE).status_code == 200

    build(app_env).keys.revoke(key.split("_")[1])
    time.sleep(1.2)  # the host caches key lookups for API_KEY_CACHE_SECONDS (1 s in tests)

    assert client.post("CreateInvoicePositionNote", NOTE).status_code == 401


def test_tenants_only_see_their_own_work(host: DevHost, make_key: KeyMaker) -> None:
    tenant = "acme-" + uuid.uuid4().hex[:6]
    first = Client(host.base_url, make_key(tenant))
    colleague = Client(host.base_url, make_key(tenant))
    stranger = Client(host.base_url, make_key())

    first.post("CreateInvoicePositionNote", NOTE)
    colleague.post("CreateInvoicePositionNote", {**NOTE, "pause": None, "username": "ben"})

    mine = first.list()
    assert mine["Count"] == 2
    assert mine["TotalHours"] == 2.25 + 2.5
    assert mine["OwnHours"] == 2.25
    assert stranger.list()["Count"] == 0


def test_listing_filters_orders_and_pages(client: Client) -> None:
    for day, user, no_invoice in ((2, "anna", False), (3, "ben", True), (4, "anna", False)):
        body = {
            **NOTE,
            "dateFrom": f"2024-05-0{day}T08:00:00",
            "dateTo": f"2024-05-0{day}T09:00:00",
            "username": user,
            "noInvoice": no_invoice,
            "pause": None,
        }
        assert client.post("CreateInvoicePositionNote", body).status_code == 200

    newest_first = client.list(OrderByAsc=False, PageSize=2)
    billable = client.list(AdditionalSearchData={"IsInvoice": True})
    bens = client.list(Search="BEN")
    in_may_3 = client.list(
        AdditionalSearchData={"DateTimeFrom": "2024-05-03T00:00:00", "DateTimeTo": "2024-05-04T00:00:00"}
    )

    assert newest_first["Count"] == 3
    assert newest_first["Filtered"] == 3
    assert [r["MinAssignmentTime"][:10] for r in newest_first["Results"]] == ["2024-05-04", "2024-05-03"]
    assert client.list(Skip=2, PageSize=2)["Results"][0]["MinAssignmentTime"][:10] == "2024-05-04"
    assert billable["Filtered"] == 2
    assert billable["Count"] == 3
    assert [r["UserInfo"]["UserName"] for r in bens["Results"]] == ["ben"]
    assert [r["MinAssignmentTime"][:10] for r in in_may_3["Results"]] == ["2024-05-03"]


def test_over_the_limit_gets_429_with_retry_after_then_is_admitted(host: DevHost, make_key: KeyMaker) -> None:
    client = Client(host.base_url, make_key(limit=3, period_seconds=2))

    statuses = [client.post("CreateInvoicePositionNote", NOTE).status_code for _ in range(3)]
    refused = client.post("CreateInvoicePositionNote", NOTE)

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["Success"] is False
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 2
    time.sleep(retry_after)
    assert client.post("CreateInvoicePositionNote", NOTE).status_code == 200


def test_idempotency_key_replays_the_first_answer(client: Client) -> None:
    key = {"Idempotency-Key": "run-1/action-1/" + uuid.uuid4().hex}

    first = client.post("CreateInvoicePositionNote", NOTE, headers=key)
    again = client.post("CreateInvoicePositionNote", NOTE, headers=key)
    other_body = client.post("CreateInvoicePositionNote", {**NOTE, "hint": "something else"}, headers=key)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422
    assert other_body.json()["Errors"][0]["Field"] == "Idempotency-Key"
    assert client.list()["Count"] == 1


def test_concurrent_retries_with_one_idempotency_key_create_one_record(client: Client) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: client.post("CreateInvoicePositionNote", NOTE, headers=key), range(8)))

    # A repeat meeting the first still running waits for its answer; only one still running after that
    # wait gets 503 + Retry-After (a status Logic Apps retries; it does not retry 409). Issue 15, item 6.
    assert {r.status_code for r in responses} <= {200, 503}
    ids = {r.json()["invoiceNoteId"] for r in responses if r.status_code == 200}
    assert len(ids) == 1
    assert all("Retry-After" in r.headers for r in responses if r.status_code == 503)
    assert client.list()["Count"] == 1


def test_responses_report_storage_time(client: Client) -> None:
    response = client.post("CreateInvoicePositionNote", NOTE)

    timing = response.headers["Server-Timing"]
    assert "storage;dur=" in timing
    assert "round trips" in timing
    assert "total;dur=" in timing


def test_unknown_action_is_404(client: Client) -> None:
    assert client.post("CreateSomethingElse", NOTE).status_code == 404


def test_paths_outside_the_api_are_404(host: DevHost) -> None:
    assert requests.get(f"{host.base_url}/not-here", timeout=30).status_code == 404


def test_health_is_200_when_storage_answers(host: DevHost) -> None:
    response = requests.get(f"{host.base_url}/health", timeout=30)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
