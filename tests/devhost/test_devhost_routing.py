"""ASP.NET route templates, without a server."""

from __future__ import annotations

import pytest

from devhost.routing import RouteTemplate, RouteTemplateError, split_path


def match(template: str, path: str, prefix: str = "") -> dict[str, str] | None:
    return RouteTemplate(template, prefix).match(split_path(path))


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("orders", "/orders", {}),
        ("orders", "/ORDERS/", {}),
        ("orders/{id}", "/orders/a%2Fb", {"id": "a/b"}),  # an encoded slash stays in its segment
        ("orders/{id}", "/orders/caf%C3%A9", {"id": "café"}),
        ("orders/{id:int}", "/orders/2147483647", {"id": "2147483647"}),
        ("orders/{id:int}", "/orders/2147483648", None),
        ("orders/{id:long}", "/orders/2147483648", {"id": "2147483648"}),
        ("orders/{id:int:min(1)}", "/orders/0", None),
        ("orders/{id:range(1,5)}", "/orders/5", {"id": "5"}),
        ("orders/{flag:bool}", "/orders/TRUE", {"flag": "TRUE"}),
        ("orders/{name:alpha}", "/orders/abc1", None),
        ("orders/{name:minlength(3)}", "/orders/ab", None),
        ("orders/{name:length(2)}", "/orders/ab", {"name": "ab"}),
        ("orders/{key:guid}", "/orders/0F8FAD5BD9CB469FA16570867728950E", {"key": "0F8FAD5BD9CB469FA16570867728950E"}),
        ("orders/{key:guid}", "/orders/0f8fad5b-d9cb-469f-a165-70867728950", None),
        ("orders/{code:regex(^[a-z]{{2}}\\d+$)}", "/orders/AB12", {"code": "AB12"}),
        ("orders/{code:regex(^[a-z]{{2}}\\d+$)}", "/orders/A12", None),
        ("orders/{page?}", "/orders", {}),
        ("orders/{page?}", "/orders/3", {"page": "3"}),
        ("orders/{page=1}", "/orders", {"page": "1"}),
        ("orders/{page:int=1}", "/orders/x", None),
        ("files/{*path}", "/files", {}),
        ("files/{*path}", "/files/a/b/c", {"path": "a/b/c"}),
        ("files/{**path}", "/files/a/b", {"path": "a/b"}),
        ("dl/{name}.{ext}", "/dl/report.final.pdf", {"name": "report", "ext": "final.pdf"}),
        ("dl/{name}.{ext}", "/dl/report", None),
        ("orders/{id}", "/orders", None),
        ("orders/{id}", "/orders/1/2", None),
        ("orders", "/orders/1", None),
    ],
)
def test_match(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert match(template, path) == expected


def test_the_route_prefix_is_a_case_insensitive_literal() -> None:
    assert match("orders/{id}", "/API/orders/7", prefix="api") == {"id": "7"}
    assert match("orders/{id}", "/orders/7", prefix="api") is None
    assert RouteTemplate("orders/{id}", "api/").text == "/api/orders/{id}"
    assert RouteTemplate("/orders/", "").text == "/orders"


def test_more_specific_routes_sort_first() -> None:
    templates = ["items/{*rest}", "items/{name}", "items/{id:int}", "items/special", "{a}/{b}"]
    ordered = sorted((RouteTemplate(t) for t in templates), key=RouteTemplate.sort_key)
    assert [t.route for t in ordered] == [
        "items/special",
        "items/{id:int}",
        "items/{name}",
        "items/{*rest}",
        "{a}/{b}",
    ]


@pytest.mark.parametrize(
    "template",
    [
        "a/{x?}/b",  # optional in the middle
        "{*rest}/b",  # catch-all not last
        "a/{x}{y}",  # two parameters side by side
        "a/{x:nosuch}",  # unknown constraint
        "a/{x",  # unclosed
        "a//b",  # empty segment
        "{x}/{X}",  # duplicate (names are case-insensitive)
        "a/{x:min(one)}",  # bad constraint argument
    ],
)
def test_malformed_templates_are_refused(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        RouteTemplate(template)
