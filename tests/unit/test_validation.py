"""Request bodies as a Logic App or a plain HTTP client sends them: what is accepted, what is refused and how."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.connector.schemas import ActivityRecordingIn, ListAssignmentsIn, PositionNoteIn, check_span
from shared.errors import DomainError
from shared.validation import decimal_between, parse_json_object, validate, whole_number
from shared.web.status import error_body, http_status

BERLIN = ZoneInfo("Europe/Berlin")

NOTE: dict[str, Any] = {
    "dateFrom": "2024-05-01T08:00:00+02:00",
    "dateTo": "2024-05-01T10:00:00+02:00",
    "noInvoice": False,
    "extraCharge": False,
}


def note(**changes: Any) -> dict[str, Any]:
    return {**NOTE, **changes}


def refusal(model: type[BaseModel], data: dict[str, Any], tz: ZoneInfo = BERLIN) -> dict[str, str]:
    """The 400 answer's errors as {Field: Message}; fails the test when the body is accepted."""
    with pytest.raises(DomainError) as caught:
        validate(model, data, tz)
    error = caught.value
    assert http_status(error) == 400
    body = error_body(error)
    assert body["Success"] is False
    errors: dict[str, str] = {e["Field"]: e["Message"] for e in body["Errors"]}
    for field in errors:
        assert field in body["Message"]
    return errors


def refused_field(model: type[BaseModel], data: dict[str, Any], field: str) -> str:
    errors = refusal(model, data)
    assert list(errors) == [field]
    return errors[field]


def body_error(raw: bytes) -> dict[str, Any]:
    with pytest.raises(DomainError) as caught:
        parse_json_object(raw)
    assert http_status(caught.value) == 400
    body = error_body(caught.value)
    assert body["Success"] is False
    return body


# --- dates ---------------------------------------------------------------------------------------


def test_date_with_offset_keeps_the_instant_and_the_offset() -> None:
    parsed = validate(PositionNoteIn, note(dateFrom="2024-05-01T08:00:00+02:00"), BERLIN)

    assert parsed.dateFrom == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    assert parsed.dateFrom.utcoffset() == timedelta(hours=2)


def test_date_with_z_is_utc() -> None:
    parsed = validate(PositionNoteIn, note(dateFrom="2024-05-01T06:00:00Z"), BERLIN)

    assert parsed.dateFrom == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    assert parsed.dateFrom.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        ("Europe/Berlin", "2024-05-01T08:00:00", datetime(2024, 5, 1, 6, 0, tzinfo=UTC)),  # summer time, +02:00
        ("Europe/Berlin", "2024-01-15T08:00:00", datetime(2024, 1, 15, 7, 0, tzinfo=UTC)),  # winter time, +01:00
        ("America/New_York", "2024-05-01T08:00:00", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ],
)
def test_date_without_offset_is_local_time_in_the_default_zone(zone: str, local: str, utc: datetime) -> None:
    parsed = validate(PositionNoteIn, note(dateFrom=local, dateTo="2024-05-01T23:00:00Z"), ZoneInfo(zone))

    assert parsed.dateFrom == utc


def test_local_time_skipped_by_the_spring_dst_change_is_refused() -> None:
    message = refused_field(
        PositionNoteIn, note(dateFrom="2024-03-31T02:30:00", dateTo="2024-03-31T05:00:00+02:00"), "dateFrom"
    )

    assert "does not exist" in message
    assert "Europe/Berlin" in message


def test_local_time_repeated_by_the_autumn_dst_change_is_refused() -> None:
    message = refused_field(
        PositionNoteIn, note(dateFrom="2024-10-27T01:00:00+02:00", dateTo="2024-10-27T02:30:00"), "dateTo"
    )

    assert "twice" in message
    assert "Europe/Berlin" in message


def test_dst_change_times_are_accepted_with_an_offset() -> None:
    parsed = validate(
        PositionNoteIn, note(dateFrom="2024-10-27T02:30:00+02:00", dateTo="2024-10-27T02:30:00+01:00"), BERLIN
    )

    assert parsed.dateTo - parsed.dateFrom == timedelta(hours=1)


@pytest.mark.parametrize("value", [1714550400, None, True, ["2024-05-01T08:00:00Z"], {"date": "2024-05-01"}])
def test_date_that_is_not_a_string_is_refused(value: Any) -> None:
    message = refused_field(PositionNoteIn, note(dateFrom=value), "dateFrom")

    assert "ISO 8601" in message


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T08:00:00", "2024-05-01T25:00:00", ""])
def test_date_that_is_not_iso_8601_is_refused(value: str) -> None:
    message = refused_field(PositionNoteIn, note(dateFrom=value), "dateFrom")

    assert "ISO 8601" in message


