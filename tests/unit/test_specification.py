"""The specification's renderers: CSV quoting and formula guard, and a PDF that stays bounded however
many notes and however long their texts (issue 17; the budgets as the concept invoice's, issue 16)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pypdf
import pytest

from shared.errors import Rejected
from shared.invoicing import editing, specification
from shared.invoicing.directory import Customer
from shared.invoicing.editing import LineSpec, version_tag
from shared.invoicing.ledger import OPEN, DraftHeader, Totals
from shared.invoicing.planning import Period
from shared.invoicing.specification import DraftSpecification, NoteRow, OtherRow, Specifications
from shared.invoicing.specification_csv import COLUMNS, guarded, render_csv
from shared.invoicing.specification_pdf import TABLE_LINES, render_specification
from tests.support.fakes import FakeClock, FakeLedger
from tests.support.invoicing import BERLIN, note
from tests.unit.test_invoicing import service
from tests.unit.test_line_editing import _world as editing_world

START = datetime(2026, 10, 5, 8, 0, tzinfo=BERLIN)


def header(number: int = 1) -> DraftHeader:
    return DraftHeader(
        tenant="acme",
        number=number,
        status=OPEN,
        customer=Customer(1, "Søren & Co", 5001, "b@example.com", "DKK"),
        period_from=Period(2026, 10),
        period_to=Period(2026, 10),
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        updated_at=datetime(2026, 11, 1, tzinfo=UTC),
        totals=Totals(minutes=60, time=Decimal("90.00"), notes=1, lines=1),
    )


def row(i: int, text: str = "work") -> NoteRow:
    start = START + timedelta(hours=i)
    return NoteRow(
        note_id=f"n{i}",
        start=start,
        end=start + timedelta(minutes=75),
        user="anna",
        ticket_id=4711,
        contract_id=12,
        minutes=60,
        pause=15,
        billable_minutes=60,
        rate=Decimal("90.00"),
        amount=Decimal("90.00"),
        surcharge_percent=None,
        surcharge=None,
        product_number="P1",
        text=text,
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+49 123", "'+49 123"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain = text", "plain = text"),
        ("", ""),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_shown_as_text(text: str, shown: str) -> None:
    assert guarded(text) == shown


def test_csv_quotes_by_rfc_4180_and_writes_manual_lines_with_their_quantity() -> None:
    other = OtherRow('Travel, "flat"', Decimal("-1.00"), Decimal("45.50"), Decimal("-45.50"), "KM")
    spec = DraftSpecification(header(), (row(0, 'a "b", c\nd'),), (other,))

    data = render_csv([spec])

    assert data.startswith(b"draftId,customerId,customer,kind,")
    assert b'"a ""b"", c\nd"' in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert list(rows[0]) == list(COLUMNS)
    assert [(r["kind"], r["quantity"], r["unitPrice"], r["amount"], r["text"]) for r in rows] == [
        ("note", "", "", "90.00", 'a "b", c\nd'),
        ("manual", "-1.00", "45.50", "-45.50", 'Travel, "flat"'),  # our numbers are not guarded
    ]


def test_a_huge_specification_prints_within_the_budget_and_says_what_it_left_out() -> None:
    notes = tuple(row(i, "long text " * 100) for i in range(3_000))
    specs = [DraftSpecification(header(1), notes), DraftSpecification(header(2), (row(0),))]

    pdf = pypdf.PdfReader(io.BytesIO(render_specification(specs, created=datetime(2026, 11, 1, tzinfo=UTC))))

    first = pdf.pages[0].extract_text()
    assert "rows are not shown" in first
    assert f"at most {TABLE_LINES:,} printed table lines" in first
    assert len(pdf.pages) < 120  # 2,500 printed lines at about 40 a page, and the headings
    last = pdf.pages[-1].extract_text()
    assert "Draft 2" in last  # every draft's heading and totals are printed, even past the budget
    assert "notes not shown" in "\n".join(p.extract_text() for p in pdf.pages)


def test_more_notes_than_a_specification_holds_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = FakeLedger()
    for i in range(6):
        ledger.add_note(note(start=START + timedelta(hours=i), ticket_id=1001))
    clock = FakeClock(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    invoicing = service(ledger, clock)
    (draft,) = invoicing.run("acme", Period(2026, 10)).drafts
    reader = Specifications(ledger, invoicing, timezone=BERLIN)
    monkeypatch.setattr(specification, "MAX_NOTES", 5)

    with pytest.raises(Rejected) as caught:
        reader.read("acme", [draft.number], field="draftIds")

    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("draftIds", "the drafts bill 6 notes, at most 5: ask for fewer drafts")
    ]
    monkeypatch.setattr(specification, "MAX_NOTES", 6)
    [spec] = reader.read("acme", [draft.number, draft.number], field="draftIds")  # named twice: listed once
    assert [r.minutes for r in spec.notes] == [60] * 6


def test_manual_lines_count_against_the_specifications_limit_and_a_draft_takes_only_so_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = FakeLedger()
    for i in range(3):
        ledger.add_note(note(start=START + timedelta(hours=i), ticket_id=1001))
    invoicing, editor = editing_world(ledger)
    (draft,) = invoicing.run("acme", Period(2026, 10)).drafts
    monkeypatch.setattr(editing, "MAX_MANUAL_LINES", 2)
    for text in ("Mileage", "Parts"):
        current = invoicing.get("acme", draft.number).header
        editor.add_line("acme", draft.number, [version_tag(current)], LineSpec("KM", text, Decimal(1), Decimal(1)))
    current = invoicing.get("acme", draft.number).header
    with pytest.raises(Rejected) as full:
        editor.add_line(
            "acme", draft.number, [version_tag(current)], LineSpec("KM", "One more", Decimal(1), Decimal(1))
        )
    assert [e.field for e in full.value.errors] == ["draftId"]

    reader = Specifications(ledger, invoicing, timezone=BERLIN)
    monkeypatch.setattr(specification, "MAX_NOTES", 4)  # 3 notes fit, 3 notes and 2 lines do not
    with pytest.raises(Rejected) as caught:
        reader.read("acme", [draft.number], field="draftIds")
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("draftIds", "the drafts have 5 notes and lines, at most 4: ask for fewer")
    ]
