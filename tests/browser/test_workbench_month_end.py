"""A whole month end on the workbench page in a real browser (Debian's chromium), against the local
host, Azurite, the e-conomic stand-in and the SMTP sink: generate, expand, edit a line, add a manual
order, merge, delete, concept PDF, specification report, create invoices, book in e-conomic, synchronise
the booked number back. A screenshot per step lands in .artifacts/browser/<test name>/."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import expect

from tests.browser.conftest import Shots, Workbench
from tests.browser.walk import (
    INVOICES,
    ORDERS,
    downloaded,
    draft_id,
    expand,
    generate,
    order_row,
    select,
    sign_in,
    status,
    unselect_all,
)
from tests.support.devhost_helpers import wait_until


def test_a_month_end_on_the_workbench(workbench: Workbench, page, shots: Shots) -> None:
    last, before = (str(month) for month in workbench.demo.months)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(workbench.url)
    expect(page.get_by_label("API key")).to_be_focused()
    shots(page, "sign-in")
    sign_in(page, workbench.url, workbench.demo.key)
    assert workbench.demo.key not in page.url

    # Generate orders from hour bookings: the month before last, then last month (one unresolved note).
    generate(page, before)
    generate(page, last)
    expect(status(page)).to_contain_text("1 hour booking could not be invoiced")
    expect(page.locator("#unresolved-rows")).to_contain_text("ticket 9999 is not in the directory")
    expect(page.locator(ORDERS)).to_have_count(4)
    shots(page, "generated")

    # Expand Acme's order of last month to its lines.
    acme = draft_id(order_row(page, "Acme A/S", last))
    lines = expand(page, acme)
    expect(lines).to_contain_text("Patched the mail server")
    expect(lines).to_contain_text("Backup check")
    shots(page, "expanded")

    # Edit a line: its description (the order's version goes along in If-Match).
    lines.get_by_role("button", name=f"Edit line 1 of order {acme}").click()
    page.locator(f"#edit-{acme}-description").fill("Mail server patched (urgent)")
    lines.get_by_role("button", name="Save").click()
    expect(status(page)).to_have_text(f"Line of order {acme} changed.")
    expect(page.locator(f"#order-{acme}-lines")).to_contain_text("Mail server patched (urgent)")
    shots(page, "line-edited")

    # Add an order that is not based on hour bookings.
    page.get_by_role("button", name="New order").click()
    form = page.locator("#new-order-form")
    form.get_by_label("Customer").select_option(label="Acme A/S (1)")
    form.get_by_label("Month").fill(last)
    form.get_by_label("Product").fill("KM")
    form.get_by_label("Description").fill("Mileage to the data centre")
    form.get_by_label("Quantity").fill("120")
    form.get_by_label("Unit price").fill("3.51")
    shots(page, "new-order")
    form.get_by_role("button", name="Create order").click()
    expect(status(page)).to_contain_text("created for Acme A/S")
    expect(page.locator(ORDERS)).to_have_count(5)
    shots(page, "order-added")

    # Merge Acme's three orders into the one with the lowest number.
    acme_ids = sorted(draft_id(row) for row in order_row(page, "Acme A/S").all())
    assert len(acme_ids) == 3
    select(page, *acme_ids)
    page.get_by_role("button", name="Merge", exact=True).click()
    merged = acme_ids[0]
    expect(status(page)).to_have_text(f"Merged orders {', '.join(map(str, acme_ids))} into order {merged}.")
    expect(page.locator(ORDERS)).to_have_count(3)
    expect(page.locator(f"#order-{merged}-lines")).to_contain_text("Mileage to the data centre")
    shots(page, "merged")

    # Delete Initech's order: its notes are uninvoiced again, its number stays unused.
    initech = draft_id(order_row(page, "Initech Ltd"))
    select(page, initech)
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(status(page)).to_have_text(f"Deleted orders {initech}.")
    expect(page.locator(ORDERS)).to_have_count(2)

    # Concept invoice and specification report of the merged order.
    unselect_all(page)
    select(page, merged)
    name, pdf = downloaded(page, "Concept PDF")
    assert (name, pdf[:5]) == (f"concept-draft-{merged}.pdf", b"%PDF-")
    shots(page, "concept-pdf")
    name, spec = downloaded(page, "Specification (PDF)")
    assert spec[:5] == b"%PDF-", name
    name, csv = downloaded(page, "Specification (CSV)")
    assert name.endswith(".csv")
    assert "Backup check" in csv.decode("utf-8")
    shots(page, "specification")

    # Create invoices from the selected orders: the job's state live, then e-conomic's number per order.
    globex = draft_id(order_row(page, "Globex GmbH"))
    select(page, globex)
    states: list[str] = []
    page.on(
        "response",
        lambda response: (
            states.append(response.json()["state"])
            if "/integration/economic/invoice/draft/" in response.url and response.ok
            else None
        ),
    )
    page.get_by_role("button", name="Create invoices").click()
    progress = page.locator("#export-state")
    expect(progress).to_have_text(re.compile(r"State: succeeded"), timeout=45_000)
    outcome = page.locator("#export-outcome")
    expect(outcome).to_contain_text(re.compile(rf"Order {merged}: e-conomic draft invoice \d+"))
    expect(outcome).to_contain_text(re.compile(rf"Order {globex}: e-conomic draft invoice \d+"))
    found = re.search(rf"Order {merged}: e-conomic draft invoice (\d+)", outcome.inner_text())
    assert found is not None
    number = int(found.group(1))
    expect(page.locator(ORDERS)).to_have_count(0)
    # Polled until done, each state shown as it came: queued and running (if caught), then succeeded.
    seen = [state for i, state in enumerate(states) if i == 0 or states[i - 1] != state]
    assert seen[-1] == "succeeded"
    order = ["queued", "running", "succeeded"]
    assert [order.index(state) for state in seen] == sorted({order.index(state) for state in seen}), states
    shots(page, "invoices-created")
    wait_until(lambda: sorted(workbench.mail_dir.glob("*.eml")), timeout=15, what="the export report mail")

    # The Invoices tab: e-conomic's document numbers; the accountant books one there; the sync brings it back.
    page.get_by_role("tab", name="Invoices").click()
    expect(page.locator(INVOICES)).to_have_count(2)
    row = page.locator(f"{INVOICES}[data-draft-id='{merged}']")
    expect(row).to_contain_text(f"draft invoice {number}")
    booking = requests.post(
        f"{workbench.economic_url}/invoices/booked",
        json={"draftInvoice": {"draftInvoiceNumber": number}},
        headers=workbench.economic_headers(),
        timeout=10,
    )
    assert booking.status_code == 201, booking.text
    invoice_number = booking.json()["bookedInvoiceNumber"]
    page.get_by_role("button", name="Synchronise invoice numbers").click()
    expect(status(page)).to_contain_text(f"order {merged} -> invoice {invoice_number}")
    expect(row.locator(".invoice-number")).to_have_text(str(invoice_number))
    expect(row).to_contain_text("booked")
    page.locator(f"#invoice-expand-{merged}").click()
    expect(page.locator(f"#invoice-{merged}-lines")).to_contain_text("Mileage to the data centre")
    shots(page, "synchronised")

    # Every control has a label (its own <label>, or aria-label where a table row names it).
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("input, select, button")]
            .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute("aria-label") && !c.textContent.trim())
            .map((c) => c.outerHTML)"""
    )
    assert unlabelled == []
    assert page.problems == []