@pytest.mark.parametrize(
    "value",
    [
        "1999-12-31T23:59:59Z",
        "2000-01-01T00:30:00",  # local Berlin time, still 1999 in UTC
        "2100-01-01T00:00:00Z",
        "2150-06-01T08:00:00+02:00",
        "0001-01-01T00:00:00Z",
    ],
)
def test_date_outside_the_years_2000_to_2099_is_refused(value: str) -> None:
    message = refused_field(PositionNoteIn, note(dateFrom=value, dateTo="2024-05-01T10:00:00Z"), "dateFrom")

    assert "2000" in message
    assert "2100" in message


@pytest.mark.parametrize("value", ["2000-01-01T00:00:00Z", "2099-12-31T23:59:59Z"])
def test_dates_at_the_edges_of_the_allowed_years_are_accepted(value: str) -> None:
    parsed = validate(PositionNoteIn, note(dateFrom=value), BERLIN)

    assert parsed.dateFrom == datetime.fromisoformat(value)


# --- pause ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00:45", timedelta(minutes=45)),
        ("1:30", timedelta(hours=1, minutes=30)),
        ("01:15:30", timedelta(hours=1, minutes=15, seconds=30)),
        (30, timedelta(minutes=30)),
        ("30", timedelta(minutes=30)),
        (0, timedelta(0)),
        ("PT1H15M", timedelta(hours=1, minutes=15)),
        ("PT30M", timedelta(minutes=30)),
        ("pt45s", timedelta(seconds=45)),
    ],
)
def test_pause_formats_are_accepted(value: Any, expected: timedelta) -> None:
    parsed = validate(PositionNoteIn, note(pause=value), BERLIN)

    assert parsed.pause == expected


def test_pause_as_a_json_number_is_whole_minutes() -> None:
    parsed = validate(PositionNoteIn, parse_json_object(json.dumps(note(pause=20)).encode()), BERLIN)

    assert parsed.pause == timedelta(minutes=20)


@pytest.mark.parametrize("value", ["abc", -5, "1:70", "PT", "P", "P1DT", "-5", "1.5", True, 1.5, [30]])
def test_pause_in_no_known_format_is_refused(value: Any) -> None:
    refused_field(PositionNoteIn, note(pause=value), "pause")


def test_negative_pause_says_it_must_not_be_negative() -> None:
    assert "negative" in refused_field(PositionNoteIn, note(pause=-5), "pause")


def test_omitted_pause_is_none() -> None:
    assert validate(PositionNoteIn, note(), BERLIN).pause is None


# --- ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [42, "42", " 42 ", 2**53 - 1])
def test_id_as_number_or_digit_string_is_accepted(value: Any) -> None:
    parsed = validate(PositionNoteIn, note(ticketID=value), BERLIN)

    assert parsed.ticketID == int(str(value).strip())


@pytest.mark.parametrize("value", [0, -1, 1.5, True, False, "abc", "-1", "", 2**53, [1]])
def test_id_that_is_not_a_positive_whole_number_is_refused(value: Any) -> None:
    message = refused_field(PositionNoteIn, note(ticketID=value), "ticketID")

    assert "positive whole number" in message


def test_fractional_json_number_is_refused_as_id() -> None:
    data = parse_json_object(json.dumps(note()).encode()[:-1] + b', "ticketPositionID": 1.5}')

    refused_field(PositionNoteIn, data, "ticketPositionID")


def test_id_with_a_non_ascii_digit_is_refused_with_the_rule() -> None:
    message = refused_field(PositionNoteIn, note(ticketID="²"), "ticketID")

    assert "positive whole number" in message


# --- flags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("true", True), ("False", False), (" TRUE ", True)]
)
def test_flag_as_boolean_or_its_string_is_accepted(value: Any, expected: bool) -> None:
    parsed = validate(PositionNoteIn, note(noInvoice=value), BERLIN)

    assert parsed.noInvoice is expected


@pytest.mark.parametrize("value", ["yes", 1, 0, "1", None, ""])
def test_flag_that_is_not_true_or_false_is_refused(value: Any) -> None:
    message = refused_field(PositionNoteIn, note(extraCharge=value), "extraCharge")

    assert "true or false" in message


