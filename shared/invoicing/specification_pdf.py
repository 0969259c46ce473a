"""The specification as PDF: per draft a heading, the notes behind it (date, time, user, ticket,
contract, worked minutes, pause, billed minutes, rate, amount, text), its other (manual) lines, and
its totals. A4 landscape, DejaVu Sans as the concept invoice (`pdf_table.py`, fonts and licence there).

Bounded as the concept invoice is (issue 16): each cell takes at most `CELL_LINES` printed lines
(`pdf_text.py`), and all tables together at most `TABLE_LINES` printed lines. Rows beyond that are
left out, in order, and the document says so on its first page and where they are missing; every
draft's heading and totals are always printed (at most 100 drafts), and the CSV has every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from fpdf import FPDF

from shared.invoicing.ledger import invoice_number
from shared.invoicing.pdf_table import Budget, Columns, Row, TableStyle, draw, money, start
from shared.invoicing.pdf_text import Metrics
from shared.invoicing.specification import DraftSpecification, NoteRow, OtherRow
from shared.work import hours

TABLE_LINES: Final = 2_500
"""Printed table lines in the whole document (about 40 to a landscape page)."""

_BOTTOM = 14.0
_STYLE: Final = TableStyle(size=7.5, leading=4.2, pad=0.8, baseline=3.1, bottom=_BOTTOM, gap=1.5)
NOTE_COLUMNS: Final[Columns] = (
    ("Date", 17.0, False),
    ("Time", 27.0, False),
    ("User", 26.0, False),
    ("Ticket", 15.0, False),
    ("Contract", 15.0, False),
    ("Minutes", 14.0, True),
    ("Pause", 12.0, True),
    ("Billed", 13.0, True),
    ("Rate", 17.0, True),
    ("Amount", 21.0, True),
    ("Text", 100.0, False),
)
OTHER_COLUMNS: Final[Columns] = (
    ("Other line", 150.0, False),
    ("Product", 30.0, False),
    ("Quantity", 25.0, True),
    ("Unit price", 30.0, True),
    ("Amount", 42.0, True),
)


class _Document(FPDF):
    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("DejaVu", "", 7)
        self.cell(0, 5, f"Specification of hours · page {self.page_no()}/{{nb}}", align="C")


def _note_cells(n: NoteRow) -> tuple[str, ...]:
    end = n.end.strftime("%H:%M")
    if n.end.date() != n.start.date():
        end += f" ({n.end.date().isoformat()})"
    amount = money(n.amount)
    if n.surcharge is not None and n.surcharge_percent is not None:
        amount += f" + {money(n.surcharge)}"
    return (
        n.start.date().isoformat(),
        f"{n.start.strftime('%H:%M')}–{end}",
        n.user,
        "" if n.ticket_id is None else str(n.ticket_id),
        str(n.contract_id),
        str(n.minutes),
        str(n.pause),
        str(n.billable_minutes),
        money(n.rate),
        amount,
        n.text or "—",
    )


def _other_cells(o: OtherRow) -> tuple[str, ...]:
    return (o.description, o.product_number, f"{o.quantity:f}", money(o.unit_price), money(o.amount))


def render_specification(drafts: Sequence[DraftSpecification], *, created: datetime) -> bytes:
    title = (
        f"Specification of hours — draft {drafts[0].header.number}"
        if len(drafts) == 1
        else f"Specification of hours — {len(drafts)} drafts"
    )
    pdf = _Document(orientation="L", unit="mm", format="A4")
    pdf.set_margins(10, 10, 10)
    text = start(pdf, title=title, created=created, bottom=_BOTTOM)
    budget = Budget(text, TABLE_LINES, _STYLE)
    laid_out = []
    for spec in drafts:  # wrapped first, so the first page can say what is left out
        notes = budget.fit(spec.notes, _note_cells, NOTE_COLUMNS)
        other = budget.fit(spec.other, _other_cells, OTHER_COLUMNS)
        laid_out.append((spec, notes, other))
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(
        0,
        4.5,
        "Per position note: start date and time (DEFAULT_TIMEZONE), user, ticket, service contract, worked minutes "
        "(span less pause), pause, billed minutes (rounded up to the contract's increment), hourly rate, amount "
        "(+ surcharge) and the note's text. Amounts without VAT.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if budget.omitted:
        pdf.set_font("DejaVu", "B", 9)
        pdf.set_text_color(180, 0, 0)
        pdf.multi_cell(
            0,
            5,
            f"{budget.omitted:,} rows are not shown (at most {TABLE_LINES:,} printed table lines); "
            "the CSV (format=csv) has every row.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_text_color(0, 0, 0)
    for spec, notes, other in laid_out:
        _draft(pdf, text, spec, notes, other)
    return bytes(pdf.output())


def _draft(pdf: FPDF, text: Metrics, spec: DraftSpecification, notes: list[Row], other: list[Row]) -> None:
    header = spec.header
    if pdf.get_y() > pdf.h - _BOTTOM - 30:
        pdf.add_page()
    pdf.ln(3)
    number = invoice_number(header)
    period = (
        str(header.period_from)
        if header.period_from == header.period_to
        else f"{header.period_from} – {header.period_to}"
    )
    booked = f", invoice {number}" if number else ""
    customer = header.customer
    _paragraph(
        pdf,
        text,
        f"Draft {header.number}{booked} · {customer.name} (customer {customer.customer_id}) · {period} · "
        f"{header.status}",
        size=11,
        bold=True,
    )
    if spec.notes:
        _table(pdf, notes, NOTE_COLUMNS)
    if len(notes) < len(spec.notes):
        _left_out(pdf, text, f"… {len(spec.notes) - len(notes):,} of the draft's {len(spec.notes):,} notes not shown.")
    if spec.other:
        _table(pdf, other, OTHER_COLUMNS)
    if len(other) < len(spec.other):
        _left_out(pdf, text, f"… {len(spec.other) - len(other):,} of the draft's other lines not shown.")
    totals = header.totals
    currency = text.clip(customer.currency, 10)
    _paragraph(
        pdf,
        text,
        f"{len(spec.notes):,} notes: {spec.minutes:,} minutes worked, {spec.pause:,} minutes pause, "
        f"{spec.billable_minutes:,} minutes billed ({hours(spec.billable_minutes):f} h). "
        f"Draft total (net, {currency}): {money(totals.net)}.",
        size=8,
    )


def _left_out(pdf: FPDF, text: Metrics, message: str) -> None:
    _paragraph(pdf, text, message + " The CSV (format=csv) has every row.", size=8, bold=True)


def _paragraph(pdf: FPDF, text: Metrics, message: str, *, size: float, bold: bool = False) -> None:
    """`message` wrapped with the cheap wrapper of `pdf_text` (fpdf2's `multi_cell` costs about 10 ms
    per 1,000 characters: too much for 100 drafts' headings), at most 4 printed lines."""
    leading = size * 0.5
    # Widths are the regular style's; bold runs up to about 10 % wider, so it wraps earlier.
    width = (pdf.w - pdf.l_margin - pdf.r_margin) * (0.88 if bold else 1.0)
    pdf.set_font("DejaVu", "B" if bold else "", size)
    y = pdf.get_y()
    for line in text.fit(message, width, size, lines=4):
        if y + leading > pdf.h - _BOTTOM:
            pdf.add_page()
            pdf.set_font("DejaVu", "B" if bold else "", size)
            y = pdf.get_y()
        pdf.text(pdf.l_margin, y + leading * 0.75, line)
        y += leading
    pdf.set_y(y + 0.5)


def _table(pdf: FPDF, rows: list[Row], columns: Columns) -> None:
    """A table that starts on the next page when its heading and one line would not fit on this one."""
    if pdf.get_y() + 2 * _STYLE.leading > pdf.h - _BOTTOM:
        pdf.add_page()
    draw(pdf, rows, columns, _STYLE)
