"""Conversion between the platform's HTTP objects and `shared.api_types` (the only place that does it)."""

from __future__ import annotations

import azure.functions as func

from shared.api_types import ApiRequest, ApiResponse


def to_api_request(req: func.HttpRequest) -> ApiRequest:
    return ApiRequest(
        query=dict(req.params),
        headers={name.lower(): value for name, value in req.headers.items()},
        body=req.get_body() or b"",
    )


def to_http_response(response: ApiResponse) -> func.HttpResponse:
    return func.HttpResponse(
        response.json_bytes(),
        status_code=response.status,
        headers=response.headers,
        mimetype="application/json",
        charset="utf-8",
    )
