"""The collections the stand-in serves (what each is keyed by, which schema describes it) and how a
request path maps to one of them and to the number in it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from standins.economic.wire import Kind, decode_self_id


@dataclass(frozen=True)
class Resource:
    path: str
    attribute: str
    number_field: str
    schema: str
    string_key: bool = False
    kind: Kind | None = None
    """Set on the drafts collections, which take POST (create) and DELETE."""
    listed_without_lines: bool = False
    """Collection listings leave `lines` out (e-conomic's collection schemas have none)."""


RESOURCES: dict[str, Resource] = {
    r.path: r
    for r in (
        Resource("/customers", "customers", "customerNumber", "customers"),
        Resource("/customer-groups", "customer_groups", "customerGroupNumber", "customer-groups"),
        Resource("/layouts", "layouts", "layoutNumber", "layouts"),
        Resource("/products", "products", "productNumber", "products", string_key=True),
        Resource("/vat-zones", "vat_zones", "vatZoneNumber", "vat-zones"),
        Resource("/payment-terms", "payment_terms", "paymentTermsNumber", "payment-terms"),
        Resource(
            "/invoices/drafts",
            "invoice_drafts",
            "draftInvoiceNumber",
            "invoices.drafts",
            kind="draftInvoice",
            listed_without_lines=True,
        ),
        Resource(
            "/orders/drafts", "order_drafts", "orderNumber", "orders.drafts", kind="order", listed_without_lines=True
        ),
        # e-conomic publishes no orders.sent schema: a sent order is the same document as a draft one.
        Resource("/orders/sent", "orders_sent", "orderNumber", "orders.drafts", listed_without_lines=True),
        # Sent orders upgraded to invoice drafts (or deleted) are archived here (e-conomic/slate@8abdb42
        # _orders.md, `GET /orders/archived`); no orders.archived schema is published either.
        Resource("/orders/archived", "orders_archived", "orderNumber", "orders.drafts", listed_without_lines=True),
        Resource(
            "/invoices/booked", "booked_invoices", "bookedInvoiceNumber", "invoices.booked", listed_without_lines=True
        ),
    )
}
DRAFT_RESOURCES = {r.kind: r for r in RESOURCES.values() if r.kind is not None}
BOOKED = RESOURCES["/invoices/booked"]
"""The one collection besides the drafts that takes a POST: booking a draft invoice."""

_STANDIN_ORDER_ROUTE = re.compile(r"/_standin/orders/([^/]+)/(send|upgrade)")
"""The stand-in's own routes for the local sandbox (not e-conomic's API): what the web app does."""


def _route(path: str) -> tuple[str, Resource | None, str | None]:
    """(template for the counters, resource, the number in the path or None)."""
    action = _STANDIN_ORDER_ROUTE.fullmatch(path)
    if action is not None:
        return f"/_standin/orders/{{number}}/{action[2]}", None, action[1]
    if path in RESOURCES:
        return path, RESOURCES[path], None
    head, _, tail = path.rpartition("/")
    resource = RESOURCES.get(head)
    if resource is not None and tail:
        key = decode_self_id(tail) if resource.string_key else tail
        return f"{head}/{{number}}", resource, key
    return path, None, None


def _ref_number(ref: Mapping[str, Any], field_name: str, *, string: bool = False) -> Any:
    number = ref.get(field_name)
    if number is None:
        number = _number_from_self(str(ref.get("self", "")), string=string)
    return number


def _number_from_self(link: str, *, string: bool = False) -> Any:
    tail = urlsplit(link).path.rstrip("/").rpartition("/")[2]
    if string:
        return decode_self_id(tail) or None
    return int(tail) if tail.isdigit() else None
