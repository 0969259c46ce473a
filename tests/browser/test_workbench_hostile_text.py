"""Text from the data renders as text on the workbench: a customer named like an HTML tag, a note hint
that is a script, and unresolved reasons with markup (the service never writes markup there; a
response changed on its way to the page stands for whatever a future reason may hold). And the page's
Content-Security-Policy allows no inline script, so markup that slipped through could not run."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests
from playwright.sync_api import expect

from devhost.seed import month_back, record_note
from shared.container import build
from shared.invoicing.directory import Contract, Customer, Ticket
from tests.browser.conftest import Shots, Workbench
from tests.browser.walk import ORDERS, expand, generate, sign_in

CUSTOMER = "<img src=x onerror=window.__xss=1>"
HINT = "<script>window.__xss=2</script>"
REASON = '<img src=x onerror="window.__xss=3"> is <b>not</b> in the directory'
NOTE_ID = "<svg onload=window.__xss=4>"


def _hostile_tenant(workbench: Workbench) -> tuple[str, str]:
    container = build(workbench.env)
    tenant = "hostile-" + uuid.uuid4().hex[:8]
    _, raw = container.keys.create(tenant, name="xss", rights=("admin", "reseller"))
    container.directory.import_entries(
        tenant,
        [
            ("c", Customer(1, CUSTOMER, None, "x@example.com", "EUR")),
            ("k", Contract(1, 1, "P1", Decimal("90.00"), Decimal(0), 1)),
            ("t", Ticket(1, 1, 1)),
        ],
    )
    zone = container.settings.default_timezone
    month = month_back(datetime.now(UTC), zone, 1)
    start = datetime(month.year, month.month, 2, 9, tzinfo=zone)
    record_note(container, container.keys.authenticate(raw), start, 60, hint=HINT, user=CUSTOMER, ticket=1)
    return raw, str(month)


def test_hostile_names_hints_and_reasons_render_as_text(workbench: Workbench, page: Any, shots: Shots) -> None:
    key, month = _hostile_tenant(workbench)

    def with_hostile_reason(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        body["unresolved"].append({"noteId": NOTE_ID, "field": "<i>ticketID</i>", "reason": REASON})
        route.fulfill(response=response, json=body)

    page.route("**/invoicing/runs", with_hostile_reason)
    sign_in(page, workbench.url, key)
    generate(page, month)

    row = page.locator(ORDERS).first
    expect(row.locator("td").nth(2)).to_have_text(CUSTOMER)
    lines = expand(page, int(row.get_attribute("data-draft-id")))
    expect(lines).to_contain_text(HINT)
    unresolved = page.locator("#unresolved-rows")
    expect(unresolved).to_contain_text(REASON)
    expect(unresolved).to_contain_text(NOTE_ID)
    expect(unresolved).to_contain_text("<i>ticketID</i>")
    shots(page, "hostile-text")

    assert page.evaluate("window.__xss") is None
    assert page.locator("main img, main script, main svg, main b, main i").count() == 0
    assert page.problems == []


def test_the_page_and_its_scripts_carry_a_policy_without_inline_script(workbench: Workbench) -> None:
    for path in ("workbench", "workbench/app.js", "workbench/app.css"):
        response = requests.get(f"{workbench.base_url}/{path}", timeout=10)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
        assert directives["script-src"] == ["'self'"], policy
        assert "'unsafe-inline'" not in policy
        assert "'unsafe-eval'" not in policy
        assert directives["frame-ancestors"] == ["'none'"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    page = requests.get(f"{workbench.base_url}/workbench", timeout=10)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<script>" not in page.text  # scripts are files (type=module src=...)
    assert re.search(r"\son[a-z]+\s*=", page.text) is None  # no inline event handlers
    script = requests.get(f"{workbench.base_url}/workbench/app.js", timeout=10)
    assert script.headers["Content-Type"].startswith("text/javascript")
    for path in ("workbench/function_app.py", "workbench/..%2Ffunction_app.py", "workbench/nothing.js"):
        assert requests.get(f"{workbench.base_url}/{path}", timeout=10).status_code == 404, path
