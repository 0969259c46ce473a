"""The reference material beside the repository (`../shared/reference/`, as CI checks it out)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support.app import REPO


def reference_dir() -> Path:
    # A clone has shared/ beside it; a git worktree under <root>/wt/<name> has it two levels up.
    for base in (REPO.parent, *REPO.parents):
        candidate = base / "shared" / "reference"
        if (candidate / "power-platform-schemas").is_dir():
            return candidate
    raise AssertionError(f"no shared/reference/ beside {REPO} or above it: the connector schemas are there")


def economic_schema_dir() -> Path:
    """e-conomic's published JSON schemas, which the e-conomic stand-in validates bodies against."""
    return reference_dir() / "economic-schemas"


def power_platform_schema(name: str) -> Any:
    """One of Power Platform's JSON schemas, e.g. `apiDefinition.swagger.schema.json`."""
    return load_commented_json(reference_dir() / "power-platform-schemas" / name)


_STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*')


def load_commented_json(path: Path) -> Any:
    """JSON with `//` line comments (Power Platform's schemas have them); `//` inside strings stays."""
    text = _STRING_OR_COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", path.read_text())
    return json.loads(text)


FILE_RESPONSE_REFUSAL = "'file' is not valid under any of the given schemas"


def swagger_2_errors(document: dict[str, Any]) -> list[str]:
    """openapi-spec-validator's errors for a Swagger 2.0 document, less its one known false refusal.

    Swagger 2.0 allows `type: file` as the root of a response schema ("as an extension to the Schema
    Object"); openapi-spec-validator checks it as a plain JSON schema and refuses it, once per such
    response. The official 2.0 JSON schema (Power Platform's copy) accepts it. Exactly one refusal per
    file response is dropped; any other error, or an extra one, stays."""
    from openapi_spec_validator import OpenAPIV2SpecValidator

    errors = [error.message for error in OpenAPIV2SpecValidator(document).iter_errors()]
    file_responses = sum(
        1
        for path in document.get("paths", {}).values()
        for op in path.values()
        for response in op.get("responses", {}).values()
        if response.get("schema") == {"type": "file"}
    )
    for _ in range(file_responses):
        if FILE_RESPONSE_REFUSAL in errors:
            errors.remove(FILE_RESPONSE_REFUSAL)
    return errors


def certified_connector(name: str) -> Any:
    """A file of the certified "Tesseron Invoice" connector (`apiDefinition.swagger.json`,
    `apiProperties.json`): a copy of microsoft/PowerPlatformConnectors
    `certified-connectors/Tesseron Invoice/`, the contract our connector actions answer to."""
    return json.loads((reference_dir() / "tesseron-invoice-connector" / name).read_text(encoding="utf-8"))


def inline_refs(schema: Any, document: dict[str, Any]) -> Any:
    """`schema` with every `#/definitions/X` reference of `document` replaced by X itself."""
    if isinstance(schema, list):
        return [inline_refs(item, document) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        return inline_refs(document["definitions"][ref.rsplit("/", 1)[-1]], document)
    return {key: inline_refs(value, document) for key, value in schema.items()}


def operation(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        op for path in document["paths"].values() for op in path.values() if op.get("operationId") == operation_id
    ]
    assert len(found) == 1, operation_id
    return found[0]
