"""What an operation is: its route, the right it needs, the model that validates its input, the handler
that carries it out, and how it is documented. Each feature's `routes.py` declares its own operations;
`shared.operations` lists them all, and that one list drives the Functions routes (`blueprints/`), the
pipeline's validation (`shared.web.pipeline`) and the OpenAPI document (`shared.web.openapi`).

A handler is a plain function `(services, call) -> ApiResponse`: `services` is whatever the composition
root hands the pipeline (the feature's `ports.py` says, as a Protocol, what it needs from it), `call` what
the pipeline let through. Specs hold no services, so indexing the function app stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from shared.platform.keys import Principal
from shared.web.types import ApiRequest, ApiResponse

Source = Literal["body", "query", "body_or_query"]
"""Where the operation's input comes from: the JSON body, the query string, or both (body wins)."""

S = TypeVar("S")


@dataclass(frozen=True)
class Call:
    """What a handler gets once the pipeline has let a request through."""

    principal: Principal
    data: Any
    """The spec's model, validated; None for an operation without a model."""
    generation: str | None
    """The idempotency generation token when the caller sent an Idempotency-Key (see shared.platform.idempotency)."""
    request: ApiRequest
    expected: tuple[str, ...] = ()
    """A `conditional` spec's versions from `If-Match`, unquoted (`*`: any); the pipeline answers 428 without."""


Handler = Callable[[S, Call], ApiResponse]
Authorize = Callable[[S, Call], None]


@dataclass(frozen=True)
class OperationSpec(Generic[S]):
    operation_id: str
    """OpenAPI operationId and the Functions function name; unique across the app."""
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    route: str
    """Functions route template, no leading slash (host.json routePrefix is ""): `invoicing/drafts/{draftId}`."""
    right: str
    """The right a key needs (`shared.platform.keys.KNOWN_RIGHTS`)."""
    summary: str
    handler: Handler[S] | None = field(default=None, kw_only=True)
    """Carries the operation out: `(services, call) -> ApiResponse`. A spec without one can be documented
    but not served: the pipeline refuses it at start-up."""
    authorize: Authorize[S] | None = field(default=None, kw_only=True)
    """The handler's own access checks beyond `right` (another tenant needs the operator right, say):
    raises `Denied`/`NotFound` as the handler would. The pipeline runs it before the handler and before
    an `Idempotency-Key` replay, so a replay answers only a caller that may make the call now."""
    model: type[BaseModel] | None = None
    """Validates the input: body and/or query fields plus the route's parameters."""
    source: Source = "body"
    creates: bool = False
    """Creates something: honours the Idempotency-Key header."""
    action: str | None = None
    """The action's name when it differs from operation_id (an alias shares its idempotency keys)."""
    description: str = ""
    tag: str = ""
    deprecated: bool = False
    response_model: type[BaseModel] | None = None
    """Shape of the 2xx body, for the OpenAPI document (None: the plain Message/Success envelope)."""
    success_status: int = 200
    """The status the handler answers success with, for the OpenAPI document (202: accepted, queued)."""
    produces: str = "application/json"
    """Media type of the success answer; comma-separated when the input chooses one (PDF or CSV)."""
    conditional: bool = False
    """Needs `If-Match` with the resource's version (its ETag): the pipeline hands its tags to the handler
    (`Call.expected`) and answers 428 without one; the use case answers 412 when they are stale."""
    etag: str | None = None
    """The body field holding the answer's version: also sent as `ETag` on success (replays included)."""

    @property
    def action_name(self) -> str:
        """The name idempotency keys are scoped by: an alias and its action share them."""
        return self.action or self.operation_id


AnySpec = OperationSpec[Any]
