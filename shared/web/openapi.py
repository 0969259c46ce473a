"""The OpenAPI 2.0 (Swagger) document of every key-authenticated operation, generated from
`shared.operations.ALL_OPERATIONS` and the pydantic models the handlers validate with, so the
document cannot drift from what the app accepts.

Swagger 2.0 because Logic Apps' "HTTP + Swagger" action and Power Platform custom connectors take
nothing newer. Served at `GET /ApiInvoice/swagger.json`; the Power Platform custom connector in
`infra/connector/` is generated from the same function:

    python -m shared.web.openapi --connector infra/connector
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shared.operations import ALL_OPERATIONS
from shared.web.openapi_schema import SCALARS, Definitions, parameter_from, without
from shared.web.registry import AnySpec
from shared.web.types import public_host

TITLE = "Invoice Bridge"
VERSION = "1.0"
DESCRIPTION = (
    "Record billable work and run invoicing. Every operation needs an API key in the `apikey` query "
    "parameter (or the `X-Api-Key` header). Failures answer with a real HTTP error status and the "
    "envelope {Message, Success: false, Errors: [{Field, Message}]}."
)
SPEC_ROUTE = "ApiInvoice/swagger.json"
# The key's securityDefinition and the connector's connection parameter are both named `api_key`, as in the
# certified "Tesseron Invoice" connector (../shared/reference/tesseron-invoice-connector/, = microsoft/
# PowerPlatformConnectors certified-connectors/Tesseron Invoice/) and the PowerPlatformConnectors README's
# apiProperties example; the key travels as the query parameter `apikey` (`in: query`), as it does there.
# No source says the platform requires that name (UNVERIFIED); `api_key` is right under both answers.
SECURITY_NAME = "api_key"
CONNECTOR_COMMAND = "python -m shared.web.openapi --connector infra/connector"

ERROR_STATUSES: dict[str, str] = {
    "400": "The request is invalid; each problem is named in Errors.",
    "401": "Missing or unknown API key.",
    "403": "The API key lacks the right for this operation.",
    "404": "Not found.",
    "409": "The current state does not allow it (still referenced, held by a job, changed meanwhile).",
    "413": "The request body is too large, or a field too large to store (named).",
    "422": "The request cannot be carried out as it is (e.g. the Idempotency-Key was used before with a "
    "different request).",
    "429": "Over the connection's rate limit; retry after Retry-After seconds.",
    "503": "Storage or the accounting system is unavailable, the connection is busy, or the same "
    "Idempotency-Key is still in progress; retry after Retry-After seconds.",
}
CONDITIONAL_STATUSES: dict[str, str] = {
    "412": "The resource changed since the version in If-Match; read it again and redo the change.",
    "428": "If-Match is missing: a change must name the version it was made from.",
}
_RETRY_AFTER_STATUSES = ("409", "429", "503")
_ROUTE_PARAMETER = re.compile(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\??\}")


def _route_parameters(route: str) -> list[str]:
    return _ROUTE_PARAMETER.findall(route)


def swagger_path(route: str) -> str:
    """A Functions route template as a Swagger path: `/invoicing/drafts/{draftId}` (constraints dropped)."""
    return "/" + _ROUTE_PARAMETER.sub(lambda m: "{" + m.group(1) + "}", route).lstrip("/")


def _error_envelope() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["Message", "Success"],
        "properties": {
            "Message": {"type": "string", "description": "What went wrong.", "x-ms-summary": "Message"},
            "Success": {"type": "boolean", "description": "Always false.", "x-ms-summary": "Success"},
            "Code": {
                "type": "string",
                "description": "A short reason where one status has several causes (access_denied, busy, ...).",
                "x-ms-summary": "Code",
            },
            "Errors": {
                "type": "array",
                "description": "One entry per problem.",
                "x-ms-summary": "Errors",
                "items": {
                    "type": "object",
                    "properties": {
                        "Field": {"type": "string", "description": "The field, dotted.", "x-ms-summary": "Field"},
                        "Message": {"type": "string", "description": "Its rule.", "x-ms-summary": "Message"},
                    },
                },
            },
        },
    }


def _envelope() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "Message": {"type": "string", "x-ms-summary": "Message"},
            "Success": {"type": "boolean", "x-ms-summary": "Success"},
        },
    }


def _operation(spec: AnySpec, definitions: Definitions) -> dict[str, Any]:
    path_names = _route_parameters(spec.route)
    parameters: list[dict[str, Any]] = []
    schema: dict[str, Any] = {}
    if spec.model is not None:
        schema = definitions.add_model(spec.model)
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    for name in path_names:
        parameters.append(parameter_from(name, props.get(name, {"type": "string"}), "path", True))
    if spec.model is not None and spec.source in ("query", "body_or_query"):
        for name, prop in props.items():
            if name in path_names:
                continue
            if prop.get("type") in (*SCALARS, "array"):
                parameters.append(parameter_from(name, prop, "query", spec.source == "query" and name in required))
    if spec.model is not None and spec.source in ("body", "body_or_query"):
        body = without(schema, path_names)
        parameters.append(
            {
                "name": "body",
                "in": "body",
                "required": spec.source == "body",
                "schema": body,
                "x-ms-summary": "Body",
            }
        )
    if spec.conditional:
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "type": "string",
                "description": "The version (ETag) of the resource the change was made from; 412 if it changed since.",
                "x-ms-summary": "Version (ETag)",
            }
        )
    if spec.creates:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "type": "string",
                "maxLength": 255,
                "description": "Makes a retry safe: the same key and body replay the first answer.",
                "x-ms-summary": "Idempotency key",
                "x-ms-visibility": "advanced",
            }
        )
    success: dict[str, Any] = {"description": "Accepted." if spec.success_status == 202 else "Success."}
    if spec.produces == "application/json":
        success["schema"] = definitions.ref(spec.response_model) if spec.response_model else _envelope()
    else:
        success["schema"] = {"type": "file"}
    if spec.etag:
        success["headers"] = {"ETag": {"type": "string", "description": "The version, for the next If-Match."}}
    responses: dict[str, Any] = {str(spec.success_status): success}
    for status, text in {**ERROR_STATUSES, **(CONDITIONAL_STATUSES if spec.conditional else {})}.items():
        response: dict[str, Any] = {"description": text, "schema": {"$ref": "#/definitions/ErrorEnvelope"}}
        if status in _RETRY_AFTER_STATUSES:
            response["headers"] = {"Retry-After": {"type": "integer", "description": "Seconds to wait."}}
        responses[status] = response
    operation: dict[str, Any] = {
        "operationId": spec.operation_id,
        "summary": spec.summary,
        "description": spec.description or spec.summary + ".",
        "tags": [spec.tag or "Default"],
        # Errors are the JSON envelope whatever the success answer is (a PDF's 404 too).
        "produces": list(dict.fromkeys((*(m.strip() for m in spec.produces.split(",")), "application/json"))),
        "parameters": parameters,
        "responses": responses,
        "security": [{SECURITY_NAME: []}],
    }
    if spec.model is not None and spec.source != "query":
        operation["consumes"] = ["application/json"]
    if spec.deprecated:
        operation["deprecated"] = True
        operation["x-ms-visibility"] = "internal"
    return operation


def build_document(
    specs: Iterable[AnySpec] = ALL_OPERATIONS, *, host: str | None = None, schemes: Iterable[str] = ("https",)
) -> dict[str, Any]:
    """The Swagger 2.0 document for `specs`. `host` is `name[:port]`, or None to leave it out."""
    definitions = Definitions()
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, None] = {}
    for spec in specs:
        path = paths.setdefault(swagger_path(spec.route), {})
        method = spec.method.lower()
        if method in path:
            raise ValueError(f"two operations for {spec.method} {spec.route}")
        path[method] = _operation(spec, definitions)
        tags[spec.tag or "Default"] = None
    definitions.items["ErrorEnvelope"] = _error_envelope()
    document: dict[str, Any] = {
        "swagger": "2.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "basePath": "/",
        "schemes": [],  # and `host`: see _served_from
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": dict(sorted(definitions.items.items())),
        "securityDefinitions": {SECURITY_NAME: {"type": "apiKey", "in": "query", "name": "apikey"}},
        "security": [{SECURITY_NAME: []}],
        "tags": [{"name": name} for name in tags],
    }
    return _served_from(document, host, schemes)


def _served_from(document: dict[str, Any], host: str | None, schemes: Iterable[str]) -> dict[str, Any]:
    """A shallow copy of `document` with its `host` (right after `info`, left out when None) and `schemes`."""
    served: dict[str, Any] = {"swagger": document["swagger"], "info": document["info"]}
    if host:
        served["host"] = host
    served.update(document)
    served["schemes"] = list(schemes)
    return served


@functools.cache
def _app_document() -> dict[str, Any]:
    """`ALL_OPERATIONS`' document, built once per process: requests differ only in host and scheme.
    Shared by every request, so never modified."""
    return build_document()


def document_for_request(headers: Mapping[str, str]) -> dict[str, Any]:
    """The document as served: `host` and `schemes` from the request (lower-cased header names).

    Behind the platform's front end the scheme is in `X-Forwarded-Proto` and the public host may be in
    `X-Forwarded-Host`. A malformed host is left out rather than echoed into the document."""
    host, proto = public_host(headers)
    return _served_from(_app_document(), host, (proto,))


# --- The Power Platform custom connector (infra/connector/) ------------------------------------

CONNECTOR_PROPERTIES: dict[str, Any] = {
    "properties": {
        "connectionParameters": {
            "instanceUrl": {
                "type": "string",
                "uiDefinition": {
                    "displayName": "Instance URL",
                    "description": "Host name of your Invoice Bridge function app, without https://",
                    "tooltip": "For example invoice-bridge-abc123.azurewebsites.net (azd prints it as SERVICE_API_URL)",
                    "constraints": {"required": "true"},
                },
            },
            SECURITY_NAME: {
                "type": "securestring",
                "uiDefinition": {
                    "displayName": "API key",
                    "description": "An API key from `python -m shared.manage keys create`",
                    "tooltip": "Sent as the apikey query parameter; shown once when created",
                    "constraints": {"tabIndex": 2, "clearText": False, "required": "true"},
                },
            },
        },
        "iconBrandColor": "#218472",
        "capabilities": ["actions"],
        "policyTemplateInstances": [
            {
                "templateId": "dynamichosturl",
                "title": "instanceUrl",
                "parameters": {
                    "x-ms-apimTemplateParameter.urlTemplate": "https://@connectionParameters('instanceUrl')"
                },
            }
        ],
        "publisher": "Invoice Bridge",
        "stackOwner": "Invoice Bridge",
    }
}


def connector_files(specs: Iterable[AnySpec] = ALL_OPERATIONS) -> dict[str, str]:
    """`apiDefinition.swagger.json` and `apiProperties.json` as committed under infra/connector/."""
    definition = build_document(specs, host="dynamichosturl", schemes=("https",))
    definition["info"]["description"] = "Invoice Bridge: record billable work and run invoicing."
    return {
        "apiDefinition.swagger.json": json.dumps(definition, indent=2, ensure_ascii=False) + "\n",
        "apiProperties.json": json.dumps(CONNECTOR_PROPERTIES, indent=2, ensure_ascii=False) + "\n",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.web.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--connector", metavar="DIR", help="write the Power Platform connector files into DIR")
    args = parser.parse_args(argv)
    if args.connector:
        target = Path(args.connector)
        target.mkdir(parents=True, exist_ok=True)
        for name, text in connector_files().items():
            (target / name).write_text(text, encoding="utf-8")
            print(f"wrote {target / name}")
    else:
        json.dump(build_document(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
