"""The certified "Tesseron Invoice" connector's actions under /ApiInvoice (host.json routePrefix is "")."""

import azure.functions as func

from blueprints._http import register_operations
from shared.connector.routes import CONNECTOR_OPERATIONS

bp = func.Blueprint()
register_operations(bp, CONNECTOR_OPERATIONS)
