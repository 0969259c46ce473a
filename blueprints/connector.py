"""The certified "Tesseron Invoice" connector's actions under /ApiInvoice (host.json routePrefix is "")."""

import azure.functions as func

from blueprints._http import to_api_request, to_http_response
from shared.api_types import ApiResponse
from shared.config import ConfigError
from shared.container import container

bp = func.Blueprint()


def _serve(operation: str, req: func.HttpRequest) -> func.HttpResponse:
    try:
        api = container().connector_api
    except ConfigError as error:
        return to_http_response(ApiResponse(503, {"Message": f"Not configured: {error}.", "Success": False}))
    return to_http_response(api.handle(operation, to_api_request(req)))


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
