"""Line editing and manual drafts over in-memory storage: amounts to the cent, the e-conomic lines
they become, and every write stopped half way (a crash leaves the draft as it was, or as asked)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import NotFound, PreconditionFailed
from shared.export.documents import DocumentLine, document_lines
from shared.invoicing.directory_service import DirectoryService
from shared.invoicing.editing import DraftEditor, LineChange, LineSpec, version_tag
from shared.invoicing.ledger import LIVE, OPEN
from shared.invoicing.pdf import render
from shared.invoicing.planning import ManualLine, NoteBilling, Period
from shared.invoicing.service import DraftFilter, InvoicingService
from tests.support.fakes import Crash, CrashingLedger, FakeClock, FakeDirectoryRepository, FakeLedger
from tests.support.invoicing import BERLIN, directory, note

OCT = Period(2026, 10)
CLOCK = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _manual(quantity: str, price: str, period: Period | None = None) -> ManualLine:
    return ManualLine(1, 1, "KM", "Mileage", Decimal(quantity), Decimal(price), period, CLOCK)


def test_a_new_rate_reprices_the_time_line_and_its_surcharge_half_up() -> None:
    billing = NoteBilling(1, 1, 101, "P1", Decimal("90.00"), 135, Decimal("202.50"), Decimal(25), Decimal("50.63"))

    repriced = billing.repriced(Decimal("99.99"))

    assert (repriced.amount, repriced.surcharge) == (Decimal("224.98"), Decimal("56.25"))  # 224.9775, 56.245
    assert billing.repriced(Decimal(0)).amount == Decimal("0.00")


def test_a_manual_line_is_quantity_times_price_half_up_and_goes_to_e_conomic_exactly() -> None:
    exact = _manual("3", "19.99").line(BERLIN)
    inexact = _manual("42.5", "3.51", OCT).line(BERLIN)
    credit = _manual("-1", "0.005").line(BERLIN)

    assert (exact.amount, inexact.amount, credit.amount) == (Decimal("59.97"), Decimal("149.18"), Decimal("-0.01"))
    assert document_lines([exact, inexact], group=False) == [
        DocumentLine("KM", "Mileage", Decimal(3), Decimal("19.99")),
        DocumentLine("KM", "Mileage (October 2026) (42.5 x 3.51)", Decimal(1), Decimal("149.18")),
    ]
    assert document_lines([exact, exact], group=True) == document_lines([exact, exact], group=False)


@given(
    st.decimals(min_value=Decimal("-999999.99"), max_value=Decimal("999999.99"), places=2),
    st.decimals(min_value=Decimal("-999999999.99"), max_value=Decimal("999999999.99"), places=2),
)
def test_a_manual_line_totals_in_e_conomic_exactly_its_amount(quantity: Decimal, price: Decimal) -> None:
    line = ManualLine(1, 1, "KM", "x", quantity, price, None, CLOCK).line(BERLIN)
    (sent,) = document_lines([line], group=False)
    assert sent.amount == line.amount
    assert sent.quantity == sent.quantity.quantize(Decimal("0.01"))  # at most two decimals, as e-conomic takes


def _world(ledger: FakeLedger | CrashingLedger) -> tuple[InvoicingService, DraftEditor]:
    repo = FakeDirectoryRepository()
    d = directory(2)
    repo.put_many("acme", [*d.customers.values(), *d.contracts.values(), *d.tickets.values()])
    clock = FakeClock(CLOCK)
    invoicing = InvoicingService(
        ledger, DirectoryService(repo), clock=clock.now, timezone=BERLIN, lease=timedelta(minutes=5)
    )
    editor = DraftEditor(invoicing, ledger, DirectoryService(repo), clock=clock.now, timezone=BERLIN)
    return invoicing, editor


def _billed_notes(ledger: FakeLedger) -> int:
    return sum(1 for n in ledger.all_notes("acme") if n.billing is not None)


@pytest.mark.parametrize("crash_at", range(4))
def test_a_manual_draft_that_crashes_half_way_exists_whole_or_not_at_all(crash_at: int) -> None:
    inner = FakeLedger()
    _, editor = _world(CrashingLedger(inner, crash_at))
    specs = [LineSpec("1", f"Line {i}", Decimal(1), Decimal("10.00")) for i in range(3)]

    with contextlib.suppress(Crash):
        editor.create("acme", 1, OCT, specs, None)

    invoicing, _ = _world(inner)
    live = [h for h in invoicing.list("acme", DraftFilter()) if h.status in LIVE]
    if live:
        (header,) = live
        draft = invoicing.get("acme", header.number)
        assert [line.description for line in draft.lines] == ["Line 0", "Line 1", "Line 2"]
        assert header.totals.net == Decimal("30.00")
    assert len(inner.manual_lines("acme", range(1, 10))) == 3 * len(live)


@pytest.mark.parametrize("operation", ["reprice", "release", "add", "drop_surcharge"])
def test_an_edit_that_crashes_before_its_write_changes_nothing(operation: str) -> None:
    inner = FakeLedger()
    inner.add_note(note(ticket_id=1001, minutes=90, extra_charge=True))
    invoicing, _ = _world(inner)
    (header,) = invoicing.run("acme", OCT).drafts
    before = invoicing.get("acme", header.number)
    _, editor = _world(CrashingLedger(inner, 0))
    tag = [version_tag(before.header)]
    time, surcharge = before.lines

    edits: dict[str, Callable[[], object]] = {
        "reprice": lambda: editor.change_line(
            "acme", header.number, tag, time.line_id, LineChange(frozenset({"unitPrice"}), unit_price=Decimal(1))
        ),
        "release": lambda: editor.delete_line("acme", header.number, tag, time.line_id),
        "add": lambda: editor.add_line("acme", header.number, tag, LineSpec("1", "x", Decimal(1), Decimal(1))),
        "drop_surcharge": lambda: editor.delete_line("acme", header.number, tag, surcharge.line_id),
    }

    with pytest.raises(Crash):
        edits[operation]()

    assert invoicing.get("acme", header.number).lines == before.lines
    assert invoicing.get("acme", header.number).header.totals == before.header.totals
    assert _billed_notes(inner) == 1


def test_a_released_note_is_billed_again_and_a_stale_version_is_refused() -> None:
    ledger = FakeLedger()
    ledger.add_note(note(ticket_id=1001, minutes=90, extra_charge=True))
    invoicing, editor = _world(ledger)
    (header,) = invoicing.run("acme", OCT).drafts
    draft = invoicing.get("acme", header.number)
    tag = [version_tag(draft.header)]

    released = editor.delete_line("acme", header.number, tag, draft.lines[0].line_id)
    with pytest.raises(PreconditionFailed):
        editor.add_line("acme", header.number, tag, LineSpec("1", "x", Decimal(1), Decimal(1)))
    (again,) = invoicing.run("acme", OCT).drafts

    assert released.lines == ()
    assert released.header.totals.net == Decimal("0.00")
    assert again.totals.net == draft.header.totals.net  # priced afresh by the contract
    assert again.status == OPEN
    assert date(2026, 10, 5) == invoicing.get("acme", again.number).lines[0].date


def test_the_concept_invoice_prints_manual_lines_with_quantity_and_unit_price() -> None:
    ledger = FakeLedger()
    invoicing, editor = _world(ledger)
    created = editor.create(
        "acme", 1, OCT, [LineSpec("KM", "Mileage to the client", Decimal("42.5"), Decimal("3.51"))], None
    )

    pdf = render(invoicing.open_draft("acme", created.header.number), created=CLOCK)

    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Mileage to the client" in text
    assert "42.5" in text
    assert "149.18" in text


def test_the_concept_invoice_prints_a_note_lines_text_as_edited_and_the_others_as_recorded() -> None:
    ledger = FakeLedger()
    ledger.add_note(note(ticket_id=1001, minutes=90, extra_charge=True, hint="Patched the mail server"))
    ledger.add_note(note(ticket_id=1001, minutes=30, hint="Backup check"))
    invoicing, editor = _world(ledger)
    (header,) = invoicing.run("acme", OCT).drafts
    draft = invoicing.get("acme", header.number)
    first = next(line for line in draft.lines if line.kind == "time" and line.hint == "Patched the mail server")
    change = LineChange(frozenset({"description"}), description="Mail server patched (urgent)")
    edited = editor.change_line("acme", header.number, [version_tag(draft.header)], first.line_id, change)

    text = "".join(
        page.extract_text()
        for page in pypdf.PdfReader(
            io.BytesIO(render(invoicing.open_draft("acme", edited.header.number), created=CLOCK))
        ).pages
    )

    assert "Mail server patched (urgent)" in text
    assert "Backup check" in text  # an unedited line keeps its note's text
    assert "Surcharge" in text  # the surcharge line was not edited: still generated from the note


def test_a_line_deleted_by_an_edit_that_lands_between_the_reads_is_a_stale_version_not_a_missing_line() -> None:
    """Two edits from one version: the other one deletes the line after this one read the draft's header
    but before it read the lines. The caller's version is stale (412), as a moment later; the line was there."""
    ledger = FakeLedger()
    ledger.add_note(note(ticket_id=1001, minutes=90))
    invoicing, editor = _world(ledger)
    (header,) = invoicing.run("acme", OCT).drafts
    draft = invoicing.get("acme", header.number)
    tag, line_id = [version_tag(draft.header)], draft.lines[0].line_id
    read_notes = ledger.notes_of

    def other_edit_first(tenant: str, numbers: Any) -> Any:
        ledger.notes_of = read_notes  # type: ignore[method-assign]
        editor.delete_line(tenant, header.number, tag, line_id)
        return read_notes(tenant, numbers)

    ledger.notes_of = other_edit_first  # type: ignore[method-assign]
    change = LineChange(frozenset({"description"}), description="Too late")
    with pytest.raises(PreconditionFailed):
        editor.change_line("acme", header.number, tag, line_id, change)
    ledger.notes_of = read_notes  # type: ignore[method-assign]
    current = [version_tag(invoicing.get("acme", header.number).header)]
    with pytest.raises(NotFound):  # at the current version the line is simply gone
        editor.change_line("acme", header.number, current, line_id, change)


def test_a_retried_create_with_the_same_idempotency_generation_finds_its_draft() -> None:
    """The Idempotency-Key take-over after a crash hands the retry the dead attempt's generation."""
    ledger = FakeLedger()
    invoicing, editor = _world(ledger)
    specs = [LineSpec("1", "Fee", Decimal(1), Decimal("100.00"))]

    first = editor.create("acme", 1, OCT, specs, "generation-1")
    again = editor.create("acme", 1, OCT, specs, "generation-1")
    other = editor.create("acme", 1, OCT, specs, "generation-2")

    assert again.header.number == first.header.number
    assert again.lines == first.lines
    assert other.header.number != first.header.number
    assert len(invoicing.list("acme", DraftFilter())) == 2
