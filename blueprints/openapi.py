"""GET /ApiInvoice/swagger.json: the OpenAPI 2.0 document of every operation, for Logic Apps' "HTTP +
Swagger" action and Power Platform. Anonymous (it holds no data), not throttled, generated from
`shared.operations` once per process; only its host and scheme come from each request."""

import azure.functions as func

from blueprints._http import to_api_request, to_http_response
from shared.web.openapi import SPEC_ROUTE, document_for_request
from shared.web.types import ApiResponse

bp = func.Blueprint()


@bp.function_name(name="OpenApiDocument")
@bp.route(route=SPEC_ROUTE, methods=["GET"])
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    document = document_for_request(to_api_request(req).headers)
    return to_http_response(ApiResponse(200, document, {"Cache-Control": "no-cache"}))
