"""One e-conomic agreement's state: its data (plain dicts, as e-conomic answers them), the rules that
change it outside a request (seeding, booking, sending and upgrading orders), its rate bucket and its
idempotency cache."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from standins.economic.filters import _dig
from standins.economic.orders import Host, Numbering, _now_text, _Orders
from standins.economic.rate import _Bucket
from standins.economic.schemas import BOOKED_SCHEMA, _booked_fields, _project, _schema
from standins.economic.wire import BASE_CURRENCY, CURRENCIES, Kind, encode_self_id

# --- the agreement's data ---------------------------------------------------------------------------

FIRST_BOOKED_NUMBER = 10001


@dataclass
class _Cached:
    status: int
    headers: dict[str, str]
    body: Any
    expires: float


class Agreement(_Orders):
    """One e-conomic agreement: its data (plain dicts keyed by number; seed and inspect them freely)
    and its rate bucket. Documents are stored as e-conomic answers them, `self` links included. How
    drafts are numbered and orders move on: `standins.economic.orders`."""

    def __init__(self, standin: Host, grant_token: str, tenant: str, number: int) -> None:
        self._standin = standin
        self.grant_token = grant_token
        self.tenant = tenant
        self.agreement_number = number
        self.read_only = False
        self.currencies: set[str] = set(CURRENCIES)
        self.customers: dict[int, dict[str, Any]] = {}
        self.customer_groups: dict[int, dict[str, Any]] = {}
        self.layouts: dict[int, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.vat_zones: dict[int, dict[str, Any]] = {}
        self.vat_rates: dict[int, Decimal] = {}
        self.payment_terms: dict[int, dict[str, Any]] = {}
        self.invoice_drafts: dict[int, dict[str, Any]] = {}
        self.order_drafts: dict[int, dict[str, Any]] = {}
        self.orders_sent: dict[int, dict[str, Any]] = {}
        self.orders_archived: dict[int, dict[str, Any]] = {}
        self.numbering: Numbering = "highest+1"
        self.upgrade_keeps_reference = True
        self.archive_upgraded_drafts = False
        self.inventory_module = False
        """The agreement has e-conomic's inventory module: writes to `/orders` are refused
        (e-conomic/slate@8abdb42 _orders.md: "data creation and modification on resources in /orders will
        not be available on agreements that have inventory module enabled"). The answer e-conomic gives
        is not documented: `inventory_refusal_status` (400 by default) with a message naming the module."""
        self.inventory_refusal_status = 400
        self.booked_invoices: dict[int, dict[str, Any]] = {}
        self.first_booked_number = FIRST_BOOKED_NUMBER
        """The number e-conomic gives the agreement's first booked invoice (the agreement's setting)."""
        self._highest_booked = 0
        self.bucket = _Bucket(standin.rate_limit, standin.rate_window, standin.clock)
        self.max_used = 0
        self.rate_refusals = 0
        self.idempotency: dict[tuple[str, str, str], _Cached] = {}

    def _url(self, path: str) -> str:
        return self._standin.base_url + path

    def _ref(self, resource: str, number: int, field_name: str) -> dict[str, Any]:
        return {field_name: number, "self": self._url(f"/{resource}/{number}")}

    # --- seeding --------------------------------------------------------------------------------

    def add_vat_zone(self, number: int, name: str, *, rate: Decimal | str = "0") -> dict[str, Any]:
        """A VAT zone; `rate` (e.g. "0.25") is the stand-in's own: the VAT a document in this zone gets."""
        doc = {"vatZoneNumber": number, "name": name, "enabledForCustomer": True, "enabledForSupplier": True}
        doc["self"] = self._url(f"/vat-zones/{number}")
        with self._standin.lock:
            self.vat_zones[number] = doc
            self.vat_rates[number] = Decimal(rate)
        return doc

    def add_payment_terms(self, number: int, name: str, *, days: int = 14, type: str = "net") -> dict[str, Any]:
        doc = {
            "paymentTermsNumber": number,
            "daysOfCredit": days,
            "name": name,
            "paymentTermsType": type,
            "self": self._url(f"/payment-terms/{number}"),
        }
        with self._standin.lock:
            self.payment_terms[number] = doc
        return doc

    def add_layout(self, number: int, name: str, *, deleted: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {"layoutNumber": number, "name": name, "self": self._url(f"/layouts/{number}")}
        if deleted:
            doc["deleted"] = True
        with self._standin.lock:
            self.layouts[number] = doc
        return doc

    def delete_layout(self, number: int) -> None:
        """Someone deletes the layout in e-conomic. It leaves the `/layouts` collection but `/layouts/{n}`
        still answers it with `deleted: true` (economic-schemas/layouts.layoutNumber.get.schema.json,
        `deleted`: "Layouts with this flag set will not appear in the collection of layouts, but resources
        such as booked invoices might still reference this layout"), and customer groups that use it say
        so (customer-groups.customerGroupNumber.get.schema.json, `layout.deleted`: "If true this indicates
        that the layout is deleted and can't be used anymore"). Customers keep referring to it."""
        with self._standin.lock:
            self.layouts[number]["deleted"] = True
            for group in self.customer_groups.values():
                if (group.get("layout") or {}).get("layoutNumber") == number:
                    group["layout"]["deleted"] = True

    def add_customer_group(self, number: int, name: str, layout: int | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"customerGroupNumber": number, "name": name}
        if layout is not None:
            doc["layout"] = self._ref("layouts", layout, "layoutNumber")
            if self.layouts.get(layout, {}).get("deleted"):
                doc["layout"]["deleted"] = True
        doc["customers"] = self._url(f"/customer-groups/{number}/customers")
        doc["self"] = self._url(f"/customer-groups/{number}")
        with self._standin.lock:
            self.customer_groups[number] = doc
        return doc

    def add_product(
        self,
        number: str,
        name: str,
        price: Decimal | str | int = "100.00",
        *,
        cost_price: Decimal | str | None = None,
        barred: bool = False,
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {"productNumber": number, "name": name, "salesPrice": Decimal(price)}
        if cost_price is not None:
            doc["costPrice"] = Decimal(cost_price)
        if barred:
            doc["barred"] = True
        doc["productGroup"] = {"productGroupNumber": 1, "self": self._url("/product-groups/1")}
        doc["self"] = self._url(f"/products/{encode_self_id(number)}")
        with self._standin.lock:
            self.products[number] = doc
        return doc

    def add_customer(
        self,
        number: int,
        name: str,
        *,
        currency: str = "DKK",
        group: int = 1,
        layout: int | None = None,
        vat_zone: int = 1,
        payment_terms: int = 1,
        email: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A customer as e-conomic answers it; `fields` adds others (`address`, `zip`, `city`, `ean`...)."""
        doc: dict[str, Any] = {
            "customerNumber": number,
            "currency": currency,
            "paymentTerms": self._ref("payment-terms", payment_terms, "paymentTermsNumber"),
            "customerGroup": self._ref("customer-groups", group, "customerGroupNumber"),
            "name": name,
            "vatZone": self._ref("vat-zones", vat_zone, "vatZoneNumber"),
            "balance": Decimal("0.00"),
            "dueAmount": Decimal("0.00"),
        }
        if layout is not None:
            doc["layout"] = self._ref("layouts", layout, "layoutNumber")
        if email is not None:
            doc["email"] = email
        doc.update(fields)
        doc["lastUpdated"] = _now_text()
        doc["self"] = self._url(f"/customers/{number}")
        with self._standin.lock:
            self.customers[number] = doc
        return doc

    def seed_defaults(self) -> Agreement:
        """A small, sensible catalog: VAT zones 1 Domestic (25 %), 2 EU, 3 Abroad; payment terms 1 "Net 14
        days", 2 "Net 30 days"; layouts 19 and 21; customer groups 1 "Domestic customers" (layout 19) and
        2 "Foreign customers" (no layout); products "1" Consulting hour 950.00, "2" Support hour 750.00,
        "KM" Mileage 3.51; customers 1 Acme A/S (DKK, group 1), 2 Globex GmbH (EUR, group 2, layout 21),
        3 Initech Ltd (GBP, group 2, no layout anywhere)."""
        self.add_vat_zone(1, "Domestic", rate="0.25")
        self.add_vat_zone(2, "EU")
        self.add_vat_zone(3, "Abroad")
        self.add_payment_terms(1, "Net 14 days", days=14)
        self.add_payment_terms(2, "Net 30 days", days=30)
        self.add_layout(19, "Standard invoice")
        self.add_layout(21, "English invoice")
        self.add_customer_group(1, "Domestic customers", layout=19)
        self.add_customer_group(2, "Foreign customers")
        self.add_product("1", "Consulting hour", "950.00")
        self.add_product("2", "Support hour", "750.00")
        self.add_product("KM", "Mileage", "3.51")
        self.add_customer(1, "Acme A/S", address="Vejlevej 21", zip="7000", city="Fredericia", country="Denmark")
        self.add_customer(2, "Globex GmbH", currency="EUR", group=2, layout=21, vat_zone=2, payment_terms=2)
        self.add_customer(3, "Initech Ltd", currency="GBP", group=2, vat_zone=3)
        return self

    # --- documents ------------------------------------------------------------------------------

    def drafts(self, kind: Kind) -> dict[int, dict[str, Any]]:
        return self.invoice_drafts if kind == "draftInvoice" else self.order_drafts

    def find_drafts(self, kind: Kind, reference: str) -> list[dict[str, Any]]:
        with self._standin.lock:
            return [d for d in self.drafts(kind).values() if _dig(d, "references.other") == reference]

    def book(self, draft_number: int, *, number: int | None = None, date: str | date | None = None) -> dict[str, Any]:
        """e-conomic books the draft invoice, as `POST /invoices/booked` does: the draft leaves
        `invoice_drafts` and the booked invoice is returned. `number` is `bookWithNumber`; `date`
        (YYYY-MM-DD) is the invoice date an accountant set before booking (the due date follows it,
        unless the payment terms are of type `dueDate`). KeyError: no such draft; ValueError: `number`
        is already a booked invoice's."""
        when = None if date is None else _date_text(date)
        with self._standin.lock:
            if draft_number not in self.invoice_drafts:
                raise KeyError(f"no draft invoice {draft_number}")
            if number is not None and number in self.booked_invoices:
                raise ValueError(f"booked invoice {number} exists already")
            return copy.deepcopy(self._book(draft_number, number, when))

    def add_booked(self, number: int, **fields: Any) -> dict[str, Any]:
        """Seeds booked invoice `number` (one booked by someone else, say, with `references={"other":
        "XYZ"}`): a DKK invoice of today to customer 1, for 0.00, unless `fields` say otherwise;
        `customer` may be given as a number. Money given as text or int becomes `Decimal`;
        `remainder`/`remainderInBaseCurrency` default to the gross amounts (unpaid)."""
        today = datetime.now(UTC).date().isoformat()
        customer_number = fields.pop("customer", 1)
        zero = Decimal("0.00")
        with self._standin.lock:
            customer = (
                customer_number
                if isinstance(customer_number, dict)
                else self._ref("customers", int(customer_number), "customerNumber")
            )
            known = self.customers.get(customer.get("customerNumber", -1), {})
            doc: dict[str, Any] = {
                "bookedInvoiceNumber": number,
                "date": today,
                "currency": BASE_CURRENCY,
                "exchangeRate": Decimal(100),
                "netAmount": zero,
                "netAmountInBaseCurrency": zero,
                "grossAmount": zero,
                "grossAmountInBaseCurrency": zero,
                "vatAmount": zero,
                "roundingAmount": zero,
                "customer": customer,
                "recipient": {
                    "name": known.get("name", f"Customer {customer.get('customerNumber')}"),
                    "vatZone": copy.deepcopy(known.get("vatZone") or self._ref("vat-zones", 1, "vatZoneNumber")),
                },
            }
            doc.update(copy.deepcopy(fields))
            for name in ("date", "dueDate"):
                if isinstance(doc.get(name), date):
                    doc[name] = doc[name].isoformat()
            for name in _DECIMAL_FIELDS:
                if isinstance(doc.get(name), str | int) and not isinstance(doc[name], bool):
                    doc[name] = Decimal(doc[name])
            doc.setdefault("dueDate", doc["date"])
            doc.setdefault("remainder", doc["grossAmount"])
            doc.setdefault("remainderInBaseCurrency", doc["grossAmountInBaseCurrency"])
            doc["bookedInvoiceNumber"] = number
            return copy.deepcopy(self._file_booked(doc))

    # --- booking ------------------------------------------------------------------------------

    def next_booked_number(self) -> int:
        """The number e-conomic gives the next invoice booked without `bookWithNumber`: one above the
        highest ever booked here (booked invoices cannot be deleted; their numbers are never reused)."""
        with self._standin.lock:
            return max(self.first_booked_number, self._highest_booked + 1, max(self.booked_invoices, default=0) + 1)

    def _file_booked(self, doc: dict[str, Any]) -> dict[str, Any]:
        number = int(doc["bookedInvoiceNumber"])
        self_link = self._url(f"/invoices/booked/{number}")
        doc["pdf"] = {"download": f"{self_link}/pdf"}
        doc["self"] = self_link
        ordered = {name: doc[name] for name in _booked_fields(self._standin.schema_dir) if name in doc}
        ordered.update(doc)
        self.booked_invoices[number] = ordered
        self._highest_booked = max(self._highest_booked, number)
        return ordered

    def _book(self, draft_number: int, number: int | None, when: str | None) -> dict[str, Any]:
        """Books the draft (it must exist, `number` must be free): the stored booked invoice."""
        draft = self.invoice_drafts.pop(draft_number)
        booked_number = self.next_booked_number() if number is None else number
        doc: dict[str, Any] = _project(draft, _schema(self._standin.schema_dir, BOOKED_SCHEMA))
        doc["bookedInvoiceNumber"] = booked_number
        if when is not None:
            doc["date"] = when
            terms = doc.get("paymentTerms") or {}
            if terms.get("paymentTermsType") != "dueDate" and isinstance(terms.get("daysOfCredit"), int):
                doc["dueDate"] = (date.fromisoformat(when) + timedelta(days=terms["daysOfCredit"])).isoformat()
        doc["remainder"] = doc.get("grossAmount", Decimal("0.00"))
        doc["remainderInBaseCurrency"] = doc.get("grossAmountInBaseCurrency", doc["remainder"])
        return self._file_booked(doc)


def _date_text(value: str | date) -> str:
    """YYYY-MM-DD; ValueError for anything that is not a real date."""
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date written YYYY-MM-DD") from None


_DECIMAL_FIELDS = (
    "exchangeRate",
    "netAmount",
    "netAmountInBaseCurrency",
    "grossAmount",
    "grossAmountInBaseCurrency",
    "vatAmount",
    "roundingAmount",
    "remainder",
    "remainderInBaseCurrency",
)