# --- texts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "base", "field", "limit"),
    [
        (PositionNoteIn, NOTE, "hint", 1000),
        (PositionNoteIn, NOTE, "username", 256),
        (ActivityRecordingIn, NOTE, "bookText", 1000),
        (ActivityRecordingIn, NOTE, "noteText", 8000),
    ],
)
def test_text_up_to_its_limit_is_accepted_and_longer_is_refused(
    model: type[BaseModel], base: dict[str, Any], field: str, limit: int
) -> None:
    accepted = validate(model, {**base, field: "x" * limit}, BERLIN)
    assert getattr(accepted, field) == "x" * limit

    message = refused_field(model, {**base, field: "x" * (limit + 1)}, field)
    assert str(limit) in message


@pytest.mark.parametrize("value", ["bell\x07", "nul\x00here", "escape\x1b[31m", "unit\x1fseparator"])
def test_text_with_control_characters_is_refused(value: str) -> None:
    message = refused_field(PositionNoteIn, note(hint=value), "hint")

    assert "control characters" in message


def test_text_with_tabs_and_line_breaks_is_accepted() -> None:
    text = "Line one\r\n\tLine two\nÜmlaut ✓"

    assert validate(PositionNoteIn, note(hint=text), BERLIN).hint == text


def test_text_that_is_not_a_string_is_refused() -> None:
    assert "string" in refused_field(PositionNoteIn, note(username=42), "username")


# --- quantity ------------------------------------------------------------------------------------


def _recording(quantity: str) -> dict[str, Any]:
    raw = (
        '{"dateFrom": "2024-05-01T08:00:00Z", "dateTo": "2024-05-01T09:00:00Z", "Quantity": ' + quantity + "}"
    ).encode()
    return parse_json_object(raw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.1", Decimal("0.1")), ("1.2345", Decimal("1.2345")), ("3", Decimal(3)), ("0", Decimal(0))],
)
def test_quantity_is_parsed_exactly_as_decimal(text: str, expected: Decimal) -> None:
    parsed = validate(ActivityRecordingIn, _recording(text), BERLIN)

    assert isinstance(parsed.Quantity, Decimal)
    assert parsed.Quantity == expected
    assert str(parsed.Quantity) == text


def test_quantity_with_more_than_four_decimals_is_refused() -> None:
    message = refused_field(ActivityRecordingIn, _recording("1.23456"), "Quantity")

    assert "4 decimal places" in message


@pytest.mark.parametrize("text", ["-1", "-0.5", "1000000.5", '"abc"', "true"])
def test_quantity_that_is_negative_too_large_or_not_a_number_is_refused(text: str) -> None:
    refused_field(ActivityRecordingIn, _recording(text), "Quantity")


# --- body as a whole -----------------------------------------------------------------------------


def test_unknown_fields_are_ignored() -> None:
    parsed = validate(PositionNoteIn, note(futureField={"x": 1}, pauseUnit="minutes"), BERLIN)

    assert parsed.noInvoice is False
    assert "futureField" not in parsed.model_dump()


def test_missing_required_fields_are_each_reported_as_required() -> None:
    errors = refusal(PositionNoteIn, {"hint": "no dates"})

    assert errors == {
        "dateFrom": "is required",
        "dateTo": "is required",
        "noInvoice": "is required",
        "extraCharge": "is required",
    }


def test_every_error_of_a_body_is_reported_in_one_answer() -> None:
    errors = refusal(
        PositionNoteIn,
        {
            "dateFrom": "not a date",
            "noInvoice": "maybe",
            "extraCharge": False,
            "pause": "abc",
            "ticketID": 0,
            "hint": "\x00",
        },
    )

    assert set(errors) == {"dateFrom", "dateTo", "noInvoice", "pause", "ticketID", "hint"}
    assert errors["dateTo"] == "is required"


# --- span ----------------------------------------------------------------------------------------

START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_span_with_dateto_after_datefrom_and_a_shorter_pause_is_fine() -> None:
    assert check_span(START, START + timedelta(hours=2), timedelta(minutes=30)) == []


@pytest.mark.parametrize("end", [START, START - timedelta(minutes=1)])
def test_span_must_end_after_it_starts(end: datetime) -> None:
    [error] = check_span(START, end, timedelta(0))

    assert error.field == "dateTo"
    assert "after dateFrom" in error.message


def test_span_may_be_31_days_but_not_longer() -> None:
    assert check_span(START, START + timedelta(days=31), timedelta(0)) == []

    [error] = check_span(START, START + timedelta(days=31, seconds=1), timedelta(0))
    assert error.field == "dateTo"
    assert "31 days" in error.message


@pytest.mark.parametrize("pause", [timedelta(hours=1), timedelta(hours=2)])
def test_pause_must_be_shorter_than_the_span(pause: timedelta) -> None:
    [error] = check_span(START, START + timedelta(hours=1), pause)

    assert error.field == "pause"


