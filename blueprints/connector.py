"""The certified "Tesseron Invoice" connector's actions under /ApiInvoice (host.json routePrefix is "")."""

from collections.abc import Callable

import azure.functions as func

from blueprints._http import to_api_request, to_http_response
from shared.api_types import ApiResponse
from shared.config import ConfigError
from shared.container import container
from shared.http_api import ConnectorApi

bp = func.Blueprint()


def _with_api(call: Callable[[ConnectorApi], ApiResponse]) -> func.HttpResponse:
    try:
        api = container().connector_api
    except ConfigError as error:
        return to_http_response(ApiResponse(503, {"Message": f"Not configured: {error}.", "Success": False}))
    return to_http_response(call(api))


def _serve(operation: str, req: func.HttpRequest) -> func.HttpResponse:
    return _with_api(lambda api: api.handle(operation, to_api_request(req)))


@bp.route(route="ApiInvoice/CreateActivityRecording", methods=["POST"])
def CreateActivityRecording(req: func.HttpRequest) -> func.HttpResponse:
    return _serve("CreateActivityRecording", req)


@bp.route(route="ApiInvoice/CreateInvoicePositionNote", methods=["POST"])
def CreateInvoicePositionNote(req: func.HttpRequest) -> func.HttpResponse:
    return _serve("CreateInvoicePositionNote", req)


@bp.route(route="ApiInvoice/CreateTicket", methods=["POST"])
def CreateTicket(req: func.HttpRequest) -> func.HttpResponse:
    """The path the connector's first published version used for creating position notes."""
    return _serve("CreateInvoicePositionNote", req)


@bp.route(route="ApiInvoice/GetServiceAssignmentsDispatcher", methods=["POST"])
def GetServiceAssignmentsDispatcher(req: func.HttpRequest) -> func.HttpResponse:
    return _serve("GetServiceAssignmentsDispatcher", req)
