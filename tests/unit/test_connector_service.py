"""The connector actions: what a create stores, and what a listing answers."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jsonschema import Draft4Validator

from shared.connector import routes
from shared.connector.routes import list_assignments
from shared.connector.schemas import MAX_PAGE_SIZE, ActivityRecordingIn, ListAssignmentsIn, PositionNoteIn
from shared.connector.service import ConnectorService
from shared.errors import DomainError
from shared.platform.keys import CONNECTOR_RIGHTS, Principal
from shared.validation import validate
from shared.web.openapi import build_document
from shared.web.registry import Call
from shared.web.status import error_body, http_status
from shared.web.types import ApiRequest, dumps
from shared.work import BilledIn, WorkRecord
from tests.support.fakes import FakeClock, FakeWorkRepository
from tests.support.reference import inline_refs, operation

BERLIN = ZoneInfo("Europe/Berlin")
RIGHTS = frozenset(CONNECTOR_RIGHTS)
ALICE = Principal("k-alice", "acme", "Alice", RIGHTS, 100, 60)
BOB = Principal("k-bob", "acme", "Bob", RIGHTS, 100, 60)
OTHER_TENANT = Principal("k-globex", "globex", "Gina", RIGHTS, 100, 60)


class SteppingClock(FakeClock):
    """Every reading is a minute after the previous one, so records have distinct creation times."""

    def now(self) -> datetime:
        current = super().now()
        self.advance(timedelta(minutes=1))
        return current


@pytest.fixture
def repo() -> FakeWorkRepository:
    return FakeWorkRepository()


@pytest.fixture
def service(repo: FakeWorkRepository) -> ConnectorService:
    return ConnectorService(repo, clock=SteppingClock(datetime(2024, 6, 1, 12, 0, tzinfo=UTC)).now)


def note_in(
    start: str = "2024-05-02T08:00:00+02:00",
    end: str = "2024-05-02T09:30:00+02:00",
    *,
    no_invoice: bool = False,
    **fields: Any,
) -> PositionNoteIn:
    body = {"dateFrom": start, "dateTo": end, "noInvoice": no_invoice, "extraCharge": False, **fields}
    return validate(PositionNoteIn, body, BERLIN)


def recording_in(
    start: str = "2024-05-02T08:00:00+02:00", end: str = "2024-05-02T09:00:00+02:00", **fields: Any
) -> ActivityRecordingIn:
    return validate(ActivityRecordingIn, {"dateFrom": start, "dateTo": end, **fields}, BERLIN)


def listing(service: ConnectorService, who: Principal = ALICE, **fields: Any) -> dict[str, Any]:
    body = {"Skip": 0, "PageSize": 100, "OrderByAsc": True, "OrderColumns": 6, "TakeAll": False, **fields}
    return service.list_assignments(who, validate(ListAssignmentsIn, body, BERLIN))


def ids(result: dict[str, Any]) -> list[str]:
    return [item["AssignmentId"] for item in result["Results"]]


def stored(repo: FakeWorkRepository, tenant: str, record_id: str) -> WorkRecord:
    record = repo.get(tenant, record_id)
    assert record is not None
    return record


# --- creating ------------------------------------------------------------------------------------


def test_position_note_stores_what_was_given(service: ConnectorService, repo: FakeWorkRepository) -> None:
    data = note_in(
        pause="00:15",
        no_invoice=True,
        extraCharge=True,
        hint="Patched the mail server",
        username="anna",
        ticketID=4711,
        ticketPositionID=3,
        serviceContractID=12,
    )

    record_id = service.create_position_note(ALICE, data)

    record = stored(repo, "acme", record_id)
    assert record.date_from == datetime(2024, 5, 2, 6, 0, tzinfo=UTC)
    assert record.date_to == datetime(2024, 5, 2, 7, 30, tzinfo=UTC)
    assert record.pause == timedelta(minutes=15)
    assert record.minutes == 75
    assert (record.no_invoice, record.extra_charge) == (True, True)
    assert (record.hint, record.username) == ("Patched the mail server", "anna")
    assert (record.ticket_id, record.ticket_position_id, record.service_contract_id) == (4711, 3, 12)
    assert (record.tenant, record.key_id, record.recorded_by) == ("acme", "k-alice", "Alice")


def test_position_note_without_pause_counts_the_whole_span(service: ConnectorService, repo: FakeWorkRepository) -> None:
    record_id = service.create_position_note(ALICE, note_in())

    assert stored(repo, "acme", record_id).minutes == 90


def test_activity_recording_stores_what_was_given(service: ConnectorService, repo: FakeWorkRepository) -> None:
    data = recording_in(Quantity="1.25", bookText="Install", noteText="Details", ticketID=7, projectId=70)

    record_id = service.create_activity_recording(BOB, data)

    record = stored(repo, "acme", record_id)
    assert record.quantity == Decimal("1.25")
    assert (record.book_text, record.note_text, record.ticket_id, record.project_id) == ("Install", "Details", 7, 70)
    assert (record.key_id, record.minutes) == ("k-bob", 60)


def test_same_generation_gives_the_same_record_id_and_one_record(
    service: ConnectorService, repo: FakeWorkRepository
) -> None:
    first = service.create_position_note(ALICE, note_in(), generation="gen-1")
    again = service.create_position_note(ALICE, note_in(), generation="gen-1")

    assert again == first
    assert repo.count("acme") == 1


def test_different_generations_give_different_record_ids(service: ConnectorService) -> None:
    first = service.create_position_note(ALICE, note_in(), generation="gen-1")
    second = service.create_position_note(ALICE, note_in(), generation="gen-2")

    assert first != second


def test_without_a_generation_every_create_is_a_new_record(service: ConnectorService, repo: FakeWorkRepository) -> None:
    made = {service.create_position_note(ALICE, note_in()) for _ in range(3)}

    assert len(made) == 3
    assert repo.count("acme") == 3


def test_same_generation_in_two_tenants_gives_two_records(service: ConnectorService, repo: FakeWorkRepository) -> None:
    service.create_position_note(ALICE, note_in(), generation="gen-1")
    service.create_position_note(OTHER_TENANT, note_in(), generation="gen-1")

    assert (repo.count("acme"), repo.count("globex")) == (1, 1)


@pytest.mark.parametrize(
    ("start", "end", "pause", "field"),
    [
        ("2024-05-02T10:00:00Z", "2024-05-02T09:00:00Z", None, "dateTo"),
        ("2024-05-02T09:00:00Z", "2024-05-02T09:00:00Z", None, "dateTo"),
        ("2024-05-01T09:00:00Z", "2024-06-02T09:00:00Z", None, "dateTo"),
        ("2024-05-02T08:00:00Z", "2024-05-02T09:00:00Z", "01:00", "pause"),
    ],
)
def test_position_note_with_an_impossible_span_is_refused(
    service: ConnectorService, repo: FakeWorkRepository, start: str, end: str, pause: str | None, field: str
) -> None:
    data = note_in(start, end) if pause is None else note_in(start, end, pause=pause)

    with pytest.raises(DomainError) as caught:
        service.create_position_note(ALICE, data)

    assert http_status(caught.value) == 400
    assert [e["Field"] for e in error_body(caught.value)["Errors"]] == [field]
    assert repo.count("acme") == 0


def test_activity_recording_ending_before_it_starts_is_refused(service: ConnectorService) -> None:
    with pytest.raises(DomainError) as caught:
        service.create_activity_recording(ALICE, recording_in("2024-05-02T10:00:00Z", "2024-05-02T09:00:00Z"))

    assert http_status(caught.value) == 400


# --- listing -------------------------------------------------------------------------------------


@pytest.fixture
def seeded(service: ConnectorService) -> dict[str, str]:
    """Five acme records and one of another tenant; returns their ids by name."""
    return {
        "alice_short": service.create_position_note(
            ALICE, note_in("2024-05-02T08:00:00+02:00", "2024-05-02T08:30:00+02:00", hint="Printer jam", ticketID=11)
        ),
        "alice_free": service.create_position_note(
            ALICE,
            note_in("2024-05-03T08:00:00+02:00", "2024-05-03T10:00:00+02:00", no_invoice=True, hint="Goodwill visit"),
        ),
        "bob_long": service.create_position_note(
            BOB,
            note_in(
                "2024-05-01T08:00:00+02:00",
                "2024-05-01T11:15:00+02:00",
                pause="00:15",
                hint="Server migration",
                serviceContractID=12,
            ),
        ),
        "bob_recording": service.create_activity_recording(
            BOB,
            recording_in(
                "2024-05-04T13:00:00+02:00", "2024-05-04T14:00:00+02:00", bookText="PRINTER setup", projectId=70
            ),
        ),
        "carla_by_alice": service.create_position_note(
            ALICE,
            note_in("2024-05-05T08:00:00+02:00", "2024-05-05T08:45:00+02:00", username="Carla", hint="Phone support"),
        ),
        "other_tenant": service.create_position_note(OTHER_TENANT, note_in(hint="Printer elsewhere")),
    }


def test_listing_without_filters_shows_all_of_the_tenants_records(
    service: ConnectorService, seeded: dict[str, str]
) -> None:
    result = listing(service)

    assert result["Count"] == 5
    assert result["Filtered"] == 5
    assert set(ids(result)) == set(seeded.values()) - {seeded["other_tenant"]}


def test_count_is_all_of_the_tenants_records_and_filtered_those_that_match(
    service: ConnectorService, seeded: dict[str, str]
) -> None:
    result = listing(service, AdditionalSearchData={"IsInvoice": False})

    assert result["Count"] == 5
    assert result["Filtered"] == 1
    assert ids(result) == [seeded["alice_free"]]


def test_search_matches_texts_case_insensitively(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, Search="printer")

    assert set(ids(result)) == {seeded["alice_short"], seeded["bob_recording"]}
    assert result["Filtered"] == 2
    assert result["Count"] == 5


@pytest.mark.parametrize(
    ("needle", "expected"),
    [("goodwill", "alice_free"), ("CARLA", "carla_by_alice"), ("MIGRATION", "bob_long")],
)
def test_search_covers_hints_user_names_and_book_texts(
    service: ConnectorService, seeded: dict[str, str], needle: str, expected: str
) -> None:
    assert ids(listing(service, Search=needle)) == [seeded[expected]]


def test_search_without_a_match_finds_nothing(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, Search="no such text")

    assert (result["Filtered"], result["Results"], result["TotalHours"]) == (0, [], 0)


def test_results_are_ordered_by_start_time_ascending_or_descending(
    service: ConnectorService, seeded: dict[str, str]
) -> None:
    by_start = ["bob_long", "alice_short", "alice_free", "bob_recording", "carla_by_alice"]

    ascending = listing(service, OrderColumns=6, OrderByAsc=True)
    descending = listing(service, OrderColumns=6, OrderByAsc=False)

    assert ids(ascending) == [seeded[name] for name in by_start]
    assert ids(descending) == [seeded[name] for name in reversed(by_start)]


def test_results_are_ordered_by_worked_minutes(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, OrderColumns=5, OrderByAsc=True)

    minutes = [
        item["PositionsUnits"]["Minutes"] + item["PositionsUnits"]["MinutesNoInvoice"] for item in result["Results"]
    ]
    assert minutes == [30, 45, 60, 120, 180]


def test_results_are_ordered_by_user_name(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, OrderColumns=4, OrderByAsc=False)

    names = [item["UserInfo"]["UserName"] for item in result["Results"]]
    assert names == ["Carla", "Bob", "Bob", "Alice", "Alice"]


def test_results_are_ordered_by_creation_date(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, OrderColumns=1, OrderByAsc=True)

    created = [seeded[name] for name in ["alice_short", "alice_free", "bob_long", "bob_recording", "carla_by_alice"]]
    assert ids(result) == created


def test_skip_and_page_size_return_one_page_of_the_ordered_results(
    service: ConnectorService, seeded: dict[str, str]
) -> None:
    everything = ids(listing(service))

    page = listing(service, Skip=1, PageSize=2)
    past_the_end = listing(service, Skip=5, PageSize=2)

    assert ids(page) == everything[1:3]
    assert page["Filtered"] == 5
    assert ids(past_the_end) == []


def test_take_all_ignores_skip_and_page_size(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, Skip=3, PageSize=1, TakeAll=True)

    assert ids(result) == ids(listing(service))


def test_take_all_is_capped_at_the_largest_page_and_says_so(service: ConnectorService) -> None:
    """5,000 notes made one 12 MB answer; now TakeAll answers the first MAX_PAGE_SIZE in the asked order,
    `Filtered` still counts every match, and the message says how to get the rest."""
    start = datetime(2024, 5, 2, 6, 0, tzinfo=UTC)
    for n in range(MAX_PAGE_SIZE + 5):
        begin = start + timedelta(hours=n)
        service.create_position_note(ALICE, note_in(begin.isoformat(), (begin + timedelta(minutes=30)).isoformat()))
    body = {"OrderByAsc": True, "OrderColumns": 6, "TakeAll": True}
    request = ApiRequest(query={}, headers={}, body=b"", route_params={})
    data = validate(ListAssignmentsIn, body, BERLIN)

    answer = list_assignments(SimpleNamespace(connector=service), Call(ALICE, data, None, request))

    assert isinstance(answer.body, dict)
    result = answer.body["Result"]
    assert len(result["Results"]) == MAX_PAGE_SIZE
    assert result["Filtered"] == result["Count"] == MAX_PAGE_SIZE + 5
    assert result["Results"][-1]["AssignmentId"] == ids(listing(service, Skip=MAX_PAGE_SIZE - 1, PageSize=1))[0]
    assert answer.body["Message"].startswith(f"{MAX_PAGE_SIZE} of {MAX_PAGE_SIZE + 5} service assignments.")
    assert "Skip and PageSize" in answer.body["Message"]


def test_own_hours_count_the_callers_records_and_total_hours_all_filtered_ones(
    service: ConnectorService, seeded: dict[str, str]
) -> None:
    as_alice = listing(service, ALICE)
    as_bob = listing(service, BOB)

    # Alice's connection: 30 + 120 + 45 minutes; Bob's: 180 + 60 minutes.
    assert as_alice["OwnHours"] == Decimal("3.25")
    assert as_bob["OwnHours"] == Decimal(4)
    assert as_alice["TotalHours"] == as_bob["TotalHours"] == Decimal("7.25")


def test_hours_cover_every_filtered_record_not_only_the_page(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, ALICE, PageSize=1, OrderColumns=5)

    assert len(result["Results"]) == 1
    assert result["TotalHours"] == Decimal("7.25")
    assert result["OwnHours"] == Decimal("3.25")


def test_hours_follow_the_filters(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, ALICE, Search="printer")

    assert result["OwnHours"] == Decimal("0.5")
    assert result["TotalHours"] == Decimal("1.5")


def test_is_invoice_true_shows_only_billable_records(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, AdditionalSearchData={"IsInvoice": "true"})

    assert seeded["alice_free"] not in ids(result)
    assert result["Filtered"] == 4


def test_show_position_notes_only(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, AdditionalSearchData={"ShowPositionNotes": True, "ShowActivityRecordings": False})

    assert seeded["bob_recording"] not in ids(result)
    assert result["Filtered"] == 4
    assert {item["AssignmentType"]["AssignmentTypeName"] for item in result["Results"]} == {"Position note"}


def test_show_activity_recordings_only(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, AdditionalSearchData={"ShowActivityRecordings": True})

    assert ids(result) == [seeded["bob_recording"]]


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        ("bob", {"bob_long", "bob_recording"}),
        ("carla, ALICE", {"alice_short", "alice_free", "carla_by_alice"}),
        ("nobody", set()),
    ],
)
def test_user_ids_filter_on_user_names_case_insensitively(
    service: ConnectorService, seeded: dict[str, str], users: str, expected: set[str]
) -> None:
    result = listing(service, AdditionalSearchData={"UserIds": users})

    assert set(ids(result)) == {seeded[name] for name in expected}
    assert result["Count"] == 5


def test_ticket_service_contract_and_project_filters(service: ConnectorService, seeded: dict[str, str]) -> None:
    assert ids(listing(service, AdditionalSearchData={"TicketId": 11})) == [seeded["alice_short"]]
    assert ids(listing(service, AdditionalSearchData={"ServiceContractId": "12"})) == [seeded["bob_long"]]
    assert ids(listing(service, AdditionalSearchData={"Project": "70"})) == [seeded["bob_recording"]]


def test_date_filters_keep_records_inside_the_range(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(
        service, AdditionalSearchData={"DateTimeFrom": "2024-05-02T00:00:00", "DateTimeTo": "2024-05-04T00:00:00"}
    )

    assert set(ids(result)) == {seeded["alice_short"], seeded["alice_free"]}


def test_date_filter_to_before_from_is_refused(service: ConnectorService, seeded: dict[str, str]) -> None:
    with pytest.raises(DomainError) as caught:
        listing(
            service, AdditionalSearchData={"DateTimeFrom": "2024-05-04T00:00:00", "DateTimeTo": "2024-05-02T00:00:00"}
        )

    assert http_status(caught.value) == 400
    assert [e["Field"] for e in error_body(caught.value)["Errors"]] == ["AdditionalSearchData.DateTimeTo"]


@pytest.mark.parametrize("project", ["abc", "0", "-3", "7a", "1.5", "²", "٤"])
def test_project_filter_that_is_not_a_project_id_is_refused(
    service: ConnectorService, seeded: dict[str, str], project: str
) -> None:
    with pytest.raises(DomainError) as caught:
        listing(service, AdditionalSearchData={"Project": project})

    assert http_status(caught.value) == 400
    assert [e["Field"] for e in error_body(caught.value)["Errors"]] == ["AdditionalSearchData.Project"]


def test_listing_never_shows_another_tenants_records(service: ConnectorService, seeded: dict[str, str]) -> None:
    result = listing(service, OTHER_TENANT)

    assert ids(result) == [seeded["other_tenant"]]
    assert result["Count"] == 1


# --- result items --------------------------------------------------------------------------------


def item_of(result: dict[str, Any], record_id: str) -> dict[str, Any]:
    [item] = [i for i in result["Results"] if i["AssignmentId"] == record_id]
    assert isinstance(item, dict)
    return item


def test_billable_note_item_has_the_connectors_shape(service: ConnectorService, seeded: dict[str, str]) -> None:
    item = item_of(listing(service), seeded["bob_long"])

    assert item["PositionsUnits"] == {
        "Minutes": 180,
        "Quantity": Decimal(3),
        "MinutesNoInvoice": 0,
        "QuantityNoInvoice": Decimal(0),
        "Pause": 15,
    }
    assert item["MinAssignmentTime"] == "2024-05-01T08:00:00+02:00"
    assert item["MaxAssignmentTime"] == "2024-05-01T11:15:00+02:00"
    assert item["AssignmentNumber"] == seeded["bob_long"]
    assert item["Assignmenttext"] == "Server migration"
    assert item["UserInfo"] == {"UserName": "Bob"}
    assert item["AssignmentType"] == {"ServiceAssignmentTypeId": 2, "AssignmentTypeName": "Position note"}
    assert item["ServiceContractId"] == 12
    assert item["ExtraCharge"] is False
    assert "TicketId" not in item


def test_non_billable_note_counts_its_minutes_as_no_invoice(service: ConnectorService, seeded: dict[str, str]) -> None:
    units = item_of(listing(service), seeded["alice_free"])["PositionsUnits"]

    assert (units["Minutes"], units["MinutesNoInvoice"], units["Pause"]) == (0, 120, 0)
    assert (units["Quantity"], units["QuantityNoInvoice"]) == (Decimal(0), Decimal(2))


def test_note_item_with_a_ticket_names_it(service: ConnectorService, seeded: dict[str, str]) -> None:
    item = item_of(listing(service), seeded["alice_short"])

    assert item["TicketId"] == 11
    assert item["Ticket"] == {"ticketId": 11}


def test_activity_recording_item_shows_its_quantity_and_texts(
    service: ConnectorService, seeded: dict[str, str]
) -> None:
    service.create_activity_recording(ALICE, recording_in(Quantity="2.5", bookText="Title", noteText="Body"))
    result = listing(service, Search="title")

    [item] = result["Results"]
    assert item["PositionsUnits"]["Quantity"] == Decimal("2.5")
    assert item["PositionsUnits"]["Minutes"] == 60
    assert (item["Assignmenttext"], item["AssignmentPositionText"]) == ("Title", "Body")
    assert item["AssignmentType"] == {"ServiceAssignmentTypeId": 1, "AssignmentTypeName": "Activity recording"}


@pytest.mark.parametrize(
    ("start", "end", "shown_start", "shown_end"),
    [
        (
            "2024-05-02T08:00:00+05:30",
            "2024-05-02T09:00:00+05:30",
            "2024-05-02T08:00:00+05:30",
            "2024-05-02T09:00:00+05:30",
        ),
        ("2024-05-02T08:00:00Z", "2024-05-02T09:00:00Z", "2024-05-02T08:00:00Z", "2024-05-02T09:00:00Z"),
        ("2024-01-10T08:00:00", "2024-01-10T09:00:00", "2024-01-10T08:00:00+01:00", "2024-01-10T09:00:00+01:00"),
        ("2024-10-26T23:00:00", "2024-10-27T04:00:00", "2024-10-26T23:00:00+02:00", "2024-10-27T04:00:00+01:00"),
    ],
)
def test_times_are_shown_in_the_offset_the_caller_used(
    service: ConnectorService, start: str, end: str, shown_start: str, shown_end: str
) -> None:
    service.create_position_note(ALICE, note_in(start, end))

    [item] = listing(service)["Results"]

    assert (item["MinAssignmentTime"], item["MaxAssignmentTime"]) == (shown_start, shown_end)


def test_minutes_across_the_autumn_dst_change_count_the_real_time_worked(service: ConnectorService) -> None:
    # 23:00 (+02:00) to 04:00 (+01:00) is six hours of work: the clocks go back an hour in between.
    service.create_position_note(ALICE, note_in("2024-10-26T23:00:00", "2024-10-27T04:00:00"))

    [item] = listing(service)["Results"]

    assert item["PositionsUnits"]["Minutes"] == 6 * 60


def test_pause_longer_than_the_real_span_in_the_spring_dst_night_is_refused(
    service: ConnectorService, repo: FakeWorkRepository
) -> None:
    # 01:30 (+01:00) to 03:30 (+02:00) is one real hour; a pause of 1:30 leaves -30 minutes of work.
    with pytest.raises(DomainError) as caught:
        service.create_position_note(ALICE, note_in("2024-03-31T01:30:00", "2024-03-31T03:30:00", pause="01:30"))

    assert [e["Field"] for e in error_body(caught.value)["Errors"]] == ["pause"]
    assert repo.count("acme") == 0


def test_pause_shorter_than_the_real_span_in_the_autumn_dst_night_is_accepted(service: ConnectorService) -> None:
    # 01:30 (+02:00) to 03:00 (+01:00) is two and a half real hours; a two-hour pause leaves 30 minutes.
    service.create_position_note(ALICE, note_in("2024-10-27T01:30:00", "2024-10-27T03:00:00", pause="02:00"))

    [item] = listing(service)["Results"]

    assert item["PositionsUnits"]["Minutes"] == 30


def test_creation_date_is_shown_in_utc(service: ConnectorService) -> None:
    service.create_position_note(ALICE, note_in())

    [item] = listing(service)["Results"]

    assert item["CreationDate"] == "2024-06-01T12:00:00Z"


# --- what the actions answer conforms to what the document declares -------------------------------


def _closed(schema: Any) -> Any:
    """`schema` with every object closed (`additionalProperties: false`): an undeclared output fails."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {k: _closed(v) for k, v in schema.items()}
    if "properties" in closed:
        closed["additionalProperties"] = False
    return closed


