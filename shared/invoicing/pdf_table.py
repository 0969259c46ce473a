"""The table both PDFs print (the concept invoice, `pdf.py`, and the specification, `specification_pdf.py`):
the document set up in DejaVu Sans, rows wrapped within a budget of printed lines, and the rows placed
line by line.

Text is set in DejaVu Sans, bundled in `fonts/` (Bitstream Vera licence with public-domain DejaVu
changes: free to redistribute, see fonts/LICENSE), because the PDF core fonts cover latin-1 only and
customer and user names do not ("Łukasz", "€"). Rows are placed with `FPDF.text` (cheap: no cell
measuring; fpdf2's `table` measures every row and refuses one taller than a page, issue 16), and a
row taller than what is left of a page continues on the next, below the repeated heading. Each
document keeps its own budgets (`TABLE_LINES`) and sizes; this module only spends them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from fpdf import FPDF

from shared.invoicing.pdf_text import Metrics

FONTS = Path(__file__).resolve().parent / "fonts"
Columns = tuple[tuple[str, float, bool], ...]
"""Per column: title, width in mm, right-aligned."""
Row = list[list[str]]
"""Per column: its text's printed lines."""
T = TypeVar("T")


@dataclass(frozen=True)
class TableStyle:
    size: float
    """Points, the table's text."""
    leading: float
    """mm per printed line."""
    pad: float
    """mm around a column's text."""
    baseline: float
    """mm from a printed line's top to its baseline."""
    bottom: float
    """mm kept free for the footer (the document's automatic page break margin too)."""
    gap: float
    """mm left below the table."""


def money(value: Decimal) -> str:
    """An amount as both documents print it: thousands separated, two decimals."""
    return f"{value:,.2f}"


def start(pdf: FPDF, *, title: str, created: datetime, bottom: float) -> Metrics:
    """Adds the fonts, the document's title and creation date and its bottom margin; no page yet."""
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    text = Metrics.of(pdf, "DejaVu", ("", "B"))
    pdf.set_title(title)
    pdf.set_creator("Invoice Bridge")
    pdf.set_creation_date(created)
    pdf.set_auto_page_break(auto=True, margin=bottom)
    return text


class Budget:
    """Printed table lines left for the whole document, and how many rows did not fit."""

    def __init__(self, text: Metrics, lines: int, style: TableStyle) -> None:
        self.text = text
        self.left = lines
        self.omitted = 0
        self._style = style

    def fit(self, items: Sequence[T], cells: Callable[[T], tuple[str, ...]], columns: Columns) -> list[Row]:
        """Each item's cells wrapped, for as many items (in order) as the budget holds; counts the rest.
        Stops at the first that does not fit, so only what is shown is ever formatted or wrapped."""
        size, pad = self._style.size, self._style.pad
        rows: list[Row] = []
        for index, item in enumerate(items):
            if self.left == 0:
                self.omitted += len(items) - index
                break
            shown = zip(cells(item), columns, strict=True)
            row = [self.text.fit(cell, width - 2 * pad, size) for cell, (_, width, _) in shown]
            height = max(len(column) for column in row)
            if height > self.left:
                self.left = 0
                self.omitted += len(items) - index
                break
            self.left -= height
            rows.append(row)
        return rows


def draw(pdf: FPDF, rows: list[Row], columns: Columns, style: TableStyle) -> None:
    """The heading at the current position, then the rows, each with a line below it; on a new page
    the heading is repeated. Leaves the position `style.gap` below the table."""
    bottom = pdf.h - style.bottom
    pad, leading, baseline = style.pad, style.leading, style.baseline  # read once: the loop runs per printed line
    width = sum(w for _, w, _ in columns)
    y = _heading(pdf, pdf.get_y(), columns, width, style)
    pdf.set_font("DejaVu", "", style.size)
    for row in rows:
        if y + pad + leading > bottom:
            y = _new_page(pdf, columns, width, style)
        y += pad
        for index in range(max(len(column) for column in row)):
            if y + leading > bottom:
                y = _new_page(pdf, columns, width, style)
            x = pdf.l_margin
            for column, (_, col_width, right) in zip(row, columns, strict=True):
                if index < len(column) and column[index]:
                    printed = column[index]
                    left = x + col_width - pad - pdf.get_string_width(printed) if right else x + pad
                    pdf.text(left, y + baseline, printed)
                x += col_width
            y += leading
        y += pad
        pdf.line(pdf.l_margin, y, pdf.l_margin + width, y)
    pdf.set_y(y + style.gap)


def _new_page(pdf: FPDF, columns: Columns, width: float, style: TableStyle) -> float:
    pdf.add_page()
    y = _heading(pdf, pdf.get_y(), columns, width, style)
    pdf.set_font("DejaVu", "", style.size)
    return y


def _heading(pdf: FPDF, y: float, columns: Columns, width: float, style: TableStyle) -> float:
    pdf.set_font("DejaVu", "B", style.size)
    x = pdf.l_margin
    for title, col_width, right in columns:
        left = x + col_width - style.pad - pdf.get_string_width(title) if right else x + style.pad
        pdf.text(left, y + style.pad + style.baseline, title)
        x += col_width
    y += style.leading + 2 * style.pad
    pdf.line(pdf.l_margin, y, pdf.l_margin + width, y)
    return y
