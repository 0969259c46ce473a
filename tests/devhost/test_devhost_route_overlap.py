"""Routes that overlap work locally (most specific wins) but not reliably in Azure, which matches in
registration order: the host warns about them, and our own app must have none."""

from __future__ import annotations

import azure.functions as func

from devhost.functions import FunctionTable, build_function_table, overlapping_routes


def _app_with(*routes: tuple[str, str, list[str] | None]) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for name, route, methods in routes:

        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("")

        handler.__name__ = name
        app.function_name(name)(app.route(route=route, methods=methods)(handler))
    return app


def test_a_catch_all_over_a_literal_route_is_reported() -> None:
    app = _app_with(("Create", "items/create", ["POST"]), ("Anything", "items/{*rest}", None))

    warnings = overlapping_routes(build_function_table(app, route_prefix="api", environ={}).http)

    assert len(warnings) == 1
    assert "Create" in warnings[0]
    assert "Anything" in warnings[0]
    assert "registration order" in warnings[0]


def test_routes_that_differ_by_method_only_are_not_reported() -> None:
    app = _app_with(("Read", "items/{id}", ["GET"]), ("Write", "items/new", ["POST"]))

    assert overlapping_routes(build_function_table(app, route_prefix="api", environ={}).http) == []


def test_the_invoice_bridge_app_has_no_overlapping_routes(function_table: FunctionTable) -> None:
    table = function_table

    assert overlapping_routes(table.http) == []
    assert len(table.http) >= 5
