"""Conversion between the platform's HTTP objects and `shared.web.types` (the only place that does it),
and the registration of one Functions route per operation spec."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import azure.functions as func

from shared.config import ConfigError
from shared.container import container
from shared.errors import Unavailable
from shared.observability import request_context
from shared.web.registry import AnySpec
from shared.web.status import error_response
from shared.web.types import ApiRequest, ApiResponse


def to_api_request(req: func.HttpRequest) -> ApiRequest:
    return ApiRequest(
        query=dict(req.params),
        headers={name.lower(): value for name, value in req.headers.items()},
        body=req.get_body() or b"",
        route_params=dict(req.route_params),
    )


def to_http_response(response: ApiResponse) -> func.HttpResponse:
    return func.HttpResponse(
        response.content(),
        status_code=response.status,
        headers=response.headers,
        mimetype=response.content_type,
        charset="utf-8",
    )


def serve(operation_id: str, req: func.HttpRequest) -> func.HttpResponse:
    request = to_api_request(req)
    # Every log line of the call carries the calling workflow's correlation ids.
    with request_context(request.headers):
        try:
            api = container().api
        except ConfigError as error:
            return to_http_response(error_response(Unavailable(f"Not configured: {error}.")))
        return to_http_response(api.handle(operation_id, request))


def _trigger_for(operation_id: str) -> Callable[[func.HttpRequest], func.HttpResponse]:
    # The worker binds parameters by name and refuses any it has no binding for, so the operation
    # id is closed over rather than passed as a defaulted parameter.
    def trigger(req: func.HttpRequest) -> func.HttpResponse:
        return serve(operation_id, req)

    trigger.__name__ = trigger.__qualname__ = operation_id
    return trigger


def register_operations(bp: func.Blueprint, specs: Iterable[AnySpec]) -> None:
    """One HTTP-triggered function per spec, named by its operationId."""
    for spec in specs:
        trigger = _trigger_for(spec.operation_id)
        bp.function_name(name=spec.operation_id)(bp.route(route=spec.route, methods=[spec.method])(trigger))
