"""Azure Functions entry point: wires the blueprints, nothing else."""

import azure.functions as func

from blueprints.accounting import bp as accounting
from blueprints.connector import bp as connector
from blueprints.economic import bp as economic
from blueprints.health import bp as health
from blueprints.invoicing import bp as invoicing
from blueprints.maintenance import bp as maintenance
from blueprints.openapi import bp as openapi
from blueprints.workbench import bp as workbench
from shared import observability

observability.configure()  # redaction and correlation on logging; exports only if App Insights is set

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(health)
app.register_functions(connector)
app.register_functions(invoicing)
app.register_functions(economic)
app.register_functions(accounting)
app.register_functions(maintenance)
app.register_functions(openapi)
app.register_functions(workbench)
