"""Pure rules of the export: which drafts an invoice date selects, the e-conomic document each draft
becomes, and the marks the export leaves on a draft's header. Nothing here does I/O.

Amounts: e-conomic computes a line's total as quantity x unit net price, both with at most two
decimals. A time line is sent as hours x hourly rate when that product is exactly our line's amount
(e.g. 1.25 h x 95.00); otherwise (61 minutes = 1.0166... h) as 1 x the amount, with the hours and
rate in the description. A manual line is sent as its quantity x unit price (both at most two
decimals, as e-conomic's draft line schema takes them: economic-schemas/invoices.drafts.post.schema.json,
`lines[].quantity` and `lines[].unitNetPrice`, `maxDecimal: 2`) when that product is exactly its
amount, else as 1 x the amount with quantity and price in the description (e-conomic's rounding of
a product with more decimals is undocumented). So every document's net total in e-conomic equals our
draft's, to the cent.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared.export.jobs import Job
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.ledger import EXPORTED, OPEN, DraftHeader, export_job_of
from shared.invoicing.planning import CENT, Line, money
from shared.work import hours

REFERENCE_PREFIX = "IB-"
MAX_DESCRIPTION = 2500
MAX_HEADING = 250


def reference(tenant: str, draft_number: int) -> str:
    """`references.other` of the draft's document, `IB-<tenant>-<draft id>`: how the export finds a
    document again and the accounting sync recognises its booked invoice. It names the tenant because
    draft numbers are per tenant and two tenants may export to one e-conomic agreement: with the draft
    id alone, one tenant's export adopted (and its rollback deleted) the other's documents."""
    return f"{REFERENCE_PREFIX}{tenant}-{draft_number}"


def legacy_reference(draft_number: int) -> str:
    """`IB-<draft id>`: what drafts exported before references named the tenant carry."""
    return f"{REFERENCE_PREFIX}{draft_number}"


def reference_of(header: DraftHeader) -> str:
    """The reference the draft's document carries: as recorded when it was created; a draft that has a
    document without a recorded reference was exported before references named the tenant."""
    if header.status == OPEN and "documentNumber" not in header.accounting:
        return reference(header.tenant, header.number)  # its document is (about to be) created now
    stored = header.accounting.reference
    return stored if isinstance(stored, str) and stored else legacy_reference(header.number)


def default_invoice_date(today: date) -> date:
    return today.replace(day=1)


def period_ended(header: DraftHeader, invoice_date: date, tz: ZoneInfo) -> bool:
    """A draft is due once its (last) month has ended by the invoice date: the 1st of November exports
    October and anything older still open; the 31st of January does not yet export January."""
    # Compared as (year, month): a Period of the invoice date's month may not exist (2100 and later).
    return (header.period_to.year, header.period_to.month) < (invoice_date.year, invoice_date.month)


def select_drafts(headers: Iterable[DraftHeader], invoice_date: date, tz: ZoneInfo) -> list[DraftHeader]:
    """The open drafts an export with this invoice date covers, by number (omitted ones included)."""
    due = [h for h in headers if h.status == OPEN and period_ended(h, invoice_date, tz)]
    return sorted(due, key=lambda h: h.number)


@dataclass(frozen=True)
class DocumentLine:
    product_number: str
    description: str
    quantity: Decimal
    unit_net_price: Decimal

    @property
    def amount(self) -> Decimal:
        return money(self.quantity * self.unit_net_price)


def _month(day: date) -> str:
    return f"{calendar.month_name[day.month]} {day.year}"


def _exact(quantity: Decimal, price: Decimal, amount: Decimal) -> bool:
    return quantity == quantity.quantize(CENT) and money(quantity * price) == amount


def _time_line(product: str, description: str, minutes: int, rate: Decimal, amount: Decimal) -> DocumentLine:
    quantity = Decimal(minutes) / 60
    if _exact(quantity, rate, amount):
        return DocumentLine(product, description, quantity.quantize(CENT), rate)
    detail = f" ({minutes} min = {quantity.quantize(Decimal('0.0001')).normalize():f} h at {rate:f}/h)"
    return DocumentLine(product, description + detail, Decimal(1), amount)


def _manual_line(line: Line) -> DocumentLine:
    """A manual line as the product line it is: its own quantity and unit price (its period, if any,
    named in the text)."""
    text = line.description
    if line.period is not None:
        text = f"{text} ({_month(date(line.period.year, line.period.month, 1))})"
    if line.quantity * line.unit_price == line.amount:
        return DocumentLine(line.product_number, text, line.quantity, line.unit_price)
    detail = f" ({line.quantity:f} x {line.unit_price:f})"
    return DocumentLine(line.product_number, text + detail, Decimal(1), line.amount)


def document_lines(lines: Sequence[Line], *, group: bool) -> list[DocumentLine]:
    """One document line per draft line, or with `group` one per product, month and unit price (lines
    with different prices are never summed; manual lines always stay lines of their own)."""
    manual = [_manual_line(line) for line in lines if line.kind == "manual"]
    lines = [line for line in lines if line.kind != "manual"]
    if not group:
        result = []
        for line in lines:
            if line.kind == "time":
                result.append(_time_line(line.product_number, line.description, line.minutes, line.rate, line.amount))
            else:
                result.append(DocumentLine(line.product_number, line.description, Decimal(1), line.amount))
        return result + manual
    groups: dict[tuple[str, str, int, int, Decimal], list[Line]] = {}
    for line in lines:
        key = (line.kind, line.product_number, line.date.year, line.date.month, line.rate)
        groups.setdefault(key, []).append(line)
    result = []
    for (kind, product, _, _, rate), members in groups.items():
        first = members[0]
        amount = sum((m.amount for m in members), Decimal("0.00"))
        count = f"{len(members)} {'entry' if len(members) == 1 else 'entries'}"
        if kind == "time":
            minutes = sum(m.minutes for m in members)
            text = f"{_month(first.date)}: {count}, {hours(minutes):f} h"
            result.append(_time_line(product, text, minutes, rate, amount))
        else:
            text = f"{_month(first.date)}: surcharge {rate.normalize():f} % on {count}"
            result.append(DocumentLine(product, text, Decimal(1), amount))
    return result + manual


def document_body(
    header: DraftHeader,
    lines: Sequence[Line],
    *,
    customer: Mapping[str, Any],
    layout: int,
    invoice_date: date,
    group: bool,
    due_days: int | None = None,
    payment_terms: int | None = None,
) -> dict[str, Any]:
    """The POST body for /invoices/drafts or /orders/drafts (the two take the same fields we send).
    `customer` is e-conomic's customer document: recipient name, VAT zone and payment terms come
    from it, as e-conomic's own UI would fill them (`payment_terms`: the preflight's choice, the
    customer's or else the tenant's default). Optional fields are left out, never null."""
    recipient: dict[str, Any] = {
        "name": str(customer["name"])[:250],
        "vatZone": {"vatZoneNumber": customer["vatZone"]["vatZoneNumber"]},
    }
    for ours, theirs, limit in (
        ("address", "address", 250),
        ("zip", "zip", 50),
        ("city", "city", 250),
        ("country", "country", 50),
        ("ean", "ean", 13),
    ):
        value = customer.get(theirs)
        if isinstance(value, str) and value.strip():
            recipient[ours] = value[:limit]
    period = (
        str(header.period_from)
        if header.period_from == header.period_to
        else f"{header.period_from} to {header.period_to}"
    )
    document_lines_ = document_lines(lines, group=group)
    due: dict[str, Any] = {}
    if due_days is not None:
        # Mandatory for payment terms of type dueDate (economic-schemas/invoices.drafts.post and
        # orders.drafts.post, `dueDate`); `shared.export.preflight._due_days` says when and how many days.
        due["dueDate"] = (invoice_date + timedelta(days=due_days)).isoformat()
    return {
        "date": invoice_date.isoformat(),
        **due,
        "currency": header.customer.currency,
        "customer": {"customerNumber": customer["customerNumber"]},
        "recipient": recipient,
        "paymentTerms": {
            "paymentTermsNumber": payment_terms
            if payment_terms is not None
            else customer["paymentTerms"]["paymentTermsNumber"]
        },
        "layout": {"layoutNumber": layout},
        "references": {"other": reference_of(header)},
        "notes": {"heading": f"Invoice draft {header.number}, {period}"[:MAX_HEADING]},
        "lines": [
            {
                "lineNumber": index,
                "sortKey": index,
                "description": line.description[:MAX_DESCRIPTION],
                "product": {"productNumber": line.product_number},
                "quantity": line.quantity,
                "unitNetPrice": line.unit_net_price,
            }
            for index, line in enumerate(document_lines_, start=1)
        ],
    }


def layout_for(
    requested: int | None, customer: Mapping[str, Any], groups: Mapping[int, Mapping[str, Any]]
) -> int | None:
    """The request's layout, else the customer's, else its customer group's; None when none has one
    (the preflight then takes the tenant's default)."""
    if requested is not None:
        return requested
    own = (customer.get("layout") or {}).get("layoutNumber")
    if isinstance(own, int):
        return own
    group_number = (customer.get("customerGroup") or {}).get("customerGroupNumber")
    group = groups.get(group_number) if isinstance(group_number, int) else None
    inherited = ((group or {}).get("layout") or {}).get("layoutNumber")
    return inherited if isinstance(inherited, int) else None


# -- the export's marks on a draft header and on e-conomic's documents ------------------------------

_MARKS = ("exportJob", "documentType", "documentNumber", "reference")


def without_marks(accounting: AccountingState) -> AccountingState:
    """The header's accounting data without this export's progress marks."""
    return accounting.without(*_MARKS)


def released(accounting: AccountingState) -> AccountingState:
    """The header's accounting data with neither this export's marks nor an orphan to clean up."""
    return without_marks(accounting).changed(orphan=None)


def claimed_accounting(header: DraftHeader, job_id: str) -> AccountingState:
    """The draft's accounting data once `job_id` holds it. A claim left by a job that ended without
    releasing it (its worker died) may have a document in e-conomic with stale lines: marked as an
    orphan, so that document is deleted and a fresh one created instead of adopting it."""
    accounting = without_marks(header.accounting).changed(export_job=job_id)
    previous = export_job_of(header)
    if previous is not None and previous != job_id:
        # What that job recorded of its document goes along: its type, number and reference are how it
        # is found again (by number, if it was made under another reference).
        recorded = {
            k: header.accounting[k] for k in ("documentType", "documentNumber", "reference") if k in header.accounting
        }
        accounting = accounting.changed(orphan={"exportJob": previous, **recorded})
    return accounting


def exported_header(job: Job, header: DraftHeader, document_number: int | None, now: datetime) -> DraftHeader:
    """The draft as this job leaves it exported: e-conomic's document and how to find it again."""
    accounting = AccountingState(
        system="e-conomic",
        export_job=job.job_id,
        document_type=job.document_type,
        document_number=document_number,
        reference=reference_of(header),
        invoice_date=job.invoice_date.isoformat(),
        exported_at=now.isoformat(),
    )
    return replace(header, status=EXPORTED, accounting=accounting, updated_at=now)


def number_in(kind: str, doc: Mapping[str, Any]) -> int:
    """An e-conomic document's number: its order number, or its draft invoice number."""
    return int(doc["orderNumber"] if kind == "order" else doc["draftInvoiceNumber"])


def reference_in(doc: Mapping[str, Any]) -> str | None:
    """The `references.other` an e-conomic document carries."""
    value = (doc.get("references") or {}).get("other")
    return str(value) if value is not None else None