def test_every_answer_of_the_three_actions_has_exactly_the_declared_outputs_with_their_types() -> None:
    """The 200 schemas (declared like the certified connector's, see tests/infra/test_connector_files.py)
    describe what the service really answers: every field it sends is declared, with its type."""
    repo = FakeWorkRepository()
    invoiced = {7: BilledIn(7, 1001), 8: BilledIn(8)}
    service = ConnectorService(
        repo, clock=SteppingClock().now, drafts=lambda _tenant: lambda number: invoiced.get(number)
    )
    app = SimpleNamespace(connector=service)
    request = ApiRequest({}, {}, b"")
    document = build_document()

    answers = {
        "CreateInvoicePositionNote": routes.create_position_note(
            app,
            Call(ALICE, note_in(ticketID=4711, serviceContractID=3, ticketPositionID=2, pause="00:15"), None, request),
        ),
        "CreateActivityRecording": routes.create_activity_recording(
            app, Call(ALICE, recording_in(projectId=5, Quantity="1.25", bookText="b"), None, request)
        ),
    }
    created: Any = answers["CreateInvoicePositionNote"].body
    for number in invoiced:  # notes in a draft, and in a booked one
        source = repo.get("acme", created["invoiceNoteId"])
        assert source is not None
        repo.add(dataclasses.replace(source, record_id=f"billed-{number}", draft_number=number))
    routes.create_position_note(app, Call(BOB, note_in(no_invoice=True), None, request))
    listing = ListAssignmentsIn(TakeAll=True)
    answers["GetServiceAssignmentsDispatcher"] = routes.list_assignments(app, Call(ALICE, listing, None, request))
    listed: Any = answers["GetServiceAssignmentsDispatcher"].body
    assert len(listed["Result"]["Results"]) == 5

    for operation_id, answer in answers.items():
        schema = _closed(inline_refs(operation(document, operation_id)["responses"]["200"]["schema"], document))
        body = json.loads(dumps(answer.body))
        assert [f"{operation_id}: {e.message}" for e in Draft4Validator(schema).iter_errors(body)] == []
