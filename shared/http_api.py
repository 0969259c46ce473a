"""The HTTP pipeline every key-authenticated operation goes through (specs in `shared.operations`).

Order of checks on every call: body size, API key, right, throttle, input, idempotency, action. An
unknown key cannot spend anyone's budget; every call that reaches the throttle counts, valid or not
(as on the certified connector: "API calls per connection").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from azure.core.exceptions import AzureError

from shared.api_types import ApiRequest, ApiResponse
from shared.connector import ConnectorService
from shared.errors import (
    ApiError,
    FieldError,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
)
from shared.idempotency import HEADER as IDEMPOTENCY_HEADER
from shared.idempotency import Idempotency, fingerprint
from shared.keys import KeyService, Principal
from shared.operations import OperationSpec
from shared.throttle import Contended, SlidingWindowLimiter
from shared.timing import measure_round_trips
from shared.validation import parse_json_object, validate

log = logging.getLogger("invoice_bridge.http")

KEY_QUERY_PARAMETER = "apikey"  # what the connector sends; `apiKey` and any other casing work too
KEY_HEADER = "x-api-key"


Handler = Callable[["Call"], ApiResponse]


@dataclass(frozen=True)
class Call:
    """What a handler gets once the pipeline has let a request through."""

    principal: Principal
    data: Any
    """The spec's model, validated; None for an operation without a model."""
    generation: str | None
    """The idempotency generation token when the caller sent an Idempotency-Key (see shared.idempotency)."""
    request: ApiRequest


def api_key_from(request: ApiRequest) -> str | None:
    for name, value in request.query.items():
        if name.lower() == KEY_QUERY_PARAMETER and value:
            return value
    return request.header(KEY_HEADER)


_NOT_INPUT = frozenset({KEY_QUERY_PARAMETER, "code"})  # credentials, never part of an operation's input


def query_fields(request: ApiRequest) -> dict[str, Any]:
    return {name: value for name, value in request.query.items() if name.lower() not in _NOT_INPUT}


class HttpApi:
    """The HTTP contract of every key-authenticated operation, independent of the host that serves it."""

    def __init__(
        self,
        *,
        keys: KeyService,
        limiter: SlidingWindowLimiter,
        idempotency: Idempotency,
        timezone: ZoneInfo,
        max_body_bytes: int,
        specs: Iterable[OperationSpec],
        handlers: Mapping[str, Handler],
    ) -> None:
        self._keys = keys
        self._limiter = limiter
        self._idempotency = idempotency
        self._tz = timezone
        self._max_body = max_body_bytes
        self.specs: dict[str, OperationSpec] = {spec.operation_id: spec for spec in specs}
        unbound = sorted({spec.handler for spec in self.specs.values()} - set(handlers))
        if unbound:
            raise ValueError(f"operations without a handler: {', '.join(unbound)}")
        self._handlers = dict(handlers)

    def handle(self, operation_id: str, request: ApiRequest) -> ApiResponse:
        started = time.perf_counter()
        with measure_round_trips() as trips:
            try:
                response = self._handle(self.specs[operation_id], request)
            except ApiError as error:
                response = error_response(error)
            except Contended:
                response = _unavailable("Too many simultaneous calls on this connection; retry shortly.", 1)
            except AzureError as error:
                # Storage outages and timeouts: the client should retry, and Logic Apps does on 503.
                log.warning("%s failed: storage error %s", operation_id, type(error).__name__)
                response = _unavailable("Storage is unavailable right now; retry shortly.", 5)
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = (
            f'storage;dur={trips.seconds * 1000:.2f};desc="{trips.count} round trips", total;dur={elapsed:.2f}'
        )
        log.info("%s -> %s in %.1f ms (%d storage round trips)", operation_id, response.status, elapsed, trips.count)
        return response

    def _handle(self, spec: OperationSpec, request: ApiRequest) -> ApiResponse:
        if len(request.body) > self._max_body:
            raise PayloadTooLarge(
                f"The request body is larger than {self._max_body} bytes.",
                [FieldError("body", f"must be at most {self._max_body} bytes")],
            )
        who = self._keys.authenticate(api_key_from(request))
        who.require(spec.right)
        decision = self._limiter.admit(who.key_id, who.limit, who.period_seconds)
        rate = {"X-RateLimit-Limit": str(decision.limit), "X-RateLimit-Remaining": str(decision.remaining)}
        if not decision.admitted:
            wait = decision.retry_after_header
            raise TooManyRequests(
                f"Rate limit of {who.limit} calls per {who.period_seconds} seconds reached; retry in {wait} s.",
                headers={"Retry-After": wait, **rate},
            )
        handler = self._handlers[spec.handler]
        try:
            payload = self._payload(spec, request)
            data = validate(spec.model, payload, self._tz) if spec.model is not None else None
            key = request.header(IDEMPOTENCY_HEADER)
            if spec.creates and key is not None:
                response = self._idempotency.run(
                    who.tenant,
                    spec.handler,
                    key,
                    fingerprint(payload),
                    lambda gen: handler(Call(who, data, gen, request)),
                )
            else:
                response = handler(Call(who, data, None, request))
        except ApiError as error:
            error.headers.update(rate)
            raise
        response.headers.update(rate)
        return response

    @staticmethod
    def _payload(spec: OperationSpec, request: ApiRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if spec.source in ("query", "body_or_query"):
            payload.update(query_fields(request))
        if spec.source == "body" or (spec.source == "body_or_query" and request.body.strip()):
            payload.update(parse_json_object(request.body))
        # Route parameters are part of the resource's address: they win over body fields.
        payload.update(request.route_params)
        return payload


def connector_handlers(connector: ConnectorService) -> dict[str, Handler]:
    """The certified connector's three actions, answering in its `Message`/`Success` envelope."""
    return {
        "CreateActivityRecording": lambda call: _created(
            "Activity recording created.",
            "ActivityRecordingId",
            connector.create_activity_recording(call.principal, call.data, call.generation),
        ),
        "CreateInvoicePositionNote": lambda call: _created(
            "Position note created.",
            "invoiceNoteId",
            connector.create_position_note(call.principal, call.data, call.generation),
        ),
        "GetServiceAssignmentsDispatcher": lambda call: _listed(connector.list_assignments(call.principal, call.data)),
    }


def _created(message: str, id_field: str, record_id: str) -> ApiResponse:
    return ApiResponse(200, {"Message": message, "Success": True, id_field: record_id})


def _listed(result: dict[str, Any]) -> ApiResponse:
    message = f"{len(result['Results'])} of {result['Filtered']} service assignments."
    return ApiResponse(200, {"Message": message, "Success": True, "Result": result})


def error_response(error: ApiError) -> ApiResponse:
    """The answer for `error`: its status, headers and the `Message`/`Success` envelope."""
    return ApiResponse(error.status, error.body(), dict(error.headers))


def _unavailable(message: str, retry_after: int) -> ApiResponse:
    return error_response(ServiceUnavailable(message, headers={"Retry-After": str(retry_after)}))
