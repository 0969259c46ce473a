"""Everything an export needs, checked before anything is created in e-conomic.

Where each value of a document comes from, first that names one (the tenant's defaults are
`billing/settings`, `shared.invoicing.directory.TenantSettings`):
- product number of a line: the service contract's (snapshotted on the note when it was billed),
  else the tenant's `defaultProductNumber`;
- layout: the export request's `layout`, else the e-conomic customer's, else its customer group's,
  else the tenant's `layoutNumber`;
- payment terms: the e-conomic customer's (its schema requires them, customers.customerNumber.get
  `paymentTerms`; should a customer come without, and for stand-ins), else the tenant's
  `paymentTermsNumber`;
- document type: the request's `documentType`, else the tenant's `documentType`, else draftInvoice
  (`jobs.document_type_for`, fixed when the job is created).

Each problem carries the integration's error code as its field, once per thing that is wrong (a
customer with ten drafts is named once); where a tenant default would fix it, the message says so:
- `customer`: the draft's customer is no longer in the billing directory;
- `finance.accountingSystemId`: the customer has no e-conomic customer number;
- `economic.customer`: e-conomic has no customer with that number;
- `economic.customerGroup.layout`: no layout from the request, the customer, its customer group or
  the tenant's default;
- `economic.layout`: the layout the customer (or its customer group, or the tenant's default) names is
  deleted in e-conomic;
- `economic.paymentTerms`: the customer has no payment terms and the tenant no default, or the terms
  chosen do not exist in e-conomic, or they are of type `dueDate` and give no days to compute the due
  date from;
- `economic.product`: a line's product number (or the tenant's default) is unknown in e-conomic;
- `product`: a line's contract names no product number and the tenant has no `defaultProductNumber`;
- `layout`: the layout the request names does not exist in e-conomic;
- `lines`: the draft has no lines left (every line deleted in the workbench): an invoice of nothing is
  a mistake, not something to send.

`preflight` is the pure check; `DraftCheck` reads what it needs (e-conomic's catalog, the drafts'
lines, the billing directory, the tenant's settings) for the HTTP start and for the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar, cast

from shared.export.documents import layout_for
from shared.export.jobs import Problem
from shared.export.ports import EconomicApi
from shared.invoicing.directory import Directory, TenantSettings
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.ledger import DraftHeader
from shared.invoicing.service import InvoicingService


@dataclass(frozen=True)
class Catalog:
    """What the preflight reads from the tenant's e-conomic agreement."""

    customers: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    customer_groups: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    layouts: frozenset[int] = frozenset()
    products: frozenset[str] = frozenset()
    payment_terms: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)


class Booked(Protocol):
    """What the check needs of a line: a `Line`, or just the product number (the HTTP start reads no more)."""

    @property
    def product_number(self) -> str: ...


L = TypeVar("L", bound=Booked)


@dataclass(frozen=True)
class ProductOnly:
    product_number: str


@dataclass(frozen=True)
class Planned(Generic[L]):
    """A draft that passed: the e-conomic customer and layout its document uses."""

    header: DraftHeader
    lines: tuple[L, ...]
    customer: Mapping[str, Any]
    layout: int
    due_days: int | None = None
    """Days from the invoice date to the due date the document must carry (payment terms of type
    `dueDate`); None: the document carries none (e-conomic computes it from the terms)."""
    payment_terms: int | None = None
    """The payment terms number the document carries (the customer's, else the tenant's default)."""


NO_DEFAULTS = TenantSettings()


