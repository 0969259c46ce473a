"""The concept invoice: a PDF of a draft, clearly marked as not being an invoice.

Text is set in DejaVu Sans, bundled in `fonts/` (Bitstream Vera licence with public-domain DejaVu
changes: free to redistribute, see fonts/LICENSE), because the PDF core fonts cover latin-1 only and
customer and user names do not ("Łukasz", "€"). Characters DejaVu lacks print as U+FFFD.

The cost of a document is bounded whatever the draft holds (issue 16): each column's text in a row
takes at most `CELL_LINES` printed lines (`pdf_text.py`), and the table at most `TABLE_LINES`
printed lines in all (45 to 65 pages; bench/pdf.py: about 0.3 to 0.5 s). Lines beyond that are
left out, and the document says so on its first page and below the table; the totals are always
the whole draft's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Final

from fpdf import FPDF

from shared.invoicing.ledger import invoice_number
from shared.invoicing.pdf_text import CELL_LINES, Metrics
from shared.invoicing.planning import Line
from shared.invoicing.service import Draft

FONTS = Path(__file__).resolve().parent / "fonts"
CONCEPT_MARK = "CONCEPT — not an invoice"
TABLE_LINES: Final = 2_500
"""Printed lines of the table, all rows together (38 to 57 to a page). Rows are shown whole, in
order, while they fit: 2,500 one-line rows fit; of 2,000 notes with 1,000-character texts, the
first 100 or so do."""

_SIZE = 8.0  # points, the table's text
_LEADING = 4.5  # mm per printed line
_PAD = 1.0  # mm around a column's text
_BASELINE = 3.3  # mm from a printed line's top to its baseline
_BOTTOM = 16.0  # mm kept free for the footer
_COLUMNS: Final = (  # title, width in mm, right-aligned
    ("Date", 19.0, False),
    ("Ticket", 20.0, False),
    ("User", 24.0, False),
    ("Description", 69.0, False),
    ("Hours", 14.0, True),
    ("Rate", 19.0, True),
    ("Amount", 25.0, True),
)


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
    text = Metrics.of(pdf, "DejaVu", ("", "B"))
    rows = _fit_rows(draft.lines, text)
    left_out = len(draft.lines) - len(rows)
    booked = header.accounting.booked if header.status == "booked" else None
    number = invoice_number(header)
    title = f"Invoice {number} (draft {header.number})" if number else f"Concept invoice — draft {header.number}"
    pdf.set_title(title)
    pdf.set_creator("Invoice Bridge")
    pdf.set_creation_date(created)
    pdf.set_auto_page_break(auto=True, margin=_BOTTOM)
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

    _table(pdf, rows)

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
        ("Time", _money(totals.time)),
        ("Surcharges", _money(totals.surcharges)),
        (f"Total (net, {text.clip(customer.currency, 10)})", _money(totals.net)),
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
        total = _money(Decimal(str(booked["grossAmount"])))
        currency = text.clip(str(booked.get("currency") or ""), 10)
        rows.append(("Booked total", f"{total} {currency}".rstrip() + " incl. VAT"))
    return rows


def _cells(line: Line) -> tuple[str, ...]:
    if line.kind == "manual":  # quantity in the hours column, unit price as the rate
        return ("", "", "", line.description, f"{line.quantity:f}", f"{line.unit_price:.2f}", _money(line.amount))
    return (
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


def _fit_rows(lines: tuple[Line, ...], text: Metrics) -> list[list[list[str]]]:
    """Each line's columns, wrapped, for as many lines (in order) as fit `TABLE_LINES` printed lines.
    Stops at the first that does not fit, so only what is shown is ever wrapped."""
    rows: list[list[list[str]]] = []
    budget = TABLE_LINES
    for line in lines:
        row = [
            text.fit(cell, width - 2 * _PAD, _SIZE) for cell, (_, width, _) in zip(_cells(line), _COLUMNS, strict=True)
        ]
        height = max(len(column) for column in row)
        if height > budget:
            break
        budget -= height
        rows.append(row)
    return rows


def _table(pdf: FPDF, rows: list[list[list[str]]]) -> None:
    """The rows, placed line by line with `FPDF.text` (cheap: no cell measuring); a row taller than
    what is left of a page continues on the next, below the repeated heading."""
    bottom = pdf.h - _BOTTOM
    y = _heading(pdf, pdf.get_y())
    pdf.set_font("DejaVu", "", _SIZE)
    for row in rows:
        if y + _PAD + _LEADING > bottom:
            y = _new_page(pdf)
        y += _PAD
        for index in range(max(len(column) for column in row)):
            if y + _LEADING > bottom:
                y = _new_page(pdf)
            x = pdf.l_margin
            for column, (_, width, right) in zip(row, _COLUMNS, strict=True):
                if index < len(column) and column[index]:
                    printed = column[index]
                    left = x + width - _PAD - pdf.get_string_width(printed) if right else x + _PAD
                    pdf.text(left, y + _BASELINE, printed)
                x += width
            y += _LEADING
        y += _PAD
        pdf.line(pdf.l_margin, y, pdf.l_margin + _table_width(), y)
    pdf.set_y(y + 2)


def _new_page(pdf: FPDF) -> float:
    pdf.add_page()
    y = _heading(pdf, pdf.get_y())
    pdf.set_font("DejaVu", "", _SIZE)
    return y


def _heading(pdf: FPDF, y: float) -> float:
    pdf.set_font("DejaVu", "B", _SIZE)
    x = pdf.l_margin
    for title, width, right in _COLUMNS:
        left = x + width - _PAD - pdf.get_string_width(title) if right else x + _PAD
        pdf.text(left, y + _PAD + _BASELINE, title)
        x += width
    y += _LEADING + 2 * _PAD
    pdf.line(pdf.l_margin, y, pdf.l_margin + _table_width(), y)
    return y


def _table_width() -> float:
    return sum(width for _, width, _ in _COLUMNS)
