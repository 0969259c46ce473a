"""The concept invoice: a PDF of a draft, clearly marked as not being an invoice.

Text is set in DejaVu Sans, bundled in `fonts/` (Bitstream Vera licence with public-domain DejaVu
changes: free to redistribute, see fonts/LICENSE), because the PDF core fonts cover latin-1 only and
customer and user names do not ("Łukasz", "€").
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from shared.invoicing.ledger import invoice_number
from shared.invoicing.planning import Line
from shared.invoicing.service import Draft

FONTS = Path(__file__).resolve().parent / "fonts"
CONCEPT_MARK = "CONCEPT — not an invoice"


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


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
    pdf = _Concept(orientation="P", unit="mm", format="A4")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    booked = header.accounting.booked if header.status == "booked" else None
    number = invoice_number(header)
    title = f"Invoice {number} (draft {header.number})" if number else f"Concept invoice — draft {header.number}"
    pdf.set_title(title)
    pdf.set_creator("Invoice Bridge")
    pdf.set_creation_date(created)
    pdf.set_auto_page_break(auto=True, margin=16)
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
        ("Customer", f"{customer.name} (customer {customer.customer_id}{accounting})"),
        ("Billing e-mail", customer.billing_email),
        ("Period", period),
        ("Currency", customer.currency),
        ("Status", header.status),
        *_booked_rows(booked),
    ):
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(32, 6, label)
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    pdf.set_font("DejaVu", "", 8)
    with pdf.table(
        col_widths=(18, 14, 20, 58, 14, 18, 22),
        text_align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD"),
        line_height=4.5,
        padding=1,
    ) as table:
        heading = table.row()
        for title in ("Date", "Ticket", "User", "Description", "Hours", "Rate", "Amount"):
            heading.cell(title)
        for line in draft.lines:
            _line_row(table.row(), line)

    totals = draft.totals
    pdf.ln(3)
    for label, value in (
        ("Time", _money(totals.time)),
        ("Surcharges", _money(totals.surcharges)),
        (f"Total (net, {customer.currency})", _money(totals.net)),
    ):
        pdf.set_font("DejaVu", "B" if label.startswith("Total") else "", 10)
        pdf.cell(150, 6, label, align="R")
        pdf.cell(0, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    pdf.ln(2)
    pdf.cell(0, 5, f"{totals.notes} position notes, {totals.minutes} minutes. Amounts without VAT.")
    return bytes(pdf.output())


def _booked_rows(booked: object) -> list[tuple[str, str]]:
    if not isinstance(booked, dict):
        return []
    rows = [("Invoice number", str(booked.get("invoiceNumber")))]
    if booked.get("date"):
        rows.append(("Invoice date", str(booked["date"])))
    if booked.get("grossAmount") is not None:
        total = _money(Decimal(str(booked["grossAmount"])))
        rows.append(("Booked total", f"{total} {booked.get('currency') or ''}".rstrip() + " incl. VAT"))
    return rows


def _line_row(row: object, line: Line) -> None:
    cells = (
        line.date.isoformat(),
        str(line.ticket_id) if line.ticket_id is not None else "",
        line.user,
        f"Surcharge {line.rate.normalize():f} %: {line.hint or '—'}"
        if line.kind == "surcharge"
        else (line.hint or "—"),
        f"{line.hours:.2f}" if line.kind == "time" else "",
        f"{line.rate:.2f}" if line.kind == "time" else f"{line.rate.normalize():f} %",
        _money(line.amount),
    )
    for text in cells:
        row.cell(text)  # type: ignore[attr-defined]