def preflight(
    drafts: Sequence[tuple[DraftHeader, Sequence[L]]],
    directory: Directory,
    catalog: Catalog,
    *,
    layout: int | None,
    defaults: TenantSettings = NO_DEFAULTS,
) -> tuple[list[Planned[L]], list[Problem]]:
    problems: dict[tuple[str, str], Problem] = {}

    def report(code: str, message: str) -> None:
        problems.setdefault((code, message), Problem(code, message))

    if layout is not None and layout not in catalog.layouts:
        report("layout", f"Layout {layout} does not exist in e-conomic.")
    default_product = defaults.default_product_number
    planned: list[Planned[L]] = []
    for header, booked in drafts:
        ok = True
        lines = [_with_product(line, default_product) for line in booked]
        customer = directory.customers.get(header.customer.customer_id)
        if not lines:
            report("lines", f"Invoice draft {header.number} has no lines: add a line, or delete the draft")
            ok = False
        if any(not line.product_number for line in lines):
            report(
                "product",
                f"Invoice draft {header.number} has lines whose service contract names no product number, and the "
                "tenant has no defaultProductNumber: give the contract a product number, or set defaultProductNumber "
                "in billing/settings",
            )
            ok = False
        for product in sorted({line.product_number for line in lines if line.product_number}):
            if product not in catalog.products:
                source = " (the tenant's defaultProductNumber)" if product == default_product else ""
                report("economic.product", f"Product not found in e-conomic with product code: {product}{source}")
                ok = False
        if customer is None:
            report("customer", f"Customer was not found for invoice: {header.number}")
            continue
        if not customer.accounting_system_id:
            report("finance.accountingSystemId", f"Accounting system ID is not found for: {customer.name}")
            continue
        remote = catalog.customers.get(customer.accounting_system_id)
        if remote is None:
            report(
                "economic.customer",
                f"Customer not found in economic: {customer.name} (customer number {customer.accounting_system_id})",
            )
            continue
        chosen = layout_for(layout, remote, catalog.customer_groups)
        source = "" if chosen is None else _layout_source(remote)
        if chosen is None and defaults.layout_number is not None:
            chosen, source = defaults.layout_number, "the tenant's default layoutNumber"
        if chosen is None:
            report(
                "economic.customerGroup.layout",
                f"Customer did not have a layout available: {customer.name} (none in the request, on the customer "
                "or its customer group; a layoutNumber in billing/settings would be used)",
            )
            continue
        if layout is None and chosen not in catalog.layouts:
            # A deleted layout leaves e-conomic's /layouts collection (which is what catalog.layouts holds)
            # while the customer or its group still names it (economic-schemas/layouts.layoutNumber.get
            # `deleted`; customer-groups.customerGroupNumber.get `layout.deleted`: "can't be used anymore").
            # Which layout e-conomic would fall back to is not documented: the export does not guess.
            report(
                "economic.layout",
                f"Layout {chosen} of customer {customer.name} ({source}) is deleted in "
                "e-conomic: choose another layout for the customer or its group, or name one in the export",
            )
            continue
        terms = _payment_terms(remote, defaults, catalog.payment_terms)
        if isinstance(terms, str):
            report("economic.paymentTerms", f"{terms}: {customer.name}")
            continue
        due_days = _due_days(terms, catalog.payment_terms)
        if isinstance(due_days, str):
            report("economic.paymentTerms", f"{due_days}: {customer.name}")
            continue
        if ok:
            planned.append(Planned(header, tuple(lines), remote, chosen, due_days, terms))
    return planned, list(problems.values())


def _with_product(line: L, default: str | None) -> L:
    """The line, booked on the tenant's default product when its contract names none."""
    if line.product_number or not default:
        return line
    return cast(L, replace(cast(Any, line), product_number=default))


def _payment_terms(
    customer: Mapping[str, Any], defaults: TenantSettings, terms: Mapping[int, Mapping[str, Any]]
) -> int | str:
    """The payment terms number of the customer's documents, or why there is none."""
    number = (customer.get("paymentTerms") or {}).get("paymentTermsNumber")
    if isinstance(number, int) and not isinstance(number, bool):
        return number
    if defaults.payment_terms_number is None:
        return (
            "The customer has no payment terms in e-conomic and the tenant has no default: set paymentTermsNumber "
            "in billing/settings, or give the customer payment terms in e-conomic"
        )
    if defaults.payment_terms_number not in terms:
        return (
            f"The tenant's default payment terms {defaults.payment_terms_number} (billing/settings "
            "paymentTermsNumber) do not exist in e-conomic"
        )
    return defaults.payment_terms_number


