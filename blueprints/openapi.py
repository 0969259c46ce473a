"""GET /ApiInvoice/swagger.json: the OpenAPI 2.0 document of every operation, for Logic Apps' "HTTP +
Swagger" action and Power Platform. Anonymous (it holds no data), not throttled, generated from
`shared.operations` on every call (microseconds of work; nothing to cache or invalidate)."""

import azure.functions as func

from blueprints._http import to_http_response
from shared.api_types import ApiResponse
from shared.openapi import SPEC_ROUTE, document_for_request

bp = func.Blueprint()


@bp.function_name(name="OpenApiDocument")
@bp.route(route=SPEC_ROUTE, methods=["GET"])
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    headers = {name.lower(): value for name, value in req.headers.items()}
    return to_http_response(ApiResponse(200, document_for_request(headers), {"Cache-Control": "no-cache"}))
