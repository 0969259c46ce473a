"""GET /health: 200 when storage answers, 503 with the reason when it does not."""

import azure.functions as func

from blueprints._http import to_http_response
from shared.api_types import ApiResponse
from shared.config import ConfigError
from shared.container import container
from shared.health import check_storage

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    try:
        result = check_storage(container().storage)
    except ConfigError as error:
        return to_http_response(ApiResponse(503, {"status": "unavailable", "reason": str(error)}))
    status = 200 if result.ok else 503
    return to_http_response(
        ApiResponse(status, {"status": "ok" if result.ok else "unavailable", "reason": result.reason})
    )
