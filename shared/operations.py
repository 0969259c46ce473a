"""Every key-authenticated HTTP operation, declared once: the concatenation of the features' routes.

The blueprints register one Functions route per spec, the HTTP pipeline (`shared.web.pipeline`)
validates with its `model` and calls its `handler`, and the OpenAPI document (`shared.web.openapi`) is
generated from the same specs, so the three cannot drift. Specs are static (no services) so that
indexing the function app stays cheap.
"""

from __future__ import annotations

from shared.accounting.routes import ACCOUNTING_OPERATIONS
from shared.connector.routes import CONNECTOR_OPERATIONS
from shared.export.routes import ECONOMIC_OPERATIONS
from shared.invoicing.report_routes import SPECIFICATION_OPERATIONS
from shared.invoicing.routes import INVOICING_OPERATIONS
from shared.web.registry import AnySpec

ALL_OPERATIONS: tuple[AnySpec, ...] = (
    *CONNECTOR_OPERATIONS,
    *INVOICING_OPERATIONS,
    *SPECIFICATION_OPERATIONS,
    *ECONOMIC_OPERATIONS,
    *ACCOUNTING_OPERATIONS,
)
"""Every operation the app serves, in the order its routes are registered."""

__all__ = [
    "ACCOUNTING_OPERATIONS",
    "ALL_OPERATIONS",
    "CONNECTOR_OPERATIONS",
    "ECONOMIC_OPERATIONS",
    "INVOICING_OPERATIONS",
    "SPECIFICATION_OPERATIONS",
]