def _layout_source(customer: Mapping[str, Any]) -> str:
    return "its own" if isinstance((customer.get("layout") or {}).get("layoutNumber"), int) else "its customer group's"


def _due_days(number: int, terms: Mapping[int, Mapping[str, Any]]) -> int | str | None:
    """Days from the invoice date to the due date the document must carry; None when it needs none; a
    reason when it needs one that cannot be computed.

    Both draft POST schemas make `dueDate` mandatory for payment terms of type 'duedate'
    (economic-schemas/invoices.drafts.post.schema.json and orders.drafts.post.schema.json, `dueDate`);
    the enum spells it `dueDate`, the prose 'duedate': compared without case. How to compute it is ours
    to choose: the terms' `daysOfCredit` ("The number of days before payment must be made",
    payment-terms.paymentTermsNumber.get.schema.json) after the invoice date. For other types the field
    is left out (whether e-conomic ignores or refuses it then is not documented)."""
    term = terms.get(number)
    if term is None or str(term.get("paymentTermsType", "")).casefold() != "duedate":
        return None
    days = term.get("daysOfCredit")
    if isinstance(days, int) and not isinstance(days, bool) and days >= 0:
        return days
    return (
        f"Payment terms {number} are of type dueDate and give no days of credit, so the document's due date "
        "cannot be computed; give them days of credit or choose other terms for the customer"
    )


class DraftCheck:
    """The preflight with its reads. The worker reads the whole lines (it builds the documents from
    them); the HTTP start only their product numbers, a tenth of the data to read."""

    def __init__(
        self,
        invoicing: InvoicingService,
        directory: DirectoryService,
        settings: Callable[[str], TenantSettings] = lambda tenant: TenantSettings(),
    ) -> None:
        self._invoicing = invoicing
        self._directory = directory
        self._settings = settings

    def __call__(
        self,
        tenant: str,
        economic: EconomicApi,
        drafts: Sequence[DraftHeader],
        headers: dict[int, DraftHeader],
        layout: int | None,
        *,
        products_only: bool = False,
        defaults: TenantSettings | None = None,
    ) -> tuple[list[Planned[Any]], list[Problem]]:
        """`defaults`: the tenant's settings when the caller has read them already (else read here,
        beside the other reads)."""
        if not drafts:
            return [], []
        numbers = [h.number for h in drafts]
        lines: Mapping[int, Sequence[Any]]
        # The five catalog reads run at once, and while our own lines, billing directory and settings are
        # read (each is a round trip to e-conomic; the lines are a scan of Table storage).
        with ThreadPoolExecutor(max_workers=7, thread_name_prefix="catalog") as pool:
            customers = pool.submit(economic.customers)
            groups = pool.submit(economic.customer_groups)
            layouts = pool.submit(economic.layouts)
            products = pool.submit(economic.products)
            terms = pool.submit(economic.payment_terms)
            directory = pool.submit(self._directory.load, tenant)
            settings = pool.submit(self._settings, tenant) if defaults is None else None
            if products_only:
                booked = self._invoicing.products_for(tenant, numbers, headers)
                lines = {n: [ProductOnly(p) for p in sorted(booked[n])] for n in numbers}
            else:
                lines = self._invoicing.lines_for(tenant, numbers, headers)
            catalog = Catalog(
                customers=customers.result(),
                customer_groups=groups.result(),
                layouts=frozenset(layouts.result()),
                products=frozenset(products.result()),
                payment_terms=terms.result(),
            )
        return preflight(
            [(h, lines[h.number]) for h in drafts],
            directory.result(),
            catalog,
            layout=layout,
            defaults=settings.result() if settings is not None else defaults or NO_DEFAULTS,
        )
