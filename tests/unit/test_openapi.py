"""The OpenAPI 2.0 document: valid Swagger 2.0 (and valid for Power Platform), one operation per spec,
and the shapes other operations will bring (GET with query and path parameters, PUT/DELETE, PDF
answers, array bodies) come out as Logic Apps expects them."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from jsonschema import Draft4Validator
from openapi_spec_validator import OpenAPIV2SpecValidator
from pydantic import BaseModel, Field, RootModel

from shared.connector.schemas import PositionNoteIn
from shared.operations import ALL_OPERATIONS
from shared.web.openapi import build_document, document_for_request, swagger_path
from shared.web.registry import AnySpec, OperationSpec
from tests.support.reference import FILE_RESPONSE_REFUSAL, power_platform_schema, swagger_2_errors


def power_platform_errors(document: dict[str, Any]) -> list[str]:
    schema = power_platform_schema("apiDefinition.swagger.schema.json")
    return [f"{list(e.path)}: {e.message}" for e in Draft4Validator(schema).iter_errors(document)]


class DraftQuery(BaseModel):
    draftId: int = Field(description="The draft's number.")
    status: str | None = Field(default=None, description="Only drafts in this state.", examples=["open"])
    limit: int = 50


class Line(BaseModel):
    text: str
    hours: float | None = None


class Lines(RootModel[list[Line]]):
    pass


class Period(BaseModel):
    period: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]
    note: Line | None = None


class RunOut(BaseModel):
    runId: str
    lines: list[Line]


FUTURE: tuple[AnySpec, ...] = (
    OperationSpec("GetDraft", "GET", "invoicing/drafts/{draftId:int}", "admin", "Read a draft", DraftQuery, "query"),
    OperationSpec("ReplaceLines", "PUT", "invoicing/drafts/{draftId}/lines", "admin", "Replace lines", Lines),
    OperationSpec("DeleteDraft", "DELETE", "invoicing/drafts/{draftId:int}", "admin", "Delete a draft"),
    OperationSpec(
        "DraftPdf", "GET", "invoicing/drafts/{draftId}/pdf", "admin", "Draft as PDF", produces="application/pdf"
    ),
    OperationSpec(
        "StartRun", "POST", "invoicing/runs", "admin", "Start a run", Period, creates=True, response_model=RunOut
    ),
)


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for path in document["paths"].values() for op in path.values()}


def test_the_served_document_is_valid_swagger_2_and_valid_for_power_platform() -> None:
    document = build_document(host="invoice-bridge.azurewebsites.net")

    assert document["swagger"] == "2.0"
    assert swagger_2_errors(document) == []
    assert power_platform_errors(document) == []


def test_the_validators_would_catch_a_broken_document() -> None:
    document = build_document(host="invoice-bridge.azurewebsites.net")
    post = document["paths"]["/ApiInvoice/CreateInvoicePositionNote"]["post"]
    post["parameters"][0]["schema"]["properties"]["dateFrom"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    assert swagger_2_errors(document) != []
    assert power_platform_errors(document) != []


def test_every_operation_is_in_the_document_once_with_its_route_and_method() -> None:
    document = build_document()
    ops = operations(document)

    assert sorted(ops) == sorted(spec.operation_id for spec in ALL_OPERATIONS)
    for spec in ALL_OPERATIONS:
        assert spec.method.lower() in document["paths"][swagger_path(spec.route)]


def test_a_create_declares_the_fields_the_handler_validates() -> None:
    op = operations(build_document())["CreateInvoicePositionNote"]
    body = next(p for p in op["parameters"] if p["in"] == "body")

    assert set(body["schema"]["properties"]) == set(PositionNoteIn.model_fields)
    assert sorted(body["schema"]["required"]) == ["dateFrom", "dateTo", "extraCharge", "noInvoice"]
    assert body["schema"]["properties"]["hint"]["x-nullable"] is True
    assert body["schema"]["properties"]["ticketID"]["x-ms-summary"] == "Ticket ID"
    assert "anyOf" not in str(body)
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op["parameters"])
    assert op["security"] == [{"api_key": []}]


def test_errors_use_the_envelope_and_retryable_ones_say_retry_after() -> None:
    document = build_document()
    op = operations(document)["GetServiceAssignmentsDispatcher"]

    assert {"200", "400", "401", "403", "404", "409", "422", "429", "503"} <= set(op["responses"])
    assert op["responses"]["429"]["schema"] == {"$ref": "#/definitions/ErrorEnvelope"}
    assert "Retry-After" in op["responses"]["503"]["headers"]
    assert document["definitions"]["ErrorEnvelope"]["required"] == ["Message", "Success"]
    assert document["securityDefinitions"] == {"api_key": {"type": "apiKey", "in": "query", "name": "apikey"}}


def test_nested_models_become_definitions_referenced_by_swagger_2_refs() -> None:
    document = build_document()
    body = next(p for p in operations(document)["GetServiceAssignmentsDispatcher"]["parameters"] if p["in"] == "body")

    nested = body["schema"]["properties"]["AdditionalSearchData"]
    assert nested["$ref"] == "#/definitions/SearchFilters"
    assert "IsInvoice" in document["definitions"]["SearchFilters"]["properties"]
    assert "$defs" not in str(document)


def test_the_deprecated_alias_is_marked_and_hidden_from_designers() -> None:
    op = operations(build_document())["CreateTicket"]

    assert op["deprecated"] is True
    assert op["x-ms-visibility"] == "internal"


def test_operations_still_to_come_are_described_as_logic_apps_needs_them() -> None:
    document = build_document(FUTURE, host="example.org")
    ops = operations(document)

    # The PDF's `type: file` response: openapi-spec-validator refuses it, wrongly (see swagger_2_errors).
    assert [e.message for e in OpenAPIV2SpecValidator(document).iter_errors()] == [FILE_RESPONSE_REFUSAL]
    assert swagger_2_errors(document) == []
    assert power_platform_errors(document) == []

    get = ops["GetDraft"]
    assert "/invoicing/drafts/{draftId}" in document["paths"]  # route constraint dropped
    params = {p["name"]: p for p in get["parameters"]}
    assert params["draftId"] == {**params["draftId"], "in": "path", "required": True, "type": "integer"}
    assert params["status"]["in"] == "query"
    assert params["status"]["required"] is False
    assert params["limit"]["default"] == 50
    assert "body" not in params

    put_body = next(p for p in ops["ReplaceLines"]["parameters"] if p["in"] == "body")
    assert put_body["schema"]["type"] == "array"
    assert put_body["schema"]["items"] == {"$ref": "#/definitions/Line"}
    assert [p["in"] for p in ops["ReplaceLines"]["parameters"]][:1] == ["path"]

    assert [p["name"] for p in ops["DeleteDraft"]["parameters"]] == ["draftId"]
    assert "delete" in document["paths"]["/invoicing/drafts/{draftId}"]

    pdf = ops["DraftPdf"]
    assert pdf["produces"] == ["application/pdf", "application/json"]  # its errors are the JSON envelope
    assert pdf["responses"]["200"]["schema"] == {"type": "file"}

    run = ops["StartRun"]
    body = next(p for p in run["parameters"] if p["in"] == "body")
    assert body["schema"]["properties"]["period"]["pattern"] == r"^\d{4}-\d{2}$"
    assert body["schema"]["properties"]["period"]["description"] == "YYYY-MM"
    assert run["responses"]["200"]["schema"] == {"$ref": "#/definitions/RunOut"}
    assert document["definitions"]["RunOut"]["properties"]["lines"]["items"] == {"$ref": "#/definitions/Line"}


def test_examples_become_a_single_example() -> None:
    document = build_document(FUTURE)
    status = next(p for p in operations(document)["GetDraft"]["parameters"] if p["name"] == "status")

    assert "examples" not in str(document)
    assert status["description"] == "Only drafts in this state."


def test_two_specs_for_one_path_and_method_are_refused() -> None:
    twice: tuple[AnySpec, ...] = (
        FUTURE[2],
        OperationSpec("DeleteAgain", "DELETE", "invoicing/drafts/{draftId}", "admin", "Again"),
    )

    with pytest.raises(ValueError, match="two operations"):
        build_document(twice)


@pytest.mark.parametrize(
    ("headers", "host", "scheme"),
    [
        ({"host": "app.azurewebsites.net", "x-forwarded-proto": "https"}, "app.azurewebsites.net", "https"),
        ({"host": "internal:8080", "x-forwarded-host": "api.example.com"}, "api.example.com", "https"),
        ({"host": "127.0.0.1:7071"}, "127.0.0.1:7071", "http"),
        ({"host": "evil.com/<script>"}, None, "https"),
    ],
)
def test_host_and_scheme_come_from_the_request(headers: dict[str, str], host: str | None, scheme: str) -> None:
    document = document_for_request(headers)

    assert document.get("host") == host
    assert document["schemes"] == [scheme]
