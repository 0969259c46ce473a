"""The generic pipeline: where an operation's input comes from, and that specs, handlers and the
app's registered routes stay in step."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from devhost.functions import FunctionTable
from shared.operations import ALL_OPERATIONS
from shared.platform.idempotency import Idempotency
from shared.platform.keys import ADMIN_RIGHT, KeyService
from shared.platform.secrets import SecretValue
from shared.platform.throttle import SlidingWindowLimiter
from shared.web.pipeline import HttpApi
from shared.web.registry import AnySpec, Call, OperationSpec
from shared.web.types import ApiRequest, ApiResponse
from tests.support.fakes import FakeClock, FakeIdempotencyRepository, FakeKeyRepository, FakeWindowStore

PEPPER = SecretValue("unit-test-pepper-0123456789abcdef-not-a-secret")


class DraftIn(BaseModel):
    draftId: int
    note: str = ""


SPEC: AnySpec = OperationSpec(
    "ReadDraft", "GET", "things/{draftId}", right=ADMIN_RIGHT, summary="t", model=DraftIn, source="body_or_query"
)


def _api(specs: tuple[AnySpec, ...], handlers: dict[str, Any]) -> tuple[HttpApi, KeyService]:
    clock = FakeClock()
    keys = KeyService(
        FakeKeyRepository(), clock=clock.now, pepper=lambda: PEPPER, default_limit=100, default_period_seconds=60
    )
    api = HttpApi(
        keys=keys,
        limiter=SlidingWindowLimiter(FakeWindowStore()),
        idempotency=Idempotency(
            FakeIdempotencyRepository(), clock=clock.now, ttl=timedelta(hours=1), lease=timedelta(seconds=30)
        ),
        timezone=ZoneInfo("Europe/Berlin"),
        max_body_bytes=1000,
        specs=tuple(_bound(spec, handlers.get(spec.operation_id)) for spec in specs),
        services=None,
    )
    return api, keys


def _bound(spec: AnySpec, handler: Any) -> AnySpec:
    """The spec holding `handler` (a function of the call alone), or as it is when there is none."""
    if handler is None:
        return spec
    return dataclasses.replace(spec, handler=lambda services, call: handler(call))


def _echo(call: Call) -> ApiResponse:
    return ApiResponse(200, {"tenant": call.principal.tenant, **call.data.model_dump()})


def _request(key: str, *, query: dict[str, str] | None = None, body: bytes = b"", **route: str) -> ApiRequest:
    return ApiRequest(query={"apikey": key, **(query or {})}, headers={}, body=body, route_params=route)


def test_query_fields_are_input_and_the_api_key_is_not() -> None:
    api, keys = _api((SPEC,), {"ReadDraft": _echo})
    _, raw = keys.create("acme", rights=[ADMIN_RIGHT])

    response = api.handle("ReadDraft", _request(raw, query={"note": "from query"}, draftId="7"))

    assert response.status == 200
    assert response.body == {"tenant": "acme", "draftId": 7, "note": "from query"}


def test_the_route_parameter_wins_over_the_body() -> None:
    api, keys = _api((SPEC,), {"ReadDraft": _echo})
    _, raw = keys.create("acme", rights=[ADMIN_RIGHT])

    response = api.handle("ReadDraft", _request(raw, body=json.dumps({"draftId": 99}).encode(), draftId="7"))

    assert response.body == {"tenant": "acme", "draftId": 7, "note": ""}


def test_a_bad_route_parameter_is_a_400_naming_it() -> None:
    api, keys = _api((SPEC,), {"ReadDraft": _echo})
    _, raw = keys.create("acme", rights=[ADMIN_RIGHT])

    response = api.handle("ReadDraft", _request(raw, draftId="seven"))

    assert response.status == 400
    assert isinstance(response.body, dict)
    assert [e["Field"] for e in response.body["Errors"]] == ["draftId"]


def test_a_key_without_the_operations_right_is_refused() -> None:
    api, keys = _api((SPEC,), {"ReadDraft": _echo})
    _, raw = keys.create("acme")  # connector rights only

    assert api.handle("ReadDraft", _request(raw, draftId="7")).status == 403


def test_a_non_json_response_keeps_its_bytes_and_media_type() -> None:
    pdf = ApiResponse(200, b"%PDF-1.7 ...", content_type="application/pdf")
    api, keys = _api((SPEC,), {"ReadDraft": lambda call: pdf})
    _, raw = keys.create("acme", rights=[ADMIN_RIGHT])

    response = api.handle("ReadDraft", _request(raw, draftId="7"))

    assert response.content() == b"%PDF-1.7 ..."
    assert response.content_type == "application/pdf"


def test_an_operation_without_a_handler_fails_at_start_up_not_at_call_time() -> None:
    with pytest.raises(ValueError, match="ReadDraft"):
        _api((SPEC,), {})


def test_operation_ids_are_unique() -> None:
    ids = [spec.operation_id for spec in ALL_OPERATIONS]
    assert len(ids) == len(set(ids))


def test_every_operation_is_a_registered_function_with_its_route_and_method(function_table: FunctionTable) -> None:
    registered = {f.target.name: (f.route.route, f.methods) for f in function_table.http}

    for spec in ALL_OPERATIONS:
        assert registered[spec.operation_id] == (spec.route, frozenset({spec.method}))
