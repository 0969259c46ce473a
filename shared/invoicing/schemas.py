"""Wire models of the billing directory and invoicing operations, and their mappers (operations in
`shared.invoicing.routes`). JSON in, JSON out; data always of the key's tenant.

Money (rates, amounts, totals) and hours travel as decimal strings ("202.50", "2.25"), never as JSON
numbers, so no client rounds them through a float; minutes are whole numbers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from shared.invoicing.directory import Contract, Customer, Entry, Ticket
from shared.invoicing.editing import version_tag
from shared.invoicing.ledger import DraftHeader, invoice_number
from shared.invoicing.line_schemas import LineOut, line_out
from shared.invoicing.planning import Unresolved
from shared.invoicing.service import Draft, RunResult
from shared.invoicing.wire import Currency as Currency  # re-exported: what other features' wire models use
from shared.invoicing.wire import Money, Percent, PeriodField, ProductNumber, StatusField, whole
from shared.invoicing.wire import Name as Name
from shared.invoicing.wire import WireIn as WireIn
from shared.invoicing.wire import WireOut as WireOut
from shared.validation import Email, PositiveId
from shared.work import hours

# -- billing directory --------------------------------------------------------------------------


class CustomerRef(WireIn):
    customerId: PositiveId = Field(description="The customer's id (your own, e.g. the CRM's).")


class CustomerIn(CustomerRef):
    name: Name = Field(description="Name printed on the invoice.")
    accountingSystemId: PositiveId | None = Field(
        None, description="The customer's number in e-conomic; leave out until the customer exists there."
    )
    billingEmail: Email = Field(description="Where the invoice is sent.")
    currency: Currency = Field(description="ISO 4217 code; the customer's contracts are priced in it.")


class CustomerOut(WireOut):
    customerId: int = Field(description="The customer's id.")
    name: str = Field(description="Name printed on the invoice.")
    accountingSystemId: int | None = Field(description="The customer's number in e-conomic (null: not linked yet).")
    billingEmail: str = Field(description="Where the invoice is sent.")
    currency: str = Field(description="ISO 4217 code.")


class CustomerList(WireOut):
    customers: list[CustomerOut] = Field(description="The tenant's customers by id.")


class ContractRef(WireIn):
    contractId: PositiveId = Field(description="The service contract's id (what notes send as serviceContractID).")


class ContractIn(ContractRef):
    customerId: PositiveId = Field(description="The customer the contract belongs to; must exist.")
    productNumber: ProductNumber | None = Field(
        None,
        description="The e-conomic product number the lines are booked on; leave out to use the tenant's "
        "defaultProductNumber (billing/settings) when exporting.",
    )
    hourlyRate: Money = Field(description="Price of one hour in the customer's currency, at most 2 decimals.")
    surchargePercent: Percent = Field(
        Decimal(0), description="Surcharge in percent for notes with extraCharge (its own line); 0: none."
    )
    roundingMinutes: Annotated[int, whole(1, 1440)] = Field(
        1, description="Billable minutes are rounded up to a multiple of this (1-1440)."
    )


class ContractOut(WireOut):
    contractId: int = Field(description="The service contract's id.")
    customerId: int = Field(description="The customer it belongs to.")
    productNumber: str | None = Field(description="e-conomic product number (null: the tenant's default).")
    hourlyRate: Decimal = Field(description="Hourly rate, a decimal string.")
    surchargePercent: Decimal = Field(description="Surcharge percent for extraCharge notes, a decimal string.")
    roundingMinutes: int = Field(description="Rounding increment in minutes.")


class ContractList(WireOut):
    contracts: list[ContractOut] = Field(description="The tenant's service contracts by id.")


class TicketRef(WireIn):
    ticketId: PositiveId = Field(description="The ticket's id (what notes send as ticketID).")


class TicketIn(TicketRef):
    customerId: PositiveId = Field(description="The customer the ticket is for; must exist.")
    contractId: PositiveId | None = Field(
        None, description="The service contract that prices the ticket's notes; must belong to the same customer."
    )


class TicketOut(WireOut):
    ticketId: int = Field(description="The ticket's id.")
    customerId: int = Field(description="The customer it is for.")
    contractId: int | None = Field(description="The service contract that prices it, if any.")


class TicketList(WireOut):
    tickets: list[TicketOut] = Field(description="The tenant's tickets by id.")


class Deleted(WireOut):
    Message: str = Field(description="What was deleted.")
    Success: bool = Field(description="Always true.")


def customer_out(c: Customer) -> CustomerOut:
    return CustomerOut(
        customerId=c.customer_id,
        name=c.name,
        accountingSystemId=c.accounting_system_id,
        billingEmail=c.billing_email,
        currency=c.currency,
    )


def contract_out(c: Contract) -> ContractOut:
    return ContractOut(
        contractId=c.contract_id,
        customerId=c.customer_id,
        productNumber=c.product_number or None,
        hourlyRate=c.hourly_rate,
        surchargePercent=c.surcharge_percent,
        roundingMinutes=c.rounding_minutes,
    )


def ticket_out(t: Ticket) -> TicketOut:
    return TicketOut(ticketId=t.ticket_id, customerId=t.customer_id, contractId=t.contract_id)


def entry_out(entry: Entry) -> CustomerOut | ContractOut | TicketOut:
    if isinstance(entry, Customer):
        return customer_out(entry)
    if isinstance(entry, Contract):
        return contract_out(entry)
    return ticket_out(entry)


def entry_from(data: CustomerIn | ContractIn | TicketIn) -> Entry:
    if isinstance(data, CustomerIn):
        return Customer(data.customerId, data.name, data.accountingSystemId, data.billingEmail, data.currency)
    if isinstance(data, ContractIn):
        return Contract(
            data.contractId,
            data.customerId,
            data.productNumber or "",
            data.hourlyRate,
            data.surchargePercent,
            data.roundingMinutes,
        )
    return Ticket(data.ticketId, data.customerId, data.contractId)


# -- invoicing ----------------------------------------------------------------------------------


class RunIn(WireIn):
    period: PeriodField | None = Field(
        None, description="The month to invoice, YYYY-MM, in DEFAULT_TIMEZONE; default: the previous month."
    )


class DraftsQuery(WireIn):
    period: PeriodField | None = Field(None, description="Only drafts covering this month (YYYY-MM).")
    customerId: PositiveId | None = Field(None, description="Only drafts of this customer.")
    status: StatusField | None = Field(
        None, description="Only drafts in this status; default: open and pending ones (not void, merged, deleted)."
    )


class DraftRef(WireIn):
    draftId: PositiveId = Field(description="The draft number.")


class MergeIn(WireIn):
    draftIds: list[PositiveId] = Field(description="Two or more open drafts of one customer; the lowest number stays.")


class CustomerSnapshot(WireOut):
    customerId: int = Field(description="The customer's id.")
    name: str = Field(description="Name at the time of the run.")
    accountingSystemId: int | None = Field(description="e-conomic customer number at the time of the run.")
    billingEmail: str = Field(description="Billing e-mail at the time of the run.")
    currency: str = Field(description="ISO 4217 code of every amount in the draft.")


class TotalsOut(WireOut):
    minutes: int = Field(description="Billable minutes of all time lines.")
    hours: Decimal = Field(description="The same in hours, a decimal string with 2 places.")
    time: Decimal = Field(description="Sum of the time lines, a decimal string.")
    surcharges: Decimal = Field(description="Sum of the surcharge lines, a decimal string.")
    manual: Decimal = Field(description="Sum of the manual lines, a decimal string.")
    net: Decimal = Field(description="Sum of all lines (time + surcharges + manual, without VAT), a decimal string.")
    notes: int = Field(description="Position notes billed.")
    lines: int = Field(description="Lines (time, surcharge and manual).")


class DraftSummary(WireOut):
    draftId: int = Field(description="The draft number: sequential per tenant, never reused.")
    version: str = Field(
        description="The draft's version (also its ETag): send it as If-Match with a change; a change makes a new one."
    )
    status: str = Field(description="pending, open, exported, booked, void, merged or deleted.")
    invoiceNumber: int | None = Field(
        None, description="e-conomic's booked invoice number once the draft is booked there; null before."
    )
    customer: CustomerSnapshot = Field(description="The customer as it was when the draft was made.")
    periodFrom: str = Field(description="First month covered (YYYY-MM).")
    periodTo: str = Field(description="Last month covered (YYYY-MM); differs from periodFrom after a merge.")
    totals: TotalsOut = Field(description="Totals of the lines.")
    createdAt: datetime = Field(description="When the draft was made (UTC).")
    updatedAt: datetime = Field(description="Last change (UTC).")
    mergedInto: int | None = Field(None, description="For merged drafts: the draft that holds their lines now.")
    mergedFrom: list[int] = Field(default_factory=list, description="Drafts merged into this one.")
    accounting: dict[str, Any] = Field(
        default_factory=dict,
        description="e-conomic's side: the export's document (documentType, documentNumber, invoiceDate), then "
        "`booked` (invoiceNumber, date, dueDate, currency, netAmount, vatAmount, grossAmount) or `missing` "
        "(deleted in e-conomic without being booked: since, reason).",
    )


class DraftOut(DraftSummary):
    lines: list[LineOut] = Field(description="Lines by date; empty unless the draft is open, exported or booked.")


class DraftList(WireOut):
    drafts: list[DraftSummary] = Field(description="Drafts by number.")


class UnresolvedOut(WireOut):
    noteId: str = Field(description="The position note that stays unbilled.")
    field: str = Field(description="The note's field that could not be resolved.")
    reason: str = Field(description="What is missing in the billing directory.")


class RunOut(WireOut):
    period: str = Field(description="The month invoiced (YYYY-MM).")
    drafts: list[DraftSummary] = Field(description="Drafts created by this run, one per customer.")
    unresolved: list[UnresolvedOut] = Field(description="Billable notes that could not be priced, and why.")
    skipped: int = Field(description="Notes a concurrent run billed first.")


class Released(WireOut):
    Message: str = Field(description="What happened.")
    Success: bool = Field(description="Always true.")
    draftId: int = Field(description="The deleted draft's number (retired, never reused).")
    releasedNotes: int = Field(description="Position notes that are unbilled again.")


def summary(h: DraftHeader) -> DraftSummary:
    c = h.customer
    t = h.totals
    return DraftSummary(
        draftId=h.number,
        version=version_tag(h),
        status=h.status,
        invoiceNumber=invoice_number(h),
        customer=CustomerSnapshot(
            customerId=c.customer_id,
            name=c.name,
            accountingSystemId=c.accounting_system_id,
            billingEmail=c.billing_email,
            currency=c.currency,
        ),
        periodFrom=str(h.period_from),
        periodTo=str(h.period_to),
        totals=TotalsOut(
            minutes=t.minutes,
            hours=hours(t.minutes),
            time=t.time,
            surcharges=t.surcharges,
            manual=t.manual,
            net=t.net,
            notes=t.notes,
            lines=t.lines,
        ),
        createdAt=h.created_at,
        updatedAt=h.updated_at,
        mergedInto=h.merged_into,
        mergedFrom=list(h.merged_from),
        accounting=dict(h.accounting),
    )


def pdf_name(h: DraftHeader) -> str:
    number = invoice_number(h)
    return f"invoice-{number}-draft-{h.number}.pdf" if number else f"concept-draft-{h.number}.pdf"


def draft_out(draft: Draft) -> DraftOut:
    return DraftOut(**summary(draft.header).model_dump(), lines=[line_out(line) for line in draft.lines])


def run_out(result: RunResult) -> RunOut:
    return RunOut(
        period=str(result.period),
        drafts=[summary(h) for h in result.drafts],
        unresolved=[unresolved_out(u) for u in result.unresolved],
        skipped=result.skipped,
    )


def unresolved_out(u: Unresolved) -> UnresolvedOut:
    return UnresolvedOut(noteId=u.note_id, field=u.field, reason=u.reason)