def test_pause_a_minute_shorter_than_the_span_is_fine() -> None:
    assert check_span(START, START + timedelta(hours=1), timedelta(minutes=59)) == []


@pytest.mark.parametrize(
    ("start", "end", "pause", "expected_fields"),
    [
        # Spring: 01:30 (+01:00) to 03:30 (+02:00) is 1 real hour, so a 1:30 pause is too long.
        ("2024-03-31T01:30:00", "2024-03-31T03:30:00", "01:30", ["pause"]),
        # Autumn: 01:30 (+02:00) to 03:00 (+01:00) is 2.5 real hours, so a 2:00 pause fits.
        ("2024-10-27T01:30:00", "2024-10-27T03:00:00", "02:00", []),
        # 31 days less half an hour of real time across the spring change.
        ("2024-03-30T12:00:00", "2024-04-30T12:30:00", "00:00", []),
    ],
)
def test_span_of_local_times_is_measured_in_real_elapsed_time_across_dst_changes(
    start: str, end: str, pause: str, expected_fields: list[str]
) -> None:
    parsed = validate(PositionNoteIn, note(dateFrom=start, dateTo=end, pause=pause), BERLIN)
    assert parsed.pause is not None

    errors = check_span(parsed.dateFrom, parsed.dateTo, parsed.pause)

    assert [e.field for e in errors] == expected_fields


# --- JSON body -----------------------------------------------------------------------------------


def test_json_object_is_parsed_with_decimal_numbers() -> None:
    data = parse_json_object(b'{"a": 0.1, "b": 2, "c": "x", "d": [1.50]}')

    assert data == {"a": Decimal("0.1"), "b": 2, "c": "x", "d": [Decimal("1.50")]}
    assert isinstance(data["a"], Decimal)


@pytest.mark.parametrize("raw", [b"", b"   \r\n\t"])
def test_empty_body_is_refused_as_required(raw: bytes) -> None:
    body = body_error(raw)

    assert body["Errors"] == [{"Field": "body", "Message": "is required"}]


def test_invalid_json_is_refused_with_line_and_column() -> None:
    body = body_error(b'{\n  "dateFrom": "2024-05-01T08:00:00Z",\n  "dateTo": \n}')

    [error] = body["Errors"]
    assert error["Field"] == "body"
    assert "line 4" in error["Message"]
    assert "column 1" in error["Message"]
    assert "line 4" in body["Message"]


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_json_that_is_not_an_object_is_refused(raw: bytes) -> None:
    body = body_error(raw)

    assert body["Errors"] == [{"Field": "body", "Message": "must be a JSON object"}]


@pytest.mark.parametrize("raw", [b'{"hint": "\xff"}', '{"hint": "Müller"}'.encode("latin-1")])
def test_body_that_is_not_utf8_is_refused(raw: bytes) -> None:
    body = body_error(raw)

    assert body["Errors"] == [{"Field": "body", "Message": "must be UTF-8"}]


# --- ListAssignmentsIn ---------------------------------------------------------------------------


def test_list_request_without_fields_gets_the_connector_defaults() -> None:
    parsed = validate(ListAssignmentsIn, {}, BERLIN)

    assert (parsed.Skip, parsed.PageSize, parsed.OrderByAsc, parsed.OrderColumns, parsed.TakeAll) == (
        0,
        50,
        False,
        6,
        False,
    )
    assert parsed.Search is None
    assert parsed.AdditionalSearchData is None


@pytest.mark.parametrize("size", [1, "1000", 1000])
def test_page_size_from_1_to_1000_is_accepted(size: Any) -> None:
    assert validate(ListAssignmentsIn, {"PageSize": size}, BERLIN).PageSize == int(size)


@pytest.mark.parametrize("size", [0, -1, 1001, "abc", 2.5, True])
def test_page_size_outside_1_to_1000_is_refused(size: Any) -> None:
    refused_field(ListAssignmentsIn, {"PageSize": size}, "PageSize")


@pytest.mark.parametrize("column", [1, 7, "3"])
def test_order_column_from_1_to_7_is_accepted(column: Any) -> None:
    assert validate(ListAssignmentsIn, {"OrderColumns": column}, BERLIN).OrderColumns == int(column)


@pytest.mark.parametrize("column", [0, 8, -1])
def test_order_column_outside_1_to_7_is_refused(column: int) -> None:
    assert "between 1 and 7" in refused_field(ListAssignmentsIn, {"OrderColumns": column}, "OrderColumns")


