"""The workbench's forms as a keyboard user meets them: a rejected field is named beside the field
(the API's error, by its Field name), the tabs follow the arrow keys, the accounting defaults are kept,
and a stale order version (someone else changed the order meanwhile) reloads the order and says so."""

from __future__ import annotations

from typing import Any

import requests
from playwright.sync_api import expect

from devhost.seed import Seeded
from tests.browser.conftest import Workbench
from tests.browser.walk import draft_id, expand, generate, order_row, select, sign_in, status, unselect_all


def test_a_rejected_setting_is_named_beside_its_field(workbench: Workbench, own_tenant: Seeded, page: Any) -> None:
    sign_in(page, workbench.url, own_tenant.key)
    page.get_by_role("tab", name="Settings").click()
    email = page.get_by_label("Accounting e-mail (gets every export report)")
    expect(email).to_have_value("accounting@example.com")  # the seed's
    email.fill("not an address")
    page.get_by_role("button", name="Save settings").click()

    expect(email).to_have_attribute("aria-invalid", "true")
    error = page.locator("#setting-accountingEmail-error")
    expect(error).not_to_be_empty()
    assert error.get_attribute("id") in (email.get_attribute("aria-describedby") or "").split()
    expect(email).to_be_focused()

    email.fill("accounting@example.com")
    page.get_by_role("button", name="Save settings").click()
    expect(status(page)).to_have_text("Settings saved.")
    expect(email).not_to_have_attribute("aria-invalid", "true")
    assert page.problems == []


def test_the_tabs_follow_the_arrow_keys(workbench: Workbench, own_tenant: Seeded, page: Any) -> None:
    sign_in(page, workbench.url, own_tenant.key)
    orders = page.get_by_role("tab", name="Orders")
    orders.focus()
    page.keyboard.press("ArrowRight")
    invoices = page.get_by_role("tab", name="Invoices")
    expect(invoices).to_be_focused()
    expect(invoices).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-invoices")).to_be_visible()
    expect(page.locator("#panel-orders")).to_be_hidden()
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Settings")).to_be_focused()
    page.keyboard.press("ArrowRight")  # wraps around
    expect(orders).to_be_focused()
    expect(page.locator("#panel-orders")).to_be_visible()


def test_the_accounting_defaults_are_kept(workbench: Workbench, own_tenant: Seeded, page: Any) -> None:
    sign_in(page, workbench.url, own_tenant.key)
    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("Accounting product (e-conomic product number)").fill("1")
    page.get_by_label("Payment condition (e-conomic payment terms number)").fill("2")
    page.get_by_label("Invoice layout (e-conomic layout number)").fill("19")
    page.get_by_label("Send to e-conomic as").last.select_option("order")
    page.get_by_role("button", name="Save settings").click()
    expect(status(page)).to_have_text("Settings saved.")

    page.reload()  # the key is kept for the tab's session
    page.get_by_role("tab", name="Settings").click()
    expect(page.get_by_label("Accounting product (e-conomic product number)")).to_have_value("1")
    expect(page.get_by_label("Payment condition (e-conomic payment terms number)")).to_have_value("2")
    expect(page.get_by_label("Invoice layout (e-conomic layout number)")).to_have_value("19")
    expect(page.locator("#setting-documentType")).to_have_value("order")
    page.get_by_label("Send to e-conomic as").last.select_option("")
    for label in ("Accounting product", "Payment condition", "Invoice layout"):
        page.get_by_label(label, exact=False).last.fill("")
    page.get_by_role("button", name="Save settings").click()
    expect(status(page)).to_have_text("Settings saved.")


def test_an_order_changed_meanwhile_is_reloaded(workbench: Workbench, own_tenant: Seeded, page: Any) -> None:
    key = own_tenant.key
    sign_in(page, workbench.url, key)
    generate(page, str(own_tenant.months[0]))
    number = draft_id(order_row(page, "Globex GmbH").first)
    lines = expand(page, number)
    # Someone else changes the order: a line added over the API (its version changes).
    current = requests.get(f"{workbench.base_url}/invoicing/drafts/{number}", headers={"X-Api-Key": key}, timeout=10)
    added = requests.post(
        f"{workbench.base_url}/invoicing/drafts/{number}/lines",
        headers={"X-Api-Key": key, "If-Match": current.headers["ETag"]},
        json={"productNumber": "2", "description": "Added elsewhere", "quantity": "1", "unitPrice": "10.00"},
        timeout=10,
    )
    assert added.status_code == 200, added.text

    lines.get_by_role("button", name=f"Edit line 1 of order {number}").click()
    page.locator(f"#edit-{number}-description").fill("Changed here")
    lines.get_by_role("button", name="Save").click()

    expect(page.locator("#alert")).to_contain_text(f"Order {number} was changed meanwhile and has been reloaded")
    expect(page.locator(f"#order-{number}-lines")).to_contain_text("Added elsewhere")
    expect(page.locator(f"#order-{number}-lines")).not_to_contain_text("Changed here")


def test_a_form_opened_by_keyboard_closes_with_escape(workbench: Workbench, own_tenant: Seeded, page: Any) -> None:
    sign_in(page, workbench.url, own_tenant.key)
    opener = page.get_by_role("button", name="New order")
    opener.focus()
    page.keyboard.press("Enter")
    customer = page.locator("#new-order-form").get_by_label("Customer")
    expect(customer).to_be_focused()
    expect(customer.locator("option")).to_have_text(
        ["Choose a customer", "Acme A/S (1)", "Globex GmbH (2)", "Initech Ltd (3)"]
    )
    page.keyboard.press("Escape")
    expect(page.locator("#new-order")).to_be_hidden()
    expect(opener).to_be_focused()


def test_create_invoices_leaves_the_document_type_to_the_settings_unless_chosen(
    workbench: Workbench, own_tenant: Seeded, page: Any
) -> None:
    """The export takes the tenant's documentType (Settings) when the request names none
    (shared/export/start.py): the page names one only when the user picks it for this export."""
    sign_in(page, workbench.url, own_tenant.key)
    generate(page, str(own_tenant.months[0]))
    number = draft_id(order_row(page, "Globex GmbH").first)
    form = page.locator("#export-form")
    bodies = []
    for choice in ("", "order"):
        select(page, number)
        form.get_by_label("Send to e-conomic as").select_option(choice)
        with page.expect_request(
            lambda r: r.method == "POST" and "/integration/economic/invoice/draft" in r.url
        ) as sent:
            form.get_by_role("button", name="Create invoices").click()
        bodies.append(sent.value.post_data_json)
        unselect_all(page)

    assert bodies[0] == {"draftIds": [number]}
    assert bodies[1] == {"draftIds": [number], "documentType": "order"}
