"""Steps of the month-end walk on the workbench, as a user does them (labels and buttons, never
internals). Each step leaves the page where the next one starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

ORDERS = "#orders-rows tr[data-draft-id]"
INVOICES = "#invoices-rows tr[data-draft-id]"


def sign_in(page: Any, url: str, key: str) -> None:
    page.goto(url)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use key").click()
    expect(page.locator("#status")).to_have_text("Ready.")


def status(page: Any) -> Any:
    return page.locator("#status")


def generate(page: Any, month: str) -> None:
    page.locator("#run-form").get_by_label("Month").fill(month)
    page.get_by_role("button", name="Generate orders").click()
    expect(status(page)).to_contain_text(f" for {month}")


def order_row(page: Any, customer: str, month: str | None = None) -> Any:
    rows = page.locator(ORDERS).filter(has_text=customer)
    return rows.filter(has_text=month) if month else rows


def draft_id(row: Any) -> int:
    return int(row.get_attribute("data-draft-id"))


def select(page: Any, *ids: int) -> None:
    for number in ids:
        page.locator(f"#select-{number}").check()


def unselect_all(page: Any) -> None:
    for box in page.locator(f"{ORDERS} input[type=checkbox]").all():
        box.uncheck()


def expand(page: Any, number: int) -> Any:
    page.locator(f"#expand-{number}").click()
    expect(page.locator(f"#expand-{number}")).to_have_attribute("aria-expanded", "true")
    return page.locator(f"#order-{number}-lines")


def downloaded(page: Any, button: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.get_by_role("button", name=button, exact=True).click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()
