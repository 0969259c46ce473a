"""The concept invoice: a PDF of a draft, clearly marked as not being an invoice.

Text is set in DejaVu Sans; the set-up and the table are `pdf_table.py`'s, shared with the specification.

The cost of a document is bounded whatever the draft holds (issue 16): each column's text in a row
takes at most `CELL_LINES` printed lines (`pdf_text.py`), and the table at most `TABLE_LINES`
printed lines in all (45 to 65 pages; bench/pdf.py: about 0.3 to 0.5 s). Lines beyond that are
left out, and the document says so on its first page and below the table; the totals are always
the whole draft's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from fpdf import FPDF

from shared.invoicing.ledger import invoice_number
from shared.invoicing.pdf_table import Budget, Columns, TableStyle, draw, money, start
from shared.invoicing.pdf_text import CELL_LINES, Metrics
from shared.invoicing.planning import Line
from shared.invoicing.service import Draft

CONCEPT_MARK = "CONCEPT — not an invoice"
TABLE_LINES: Final = 2_500
"""Printed lines of the table, all rows together (38 to 57 to a page). Rows are shown whole, in
order, while they fit: 2,500 one-line rows fit; of 2,000 notes with 1,000-character texts, the
first 100 or so do."""

_BOTTOM = 16.0  # mm kept free for the footer
_STYLE: Final = TableStyle(size=8.0, leading=4.5, pad=1.0, baseline=3.3, bottom=_BOTTOM, gap=2.0)
_COLUMNS: Final[Columns] = (
    ("Date", 19.0, False),
    ("Ticket", 20.0, False),
    ("User", 24.0, False),
    ("Description", 69.0, False),
    ("Hours", 14.0, True),
    ("Rate", 19.0, True),
    ("Amount", 25.0, True),
)


class _Concept(FPDF):
    def header(self) -> None:
        self.set_font("DejaVu", "B", 9)
        self.set_text_color(180, 0, 0)
        self.cell(0, 6, CONCEPT_MARK, align="R", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", "", 8)
        self.cell(0, 6, f"{CONCEPT_MARK} · page {self.page_no()}/{{nb}}", align="C")


def render(draft: Draft, *, created: datetime) -> bytes:
    header = draft.header
    customer = header.customer
    booked = header.accounting.booked if header.status == "booked" else None
    number = invoice_number(header)
    title = f"Invoice {number} (draft {header.number})" if number else f"Concept invoice — draft {header.number}"
    pdf = _Concept(orientation="P", unit="mm", format="A4")
    text = start(pdf, title=title, created=created, bottom=_BOTTOM)
    budget = Budget(text, TABLE_LINES, _STYLE)
    rows = budget.fit(draft.lines, _cells, _COLUMNS)
    left_out = budget.omitted
    pdf.add_page()

    pdf.set_font("DejaVu", "B", 18)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 11)
    pdf.set_text_color(180, 0, 0)
    note = (
        f"{CONCEPT_MARK}. Booked in e-conomic as invoice {number}; the invoice itself is e-conomic's."
        if number
        else f"{CONCEPT_MARK}. The invoice itself is created in the accounting system."
    )
    pdf.multi_cell(0, 6, note, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    period = (
        str(header.period_from)
        if header.period_from == header.period_to
        else f"{header.period_from} – {header.period_to}"
    )
    pdf.set_font("DejaVu", "", 10)
    accounting = f", e-conomic {customer.accounting_system_id}" if customer.accounting_system_id else ""
    for label, value in (
        ("Customer", f"{text.clip(customer.name, 300)} (customer {customer.customer_id}{accounting})"),
        ("Billing e-mail", text.clip(customer.billing_email, 300)),
        ("Period", period),
        ("Currency", text.clip(customer.currency, 10)),
        ("Status", header.status),
        *_booked_rows(booked, text),
    ):
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(32, 6, label)
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    if left_out:
        pdf.set_font("DejaVu", "B", 10)
        pdf.set_text_color(180, 0, 0)
        pdf.multi_cell(0, 6, _omission(len(rows), len(draft.lines), header.number), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(3)

    draw(pdf, rows, _COLUMNS, _STYLE)

    pdf.set_font("DejaVu", "", 8)
    if left_out:
        pdf.set_font("DejaVu", "B", 9)
        pdf.multi_cell(
            0,
            5,
            f"… {left_out:,} more lines not shown ({len(draft.lines):,} in all); "
            f"the draft's JSON (GET invoicing/drafts/{header.number}) has them all.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    totals = draft.totals
    pdf.ln(3)
    for label, value in (
        ("Time", money(totals.time)),
        ("Surcharges", money(totals.surcharges)),
        (f"Total (net, {text.clip(customer.currency, 10)})", money(totals.net)),
    ):
        pdf.set_font("DejaVu", "B" if label.startswith("Total") else "", 10)
        pdf.cell(150, 6, label, align="R")
        pdf.cell(0, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    pdf.ln(2)
    cut = f" A text longer than {CELL_LINES} printed lines ends in “[… N more characters]”." if text.cut else ""
    pdf.multi_cell(
        0,
        5,
        f"{totals.notes} position notes, {totals.minutes} minutes. Amounts without VAT.{cut}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())


def _omission(shown: int, total: int, draft: int) -> str:
    return (
        f"This concept shows the first {shown:,} of the draft's {total:,} lines (at most {TABLE_LINES:,} "
        f"printed lines); the draft's JSON (GET invoicing/drafts/{draft}) has them all. "
        "The totals are the whole draft's."
    )


def _booked_rows(booked: object, text: Metrics) -> list[tuple[str, str]]:
    if not isinstance(booked, dict):
        return []
    rows = [("Invoice number", text.clip(str(booked.get("invoiceNumber")), 40))]
    if booked.get("date"):
        rows.append(("Invoice date", text.clip(str(booked["date"]), 40)))
    if booked.get("grossAmount") is not None:
        total = money(Decimal(str(booked["grossAmount"])))
        currency = text.clip(str(booked.get("currency") or ""), 10)
        rows.append(("Booked total", f"{total} {currency}".rstrip() + " incl. VAT"))
    return rows


def _cells(line: Line) -> tuple[str, ...]:
    if line.kind == "manual":  # quantity in the hours column, unit price as the rate
        return ("", "", "", line.description, f"{line.quantity:f}", f"{line.unit_price:.2f}", money(line.amount))
    return (
        line.date.isoformat(),
        str(line.ticket_id) if line.ticket_id is not None else "",
        line.user,
        line.description  # changed by hand: what the customer will read
        if line.edited
        else f"Surcharge {line.rate.normalize():f} %: {line.hint or '—'}"
        if line.kind == "surcharge"
        else (line.hint or "—"),
        f"{line.hours:.2f}" if line.kind == "time" else "",
        f"{line.rate:.2f}" if line.kind == "time" else f"{line.rate.normalize():f} %",
        money(line.amount),
    )
