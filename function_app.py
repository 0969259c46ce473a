"""Azure Functions entry point: wires the blueprints, nothing else."""

import azure.functions as func

from blueprints.connector import bp as connector
from blueprints.health import bp as health
from blueprints.maintenance import bp as maintenance
from blueprints.openapi import bp as openapi

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(health)
app.register_functions(connector)
app.register_functions(maintenance)
app.register_functions(openapi)
