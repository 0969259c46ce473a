"""GET /workbench (the invoicing workbench page) and GET /workbench/{file} (its scripts and styles).
Anonymous: the files hold no data; the page asks for an API key and sends it with every API call."""

import azure.functions as func

from blueprints._http import to_http_response
from shared.workbench.assets import ASSET_ROUTE, PAGE_ROUTE, file_response, page_response

bp = func.Blueprint()


@bp.function_name(name="WorkbenchPage")
@bp.route(route=PAGE_ROUTE, methods=["GET"])
def workbench_page(req: func.HttpRequest) -> func.HttpResponse:
    return to_http_response(page_response())


@bp.function_name(name="WorkbenchFile")
@bp.route(route=ASSET_ROUTE, methods=["GET"])
def workbench_file(req: func.HttpRequest) -> func.HttpResponse:
    return to_http_response(file_response(req.route_params.get("file", "")))
