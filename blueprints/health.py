"""GET /health: 200 when storage answers and API keys can be checked, else 503 with the reason."""

import azure.functions as func

from blueprints._http import to_http_response
from shared.config import ConfigError
from shared.container import container
from shared.health import check
from shared.web.types import ApiResponse

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    try:
        app = container()
        result = check(app.storage, app.secrets)
    except ConfigError as error:
        return to_http_response(ApiResponse(503, {"status": "unavailable", "reason": str(error)}))
    status = 200 if result.ok else 503
    return to_http_response(
        ApiResponse(status, {"status": "ok" if result.ok else "unavailable", "reason": result.reason})
    )
