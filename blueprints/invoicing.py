"""Billing directory (`billing/...`) and invoicing (`invoicing/...`) over HTTP, admin right only."""

import azure.functions as func

from blueprints._http import register_operations
from shared.invoicing.report_routes import SPECIFICATION_OPERATIONS
from shared.invoicing.routes import INVOICING_OPERATIONS

bp = func.Blueprint()
register_operations(bp, INVOICING_OPERATIONS)
register_operations(bp, SPECIFICATION_OPERATIONS)
