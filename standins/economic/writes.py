"""Writes as e-conomic makes them, once a body passed the checks: creating a draft invoice or order,
booking a draft invoice, deleting a draft; and the sandbox's own order routes."""

from __future__ import annotations

import copy
import threading
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from standins.economic.agreement import Agreement
from standins.economic.checks import _Checks, _Problems, _refusal
from standins.economic.orders import _now_text
from standins.economic.resources import DRAFT_RESOURCES, Resource, _number_from_self, _ref_number
from standins.economic.wire import (
    BASE_CURRENCY,
    CENT,
    DOES_NOT_EXIST,
    EXCHANGE_RATES,
    NO_IDENTIFIER,
    NUMBER_USED,
    REQUIRED,
    SCHEMA_REFUSED,
    Kind,
    _Answer,
    _error_body,
)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class _Writes(_Checks):
    """Writes that passed the checks: a new draft (priced by the server), a booked draft invoice, a
    deleted draft, and the stand-in's own order routes."""

    lock: threading.RLock

    def _create(self, agreement: Agreement, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        resource = DRAFT_RESOURCES[kind]
        drafts = agreement.drafts(kind)
        number = agreement.next_number(kind)  # not "lowest free": see standins.economic.orders.Numbering
        doc: dict[str, Any] = {resource.number_field: number}
        doc.update(copy.deepcopy(body))
        for read_only in (
            "grossAmount",
            "grossAmountInBaseCurrency",
            "netAmountInBaseCurrency",
            "marginInBaseCurrency",
            "marginPercentage",
            "netAmount",
            "roundingAmount",
            "vatAmount",
            "pdf",
        ):
            doc.pop(read_only, None)
        customer = agreement.customers[_ref_number(body["customer"], "customerNumber")]
        doc["customer"] = {"customerNumber": customer["customerNumber"], "self": customer["self"]}
        layout = agreement.layouts[_ref_number(body["layout"], "layoutNumber")]
        doc["layout"] = {"layoutNumber": layout["layoutNumber"], "self": layout["self"]}
        terms = agreement.payment_terms[_ref_number(body["paymentTerms"], "paymentTermsNumber")]
        doc["paymentTerms"] = {
            k: terms[k]
            for k in ("paymentTermsNumber", "daysOfCredit", "name", "paymentTermsType", "self")
            if k in terms
        }
        zone_number = _ref_number(body["recipient"]["vatZone"], "vatZoneNumber")
        zone = agreement.vat_zones[zone_number]
        doc["recipient"]["vatZone"] = {
            k: zone[k] for k in ("name", "vatZoneNumber", "enabledForCustomer", "enabledForSupplier", "self")
        }
        if "dueDate" not in doc and isinstance(terms.get("daysOfCredit"), int):
            doc["dueDate"] = (date.fromisoformat(body["date"]) + timedelta(days=int(terms["daysOfCredit"]))).isoformat()
        net = Decimal("0.00")
        lines: list[dict[str, Any]] = []
        for index, line in enumerate(doc.get("lines", []), start=1):
            line = dict(line)
            line.setdefault("lineNumber", index)
            line.setdefault("sortKey", index)
            if "product" in line:
                product = agreement.products[str(_ref_number(line["product"], "productNumber", string=True))]
                line["product"] = {"productNumber": product["productNumber"], "self": product["self"]}
                line.setdefault("description", product["name"])
                line.setdefault("unitNetPrice", product["salesPrice"])
                quantity = Decimal(str(line["quantity"]))
                price = Decimal(str(line["unitNetPrice"]))
                discount = Decimal(str(line.get("discountPercentage", 0)))
                line["totalNetAmount"] = _money(quantity * price * (1 - discount / 100))
                net += line["totalNetAmount"]
            lines.append(line)
        if "lines" in doc:
            doc["lines"] = lines
        rate = Decimal(str(doc.get("exchangeRate", EXCHANGE_RATES.get(str(doc["currency"]).upper(), 100))))
        if str(doc["currency"]).upper() == BASE_CURRENCY:
            rate = Decimal(100)
        doc["exchangeRate"] = rate
        vat = _money(net * agreement.vat_rates.get(zone_number, Decimal(0)))
        doc["netAmount"] = _money(net)
        doc["netAmountInBaseCurrency"] = _money(net * rate / 100)
        doc["vatAmount"] = vat
        doc["grossAmount"] = _money(net + vat)
        doc["grossAmountInBaseCurrency"] = _money((net + vat) * rate / 100)
        doc["roundingAmount"] = Decimal("0.00")
        doc["lastUpdated"] = _now_text()
        self_link = f"{self.base_url}{resource.path}/{number}"
        doc["pdf"] = {"download": f"{self_link}/pdf"}
        doc["self"] = self_link
        drafts[number] = doc
        return copy.deepcopy(doc)

    def _book(self, agreement: Agreement, body: dict[str, Any], problems: _Problems) -> _Answer:
        """`POST /invoices/booked`, its body through the schema already (call with the lock held): the
        draft must exist and `bookWithNumber` must be free; 201 with the booked invoice."""
        reference = body.get("draftInvoice")
        draft_number: int | None = None
        hint = f"Find a list of resources at {self.base_url}/invoices/drafts."
        if "draftInvoice" not in body:
            problems.add(["draftInvoice"], "Property draftInvoice is required.", REQUIRED)
        elif isinstance(reference, dict) and not problems.covers(["draftInvoice"]):
            number = reference.get("draftInvoiceNumber")
            path: list[str | int] = ["draftInvoice", "draftInvoiceNumber"]
            if number is None and isinstance(reference.get("self"), str):
                number = _number_from_self(reference["self"])
                path = ["draftInvoice", "self"]
            if number is None:
                problems.add(
                    ["draftInvoice"],
                    "No identifiers present on draftInvoice. "
                    "Please include either a self link or a draftInvoiceNumber.",
                    NO_IDENTIFIER,
                    hint=hint,
                )
            elif number not in agreement.invoice_drafts:
                shown = reference.get("draftInvoiceNumber", reference.get("self"))
                problems.add(path, f"Draft invoice '{number}' not found.", DOES_NOT_EXIST, shown, hint)
            else:
                draft_number = number
        with_number = body.get("bookWithNumber")
        if isinstance(with_number, int) and not problems.covers(["bookWithNumber"]):
            if with_number < 1:
                problems.add(
                    ["bookWithNumber"],
                    f"Number {with_number} is less than minimum value of 1.",
                    SCHEMA_REFUSED,
                    with_number,
                )
            elif with_number in agreement.booked_invoices:
                problems.add(
                    ["bookWithNumber"],
                    f"An invoice is booked with number {with_number} already.",
                    NUMBER_USED,
                    with_number,
                    f"Leave bookWithNumber out to book with the next number, {agreement.next_booked_number()}.",
                )
        if problems.count or draft_number is None:
            return _refusal(problems)
        document = agreement._book(draft_number, with_number, None)
        return _Answer(201, {"Location": document["self"]}, copy.deepcopy(document))

    def _standin_order(self, agreement: Agreement, method: str, key: str, action: str) -> _Answer:
        """`POST /_standin/orders/{n}/send` and `.../upgrade`: the stand-in's own routes, not e-conomic's
        API, for the local sandbox to do what an accountant does in e-conomic's web app."""
        headers = {"X-CallCost": "0"}
        if method != "POST":
            return _Answer(405, headers, _error_body(405, f"{method} is not allowed here: POST.", "E00405"))
        number = int(key) if key.isdigit() else -1
        try:
            document = agreement.send_order(number) if action == "send" else agreement.upgrade_order(number)
        except KeyError:
            return _Answer(
                404, headers, _error_body(404, f"No order {key} in /orders/drafts or /orders/sent.", DOES_NOT_EXIST)
            )
        return _Answer(200, headers, document)

    def _delete(self, agreement: Agreement, resource: Resource, key: str) -> _Answer:
        assert resource.kind is not None
        with self.lock:
            drafts = agreement.drafts(resource.kind)
            try:
                number = int(key)
            except ValueError:
                number = -1
            document = drafts.pop(number, None)
        if document is None:
            return _Answer(
                404, body=_error_body(404, f"No {resource.number_field} {key} in {resource.path}.", DOES_NOT_EXIST)
            )
        if resource.kind == "order":
            # e-conomic/slate@8abdb42 _orders.md, `DELETE /orders/drafts/:orderNumber`: "The delete
            # operation will return a 204 status code" (no body); again: 404.
            return _Answer(204)
        noun = "invoice"
        return _Answer(
            200,
            body={
                "message": f"Deleted {noun}.",
                "deletedCount": 1,
                "deletedItems": [{resource.number_field: number, "self": document["self"]}],
            },
        )
