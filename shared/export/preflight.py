"""Everything an export needs, checked before anything is created in e-conomic.

Each problem carries the integration's error code as its field, once per thing that is wrong (a
customer with ten drafts is named once):
- `customer`: the draft's customer is no longer in the billing directory;
- `finance.accountingSystemId`: the customer has no e-conomic customer number;
- `economic.customer`: e-conomic has no customer with that number;
- `economic.customerGroup.layout`: no layout from the request, the customer or its customer group;
- `economic.layout`: the layout the customer (or its customer group) names is deleted in e-conomic;
- `economic.paymentTerms`: the customer's payment terms are of type `dueDate` and give no days to
  compute the due date from;
- `economic.product`: a line's product number is unknown in e-conomic;
- `layout`: the layout the request names does not exist in e-conomic.

`preflight` is the pure check; `DraftCheck` reads what it needs (e-conomic's catalog, the drafts'
lines, the billing directory) for the HTTP start and for the worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from shared.export.documents import layout_for
from shared.export.jobs import Problem
from shared.export.ports import EconomicApi
from shared.invoicing.directory import Directory
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


def preflight(
    drafts: Sequence[tuple[DraftHeader, Sequence[L]]],
    directory: Directory,
    catalog: Catalog,
    *,
    layout: int | None,
) -> tuple[list[Planned[L]], list[Problem]]:
    problems: dict[tuple[str, str], Problem] = {}

    def report(code: str, message: str) -> None:
        problems.setdefault((code, message), Problem(code, message))

    if layout is not None and layout not in catalog.layouts:
        report("layout", f"Layout {layout} does not exist in e-conomic.")
    planned: list[Planned[L]] = []
    for header, lines in drafts:
        ok = True
        customer = directory.customers.get(header.customer.customer_id)
        for product in sorted({line.product_number for line in lines}):
            if product not in catalog.products:
                report("economic.product", f"Product not found in e-conomic with product code: {product}")
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
        if chosen is None:
            report("economic.customerGroup.layout", f"Customer did not have a layout available: {customer.name}")
            continue
        if layout is None and chosen not in catalog.layouts:
            # A deleted layout leaves e-conomic's /layouts collection (which is what catalog.layouts holds)
            # while the customer or its group still names it (economic-schemas/layouts.layoutNumber.get
            # `deleted`; customer-groups.customerGroupNumber.get `layout.deleted`: "can't be used anymore").
            # Which layout e-conomic would fall back to is not documented: the export does not guess.
            report(
                "economic.layout",
                f"Layout {chosen} of customer {customer.name} ({_layout_source(remote)}) is deleted in "
                "e-conomic: choose another layout for the customer or its group, or name one in the export",
            )
            continue
        due_days = _due_days(remote, catalog.payment_terms)
        if isinstance(due_days, str):
            report("economic.paymentTerms", f"{due_days}: {customer.name}")
            continue
        if ok:
            planned.append(Planned(header, tuple(lines), remote, chosen, due_days))
    return planned, list(problems.values())


def _layout_source(customer: Mapping[str, Any]) -> str:
    return "its own" if isinstance((customer.get("layout") or {}).get("layoutNumber"), int) else "its customer group's"


def _due_days(customer: Mapping[str, Any], terms: Mapping[int, Mapping[str, Any]]) -> int | str | None:
    """Days from the invoice date to the due date the document must carry; None when it needs none; a
    reason when it needs one that cannot be computed.

    Both draft POST schemas make `dueDate` mandatory for payment terms of type 'duedate'
    (economic-schemas/invoices.drafts.post.schema.json and orders.drafts.post.schema.json, `dueDate`);
    the enum spells it `dueDate`, the prose 'duedate': compared without case. How to compute it is ours
    to choose: the terms' `daysOfCredit` ("The number of days before payment must be made",
    payment-terms.paymentTermsNumber.get.schema.json) after the invoice date. For other types the field
    is left out (whether e-conomic ignores or refuses it then is not documented)."""
    number = (customer.get("paymentTerms") or {}).get("paymentTermsNumber")
    term = terms.get(number) if isinstance(number, int) else None
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

    def __init__(self, invoicing: InvoicingService, directory: DirectoryService) -> None:
        self._invoicing = invoicing
        self._directory = directory

    def __call__(
        self,
        tenant: str,
        economic: EconomicApi,
        drafts: Sequence[DraftHeader],
        headers: dict[int, DraftHeader],
        layout: int | None,
        *,
        products_only: bool = False,
    ) -> tuple[list[Planned[Any]], list[Problem]]:
        if not drafts:
            return [], []
        numbers = [h.number for h in drafts]
        lines: Mapping[int, Sequence[Any]]
        # The five catalog reads run at once, and while our own lines and billing directory are read
        # (each is a round trip to e-conomic; the lines are a scan of Table storage).
        with ThreadPoolExecutor(max_workers=6, thread_name_prefix="catalog") as pool:
            customers = pool.submit(economic.customers)
            groups = pool.submit(economic.customer_groups)
            layouts = pool.submit(economic.layouts)
            products = pool.submit(economic.products)
            terms = pool.submit(economic.payment_terms)
            directory = pool.submit(self._directory.load, tenant)
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
        return preflight([(h, lines[h.number]) for h in drafts], directory.result(), catalog, layout=layout)
