"""The HTTP pipeline every key-authenticated operation goes through (specs in `shared.operations`).

Order of checks on every call: body size, API key, right, throttle, input, the operation's own access
checks (`authorize`), idempotency, action: a replay passes every check the first call passed. An
unknown key cannot spend anyone's budget; every call that reaches the throttle counts, valid or not
(as on the certified connector: "API calls per connection").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from shared.errors import DomainError, FieldError, PreconditionRequired, RateLimited, TooLarge, Unavailable
from shared.platform.idempotency import HEADER as IDEMPOTENCY_HEADER
from shared.platform.idempotency import Idempotency, fingerprint
from shared.platform.keys import KeyService, Principal
from shared.platform.throttle import Contended, SlidingWindowLimiter
from shared.timing import measure_round_trips
from shared.validation import parse_json_object, validate
from shared.web.registry import AnySpec, Call
from shared.web.status import error_response
from shared.web.types import ApiRequest, ApiResponse

log = logging.getLogger("invoice_bridge.http")

KEY_QUERY_PARAMETER = "apikey"  # what the connector sends; `apiKey` and any other casing work too
KEY_HEADER = "x-api-key"


def api_key_from(request: ApiRequest) -> str | None:
    for name, value in request.query.items():
        if name.lower() == KEY_QUERY_PARAMETER and value:
            return value
    return request.header(KEY_HEADER)


_NOT_INPUT = frozenset({KEY_QUERY_PARAMETER, "code"})  # credentials, never part of an operation's input


def query_fields(request: ApiRequest) -> dict[str, Any]:
    return {name: value for name, value in request.query.items() if name.lower() not in _NOT_INPUT}


IF_MATCH = "If-Match"


def if_match(request: ApiRequest) -> tuple[str, ...]:
    """The entity tags `If-Match` names, weak or strong, unquoted (`*` stays `*`: any version; RFC 9110
    13.1.1, https://www.rfc-editor.org/rfc/rfc9110#name-if-match); 428 without one (RFC 6585 3)."""
    raw = (request.header(IF_MATCH) or "").strip()
    if not raw:
        raise PreconditionRequired(
            "A change of a draft must say which version of it you saw: send If-Match with its ETag.",
            [FieldError(IF_MATCH, "is required: the draft's version (ETag, or the version field of the draft)")],
        )
    return tuple(part.strip().removeprefix("W/").strip('"') for part in raw.split(","))


def _with_etag(spec: AnySpec, response: ApiResponse) -> ApiResponse:
    """A success answer of an operation whose body carries a version (`spec.etag`) sends it as `ETag`
    too, quoted as RFC 9110 writes an entity tag; so does an Idempotency-Key replay of it."""
    body = response.body
    if spec.etag and 200 <= response.status < 300 and isinstance(body, dict) and isinstance(body.get(spec.etag), str):
        response.headers.setdefault("ETag", f'"{body[spec.etag]}"')
    return response


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
        specs: Iterable[AnySpec],
        services: object,
    ) -> None:
        self._keys = keys
        self._limiter = limiter
        self._idempotency = idempotency
        self._tz = timezone
        self._max_body = max_body_bytes
        self.specs: dict[str, AnySpec] = {spec.operation_id: spec for spec in specs}
        unbound = sorted(spec.operation_id for spec in self.specs.values() if spec.handler is None)
        if unbound:
            raise ValueError(f"operations without a handler: {', '.join(unbound)}")
        self._services = services
        """What the handlers are handed: the composition root's services (each feature's ports say what it needs)."""

    def handle(self, operation_id: str, request: ApiRequest) -> ApiResponse:
        started = time.perf_counter()
        with measure_round_trips() as trips:
            try:
                response = self._handle(self.specs[operation_id], request)
            except DomainError as error:
                if isinstance(error, Unavailable):
                    log.warning("%s failed: %s unavailable", operation_id, type(error).__name__)
                response = error_response(error)
            except Contended:
                response = error_response(
                    Unavailable("Too many simultaneous calls on this connection; retry shortly.", retry_after=1)
                )
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = (
            f'storage;dur={trips.seconds * 1000:.2f};desc="{trips.count} round trips", total;dur={elapsed:.2f}'
        )
        log.info("%s -> %s in %.1f ms (%d storage round trips)", operation_id, response.status, elapsed, trips.count)
        return response

    def _handle(self, spec: AnySpec, request: ApiRequest) -> ApiResponse:
        if len(request.body) > self._max_body:
            raise TooLarge(
                f"The request body is larger than {self._max_body} bytes.",
                [FieldError("body", f"must be at most {self._max_body} bytes")],
            )
        who = self._keys.authenticate(api_key_from(request))
        who.require(spec.right)
        decision = self._limiter.admit(who.key_id, who.limit, who.period_seconds)
        rate = {"X-RateLimit-Limit": str(decision.limit), "X-RateLimit-Remaining": str(decision.remaining)}
        if not decision.admitted:
            wait = decision.retry_after_header
            answer = error_response(
                RateLimited(
                    f"Rate limit of {who.limit} calls per {who.period_seconds} seconds reached; retry in {wait} s.",
                    retry_after=int(wait),
                )
            )
        else:
            answer = self._admitted(spec, request, who)
        answer.headers.update(rate)
        return answer

    def _admitted(self, spec: AnySpec, request: ApiRequest, who: Principal) -> ApiResponse:
        handler = spec.handler
        assert handler is not None  # refused at start-up otherwise
        try:
            payload = self._payload(spec, request)
            data = validate(spec.model, payload, self._tz) if spec.model is not None else None
            if spec.authorize is not None:
                spec.authorize(self._services, Call(who, data, None, request))
            expected = if_match(request) if spec.conditional else ()
            key = request.header(IDEMPOTENCY_HEADER)
            if spec.creates and key is not None:
                return _with_etag(
                    spec,
                    self._idempotency.run(
                        who.tenant,
                        who.key_id,
                        spec.action_name,
                        key,
                        fingerprint(payload),
                        lambda gen: handler(self._services, Call(who, data, gen, request, expected)),
                    ),
                )
            return _with_etag(spec, handler(self._services, Call(who, data, None, request, expected)))
        except DomainError as error:
            return error_response(error)

    @staticmethod
    def _payload(spec: AnySpec, request: ApiRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if spec.source in ("query", "body_or_query"):
            payload.update(query_fields(request))
        if spec.source == "body" or (spec.source == "body_or_query" and request.body.strip()):
            payload.update(parse_json_object(request.body))
        # Route parameters are part of the resource's address: they win over body fields.
        payload.update(request.route_params)
        return payload
