"""The concept PDF prints any stored draft, within a budget that it states (issue 16, item 3)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pypdf
import pytest
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.invoicing.directory import Customer
from shared.invoicing.ledger import OPEN, DraftHeader, Totals
from shared.invoicing.pdf import TABLE_LINES, render
from shared.invoicing.pdf_table import FONTS
from shared.invoicing.pdf_text import CELL_LINES, REPLACEMENT, Metrics
from shared.invoicing.planning import Line, LineKind, Period
from shared.invoicing.service import Draft

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HINT_MAX = 1000  # shared/connector/schemas.py: hint is `Text` (shared/validation.py)
USER_MAX = 256  # username is `ShortText`


def line(hint: str, user: str = "lukasz", kind: LineKind = "time", amount: str = "95.00") -> Line:
    rate = Decimal("95.00") if kind == "time" else Decimal("25")
    return Line(
        kind, "n1", date(2026, 10, 5), 4711, user, hint, 60, Decimal("1.00"), rate, Decimal(amount), "P1", 1, ""
    )


def draft(*lines: Line, notes: int | None = None) -> Draft:
    amounts = sum((x.amount for x in lines), Decimal("0.00"))
    totals = Totals(
        minutes=60 * len(lines), time=amounts, notes=len(lines) if notes is None else notes, lines=len(lines)
    )
    period = Period(2026, 10)
    customer = Customer(1, "Łukasz & Söhne GmbH", 5001, "ap@example.com", "EUR")
    return Draft(DraftHeader("acme", 17, OPEN, customer, period, period, NOW, NOW, totals), lines)


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_a_hint_of_60_lines_prints_every_line_over_as_many_pages_as_it_needs() -> None:
    """Was: 500 "The row with index 1 is too high and cannot be rendered on a single page"."""
    hint = "\n".join(f"step {i:02d} done" for i in range(60))
    assert len(hint) <= HINT_MAX

    pages = pages_of(render(draft(line("Before"), line(hint), line("After")), created=NOW))

    text = "\n".join(pages)
    assert len(pages) == 2
    for i in range(60):
        assert f"step {i:02d} done" in text
    assert text.index("Before") < text.index("step 00") < text.index("step 59") < text.index("After")
    assert "Total (net, EUR) 285.00" in text
    assert "not shown" not in text


def test_a_draft_of_2000_notes_with_maximum_length_texts_prints_within_its_budget_and_says_what_it_left_out() -> None:
    """Was: 47.7 s for one PDF (bench/pdf.py prints the time now). The totals stay the whole draft's."""
    hint = ("Replaced the failing disk in the mail server and checked the backups. " * 20)[:HINT_MAX]
    user = ("Łukasz Müller-Lüdenscheidt " * 10)[:USER_MAX]
    lines = [line(f"{i:04d} {hint}"[:HINT_MAX], user) for i in range(2000)]

    pages = pages_of(render(draft(*lines), created=NOW))

    text = "\n".join(pages)
    first = re.search(
        r"This concept shows the first (\d+) of the draft's 2,000 lines \(at most ([\d,]+) printed", pages[0]
    )
    assert first, pages[0]
    shown = int(first[1])
    assert first[2] == f"{TABLE_LINES:,}"
    assert 10 < shown < 2000
    assert f"… {2000 - shown:,} more lines not shown (2,000 in all); the draft's JSON" in text
    assert "GET invoicing/drafts/17" in text
    assert f"{shown - 1:04d} Replaced" in text  # whole rows, in order
    assert f"{shown:04d} Replaced" not in text
    assert "Total (net, EUR) 190,000.00" in pages[-1]  # 2,000 x 95.00: the whole draft
    assert len(pages) <= TABLE_LINES // 40


def fragments(pdf: bytes) -> list[tuple[int, float, float, str]]:
    """(page, x from the left in mm, width in mm, text) of every piece of text the PDF places."""
    found: list[tuple[int, float, float, str]] = []
    measure = FPDF(unit="mm")
    measure.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    for number, page in enumerate(pypdf.PdfReader(io.BytesIO(pdf)).pages):

        def visit(text: str, cm: list[float], tm: list[float], font: object, size: float, number: int = number) -> None:
            if text.strip():
                measure.set_font("DejaVu", "", size)
                found.append((number, tm[4] / 72 * 25.4, measure.get_string_width(text.strip()), text.strip()))

        page.extract_text(visitor_text=visit)
    return found


def test_unbroken_words_wrap_inside_their_columns_even_in_a_row_taller_than_a_page() -> None:
    words = [f"{i:02d}" + "W" * 47 for i in range(20)]  # 20 x 50 = 1,000 characters, no spaces
    user = "Ł" * USER_MAX

    placed = fragments(render(draft(line("\n".join(words), user)), created=NOW))

    description = [(page, x, width, text) for page, x, width, text in placed if re.fullmatch(r"\d*W+", text)]
    users = [(x, width, text) for _, x, width, text in placed if text and not text.strip("Ł")]
    hours = min(x for _, x, _, text in placed if text == "1.00")
    assert {page for page, *_ in description} == {0, 1}  # the row goes on over the page break
    assert all(x + width < hours for _, x, width, _ in description), "a word printed into the next column"
    assert all(x + width < description[0][1] for x, width, _ in users), "the user's name printed into the next column"
    assert "".join(text for *_, text in description) == "".join(words)
    assert "".join(text for *_, text in users) == user
    assert len(users) > 1


def test_characters_the_fonts_lack_print_as_a_replacement_mark_instead_of_vanishing() -> None:
    """Was: fpdf2 logged "missing glyphs" and dropped them, so the line read "bad " (a lone surrogate
    crashed other renderers outright)."""
    hint = "bad \udc80 and 中文 and ok ✓\r\nsecond\tline"

    text = "\n".join(pages_of(render(draft(line(hint, user="Łukasz \udc80")), created=NOW)))

    assert f"bad {REPLACEMENT} and {REPLACEMENT}{REPLACEMENT} and ok ✓" in text
    assert "second line" in text
    assert f"Łukasz {REPLACEMENT}" in text


def test_a_text_longer_than_a_column_may_take_says_how_much_it_left_out() -> None:
    hint = "\n" * 900 + "the end"  # stored before the 1,000-character rule, or by an import

    text = "\n".join(pages_of(render(draft(line(hint), line("After")), created=NOW)))

    assert f"[… {900 - CELL_LINES + 1 + len('the end'):,} more characters]" in text
    assert f"A text longer than {CELL_LINES} printed lines ends in" in text
    assert "After" in text


@pytest.fixture(scope="module")
def metrics() -> Metrics:
    pdf = FPDF(unit="mm")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    return Metrics.of(pdf, "DejaVu", ("", "B"))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=600), width=st.floats(2.0, 80.0))
def test_any_text_wraps_to_its_width_and_keeps_every_shown_character(metrics: Metrics, text: str, width: float) -> None:
    lines = metrics.fit(text, width, 8.0)

    assert 1 <= len(lines) <= CELL_LINES
    assert all(len(printed) == 1 or metrics.width(printed, 8.0) <= width + 1e-9 for printed in lines)
    assert all(ord(c) in metrics.shown for printed in lines for c in printed)
    if not lines[-1].startswith("[… "):  # not cut: only line breaks and the spaces they replace are gone
        assert "".join("".join(lines).split()) == "".join(metrics.clean(text).split())
