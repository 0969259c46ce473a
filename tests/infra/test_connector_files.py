"""infra/connector/: the Power Platform custom connector is the generated document, committed, and
valid against Power Platform's own schemas."""

from __future__ import annotations

import json

from jsonschema import Draft4Validator, Draft7Validator

from shared.operations import ALL_OPERATIONS
from shared.web.openapi import CONNECTOR_COMMAND, connector_files
from tests.support.app import REPO
from tests.support.reference import power_platform_schema

CONNECTOR = REPO / "infra" / "connector"


def test_committed_connector_files_match_the_operations() -> None:
    for name, expected in connector_files().items():
        committed = (CONNECTOR / name).read_text(encoding="utf-8")
        assert committed == expected, f"infra/connector/{name} is out of date: run `{CONNECTOR_COMMAND}`"


def test_api_definition_is_valid_for_power_platform_and_covers_every_operation() -> None:
    schema = power_platform_schema("apiDefinition.swagger.schema.json")
    definition = json.loads((CONNECTOR / "apiDefinition.swagger.json").read_text())

    assert [e.message for e in Draft4Validator(schema).iter_errors(definition)] == []
    ids = {op["operationId"] for path in definition["paths"].values() for op in path.values()}
    assert ids == {spec.operation_id for spec in ALL_OPERATIONS}
    assert definition["host"] == "dynamichosturl"
    assert definition["securityDefinitions"]["apikey"] == {"type": "apiKey", "in": "query", "name": "apikey"}


def test_api_properties_are_valid_with_a_secure_key_and_a_dynamic_host() -> None:
    schema = power_platform_schema("paconn-apiProperties.schema.json")
    properties = json.loads((CONNECTOR / "apiProperties.json").read_text())

    assert [e.message for e in Draft7Validator(schema).iter_errors(properties)] == []
    params = properties["properties"]["connectionParameters"]
    assert params["apikey"]["type"] == "securestring"
    assert params["instanceUrl"]["type"] == "string"
    (policy,) = properties["properties"]["policyTemplateInstances"]
    assert policy["templateId"] == "dynamichosturl"
    assert "@connectionParameters('instanceUrl')" in policy["parameters"]["x-ms-apimTemplateParameter.urlTemplate"]


def test_the_schemas_would_catch_a_broken_properties_file() -> None:
    schema = power_platform_schema("paconn-apiProperties.schema.json")
    properties = json.loads((CONNECTOR / "apiProperties.json").read_text())
    del properties["properties"]["iconBrandColor"]

    assert list(Draft7Validator(schema).iter_errors(properties)) != []