def test_negative_skip_is_refused() -> None:
    refused_field(ListAssignmentsIn, {"Skip": -1}, "Skip")


def test_search_filter_date_to_may_be_unix_seconds() -> None:
    moment = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

    parsed = validate(ListAssignmentsIn, {"AdditionalSearchData": {"DateTimeTo": int(moment.timestamp())}}, BERLIN)

    assert parsed.AdditionalSearchData is not None
    assert parsed.AdditionalSearchData.DateTimeTo == moment


def test_search_filter_date_to_may_be_iso_8601() -> None:
    parsed = validate(ListAssignmentsIn, {"AdditionalSearchData": {"DateTimeTo": "2024-05-01T10:00:00"}}, BERLIN)

    assert parsed.AdditionalSearchData is not None
    assert parsed.AdditionalSearchData.DateTimeTo == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("seconds", [0, -1, 10**12, 4102444800])
def test_search_filter_unix_seconds_outside_the_allowed_years_are_refused(seconds: int) -> None:
    refused_field(
        ListAssignmentsIn, {"AdditionalSearchData": {"DateTimeTo": seconds}}, "AdditionalSearchData.DateTimeTo"
    )


def test_search_filter_errors_name_the_nested_field() -> None:
    errors = refusal(ListAssignmentsIn, {"AdditionalSearchData": {"IsInvoice": "maybe", "TicketId": 0}})

    assert set(errors) == {"AdditionalSearchData.IsInvoice", "AdditionalSearchData.TicketId"}


def test_search_filters_that_are_not_an_object_are_refused() -> None:
    message = refused_field(ListAssignmentsIn, {"AdditionalSearchData": "everything"}, "AdditionalSearchData")

    assert message == "must be a JSON object"


# --- numbers too long to read ---------------------------------------------------------------------------


def test_numbers_with_more_digits_than_any_bound_are_refused_unread() -> None:
    """Refused by the field's rule before being made an int: `int(Decimal("1E+600000"))` alone takes
    seconds of CPU, and Python refuses digit strings of over 4300 digits with its own message."""
    assert whole_number(Decimal("999999999999999999"), "rule") == 10**18 - 1
    assert whole_number("-000999999999999999999", "rule") == -(10**18 - 1)
    for value in (Decimal("1E+18"), Decimal("1E+600000"), "1" + "0" * 18, "9" * 5000):
        with pytest.raises(ValueError, match="rule"):
            whole_number(value, "rule")
    assert whole_number(Decimal("1.5"), "rule") == Decimal("1.5")  # not whole: left to the caller's rule


@pytest.mark.parametrize(
    "pause", ["99999999999999999999", "P99999999999999999999D", "PT99999999999999999999M", "9" * 5000, "P32D", 44641]
)
def test_a_pause_longer_than_any_span_is_refused_by_its_rule(pause: Any) -> None:
    body = {"dateFrom": "2026-10-05T08:00", "dateTo": "2026-10-05T10:30", "noInvoice": False, "extraCharge": False}

    assert refusal(PositionNoteIn, {**body, "pause": pause}) == {"pause": "must be at most 31 days"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"a": "\\"", "b": ' + b"{" * 100_000,  # an escaped quote does not end the string before it
    ],
)
def test_a_body_nested_deeper_than_32_levels_is_refused_naming_the_body_before_it_is_read(raw: bytes) -> None:
    with pytest.raises(DomainError) as refused:
        parse_json_object(raw)

    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("body", "must not nest arrays and objects more than 32 levels deep")
    ]


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    raw = b'{"a": ' + b"[" * 31 + b"]" * 31 + b', "b": "' + b"[{" * 500 + b'\\\\", "c": "\\"[[[["}'

    assert parse_json_object(raw)["b"] == "[{" * 500 + "\\"


def test_money_and_quantities_are_plain_ascii_decimals_and_come_back_as_written_plainly() -> None:
    """A manual line's quantity or price is stored and shown back: "1E+2" and full-width digits would be
    accepted by `Decimal` and then shown as typed (review of issue 17)."""
    amount = TypeAdapter(Annotated[Decimal, decimal_between(Decimal(-1000), Decimal(1000), 2)])
    assert amount.validate_python(" 12.5 ") == Decimal("12.5")
    assert amount.validate_python(".5") == Decimal("0.5")
    assert str(amount.validate_python(Decimal("1E+2"))) == "100"  # a JSON 1e2, parsed as a Decimal
    for text in ("1E+2", "１", "٣", "12,5", "0x10", ""):
        with pytest.raises(ValidationError, match="must be a decimal number"):
            amount.validate_python(text)
