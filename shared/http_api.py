"""The connector's HTTP contract, independent of the host that serves it.

Order of checks on every call: body size, API key, right, throttle, body, idempotency, action. An
unknown key cannot spend anyone's budget; every call that reaches the throttle counts, valid or not
(as on the certified connector: "API calls per connection").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from azure.core.exceptions import AzureError
from pydantic import BaseModel

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
from shared.throttle import Contended, SlidingWindowLimiter
from shared.timing import measure_round_trips
from shared.validation import (
    ActivityRecordingIn,
    ListAssignmentsIn,
    PositionNoteIn,
    parse_json_object,
    validate,
)

log = logging.getLogger("invoice_bridge.http")

KEY_QUERY_PARAMETER = "apikey"  # what the connector sends; `apiKey` and any other casing work too
KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class Operation:
    name: str
    """The connector's operationId, which is also the right a key needs to call it."""
    model: type[BaseModel]
    run: Callable[[Principal, Any, str | None], ApiResponse]
    creates: bool


def api_key_from(request: ApiRequest) -> str | None:
    for name, value in request.query.items():
        if name.lower() == KEY_QUERY_PARAMETER and value:
            return value
    return request.header(KEY_HEADER)


class ConnectorApi:
    def __init__(
        self,
        *,
        keys: KeyService,
        limiter: SlidingWindowLimiter,
        idempotency: Idempotency,
        connector: ConnectorService,
        timezone: ZoneInfo,
        max_body_bytes: int,
    ) -> None:
        self._keys = keys
        self._limiter = limiter
        self._idempotency = idempotency
        self._tz = timezone
        self._max_body = max_body_bytes
        self.operations: Mapping[str, Operation] = {
            op.name: op
            for op in (
                Operation(
                    "CreateActivityRecording",
                    ActivityRecordingIn,
                    lambda who, data, gen: _created(
                        "Activity recording created.",
                        "ActivityRecordingId",
                        connector.create_activity_recording(who, data, gen),
                    ),
                    creates=True,
                ),
                Operation(
                    "CreateInvoicePositionNote",
                    PositionNoteIn,
                    lambda who, data, gen: _created(
                        "Position note created.",
                        "invoiceNoteId",
                        connector.create_position_note(who, data, gen),
                    ),
                    creates=True,
                ),
                Operation(
                    "GetServiceAssignmentsDispatcher",
                    ListAssignmentsIn,
                    lambda who, data, _gen: _listed(connector.list_assignments(who, data)),
                    creates=False,
                ),
            )
        }

    def handle(self, operation: str, request: ApiRequest) -> ApiResponse:
        started = time.perf_counter()
        with measure_round_trips() as trips:
            try:
                response = self._handle(self.operations[operation], request)
            except ApiError as error:
                response = ApiResponse(error.status, error.body(), dict(error.headers))
            except Contended:
                response = _unavailable("Too many simultaneous calls on this connection; retry shortly.", 1)
            except AzureError as error:
                # Storage outages and timeouts: the client should retry, and Logic Apps does on 503.
                log.warning("%s failed: storage error %s", operation, type(error).__name__)
                response = _unavailable("Storage is unavailable right now; retry shortly.", 5)
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = (
            f'storage;dur={trips.seconds * 1000:.2f};desc="{trips.count} round trips", total;dur={elapsed:.2f}'
        )
        log.info("%s -> %s in %.1f ms (%d storage round trips)", operation, response.status, elapsed, trips.count)
        return response

    def _handle(self, op: Operation, request: ApiRequest) -> ApiResponse:
        if len(request.body) > self._max_body:
            raise PayloadTooLarge(
                f"The request body is larger than {self._max_body} bytes.",
                [FieldError("body", f"must be at most {self._max_body} bytes")],
            )
        who = self._keys.authenticate(api_key_from(request))
        who.require(op.name)
        decision = self._limiter.admit(who.key_id, who.limit, who.period_seconds)
        rate = {"X-RateLimit-Limit": str(decision.limit), "X-RateLimit-Remaining": str(decision.remaining)}
        if not decision.admitted:
            wait = decision.retry_after_header
            raise TooManyRequests(
                f"Rate limit of {who.limit} calls per {who.period_seconds} seconds reached; retry in {wait} s.",
                headers={"Retry-After": wait, **rate},
            )
        try:
            payload = parse_json_object(request.body)
            data = validate(op.model, payload, self._tz)
            key = request.header(IDEMPOTENCY_HEADER)
            if op.creates and key is not None:
                response = self._idempotency.run(
                    who.tenant, op.name, key, fingerprint(payload), lambda gen: op.run(who, data, gen)
                )
            else:
                response = op.run(who, data, None)
        except ApiError as error:
            error.headers.update(rate)
            raise
        response.headers.update(rate)
        return response


def _created(message: str, id_field: str, record_id: str) -> ApiResponse:
    return ApiResponse(200, {"Message": message, "Success": True, id_field: record_id})


def _listed(result: dict[str, Any]) -> ApiResponse:
    message = f"{len(result['Results'])} of {result['Filtered']} service assignments."
    return ApiResponse(200, {"Message": message, "Success": True, "Result": result})


def _unavailable(message: str, retry_after: int) -> ApiResponse:
    error = ServiceUnavailable(message)
    return ApiResponse(error.status, error.body(), {"Retry-After": str(retry_after)})
