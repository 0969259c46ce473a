"""Pure rules of the accounting sync: which references are ours, what a booked invoice leaves on a draft,
who may sync which tenant, and the timer's schedule setting."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pypdf
import pytest

from shared.accounting.invoices_rules import (
    BookedDraft,
    SyncResult,
    _book,
    _flag_missing,
    booked_record,
    draft_of,
    ours,
)
from shared.accounting.routes import tenant_for
from shared.accounting.schemas import SyncOut
from shared.config import ACCOUNTING_SYNC_SCHEDULE, sync_schedule
from shared.errors import Denied
from shared.export.documents import reference_of
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.directory import Customer
from shared.invoicing.ledger import BOOKED, EXPORTED, OPEN, DraftHeader, Totals
from shared.invoicing.pdf import render
from shared.invoicing.planning import Period
from shared.invoicing.schemas import pdf_name, summary
from shared.invoicing.service import Draft
from shared.platform.keys import Principal
from shared.repositories.accounting import fitted

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def header(status: str = EXPORTED, **accounting: Any) -> DraftHeader:
    return DraftHeader(
        tenant="acme",
        number=17,
        status=status,  # type: ignore[arg-type]
        customer=Customer(1, "Acme A/S", 1, "ap@acme.example", "DKK"),
        period_from=Period(2026, 10),
        period_to=Period(2026, 10),
        created_at=NOW,
        updated_at=NOW,
        totals=Totals(),
        accounting=AccountingState.of({"documentType": "draftInvoice", "documentNumber": 4, **accounting}),
    )


def invoice(number: int, net: Any = Decimal("950.00"), **fields: Any) -> dict[str, Any]:
    return {
        "bookedInvoiceNumber": number,
        "date": "2026-11-01",
        "currency": "DKK",
        "netAmount": net,
        "vatAmount": Decimal("237.5"),
        "grossAmount": Decimal("1187.5"),
        "references": {"other": "IB-17"},
        **fields,
    }


@pytest.mark.parametrize(
    ("reference", "draft"),
    [
        ("IB-acme-17", 17),
        ("IB-acme-1", 1),
        ("IB-17", None),  # an old reference without the tenant: only through `ours`
        ("IB-ACME-17", None),
        ("ib-acme-17", None),
        ("IB-acme-017", None),
        ("IB-acme-0", None),
        ("IB-acme2-17", None),
        ("IB-acme-x-17", None),
        ("XIB-acme-17", None),
        ("IB-acme-17 ", None),
    ],
)
def test_only_the_tenants_exact_references_name_its_drafts(reference: str, draft: int | None) -> None:
    assert draft_of("acme", reference) == draft


def test_a_tenant_whose_id_extends_anothers_never_reads_its_references() -> None:
    assert draft_of("acme-1", "IB-acme-17") is None
    assert draft_of("acme", "IB-acme-1-17") is None
    assert draft_of("acme-1", "IB-acme-1-17") == 17


def test_a_draft_carries_the_reference_its_document_was_created_with() -> None:
    new = replace(header(status=OPEN), accounting=AccountingState.of({}))
    assert reference_of(new) == "IB-acme-17"
    exported = header(reference="IB-acme-17")
    assert reference_of(exported) == "IB-acme-17"
    assert reference_of(header()) == "IB-17"  # exported before references named the tenant
    in_flight = replace(header(status=OPEN), accounting=AccountingState.of({"exportJob": "j", "documentNumber": 4}))
    assert reference_of(in_flight) == "IB-17"
    reopened = replace(header(status=OPEN), accounting=AccountingState.of({"reopened": {"reference": "IB-17"}}))
    assert reference_of(reopened) == "IB-acme-17"


def test_booked_invoices_are_matched_to_exported_and_booked_drafts_by_their_recorded_reference() -> None:
    drafts = {
        17: header(reference="IB-acme-17"),
        18: replace(header(), number=18),  # old reference
        19: replace(header(status=OPEN), number=19, accounting=AccountingState.of({})),
        20: replace(header(status=BOOKED, reference="IB-acme-20"), number=20),
    }
    assert ours(drafts) == {"IB-acme-17": 17, "IB-18": 18, "IB-acme-20": 20}


def test_a_booked_invoice_makes_the_draft_booked_with_its_number_date_and_amounts_in_cents() -> None:
    booked = _book(booked_record(invoice(10001), NOW))(header())

    assert booked is not None
    assert booked.status == BOOKED
    record = booked.accounting["booked"]
    assert (record["invoiceNumber"], record["date"], record["currency"]) == (10001, "2026-11-01", "DKK")
    assert (record["netAmount"], record["vatAmount"], record["grossAmount"]) == ("950.00", "237.50", "1187.50")
    assert booked.accounting["documentNumber"] == 4  # the export's record stays
    assert summary(booked).invoiceNumber == 10001
    assert summary(header()).invoiceNumber is None


def test_booking_again_with_the_same_number_changes_nothing_and_a_second_number_is_kept_apart() -> None:
    booked = _book(booked_record(invoice(10001), NOW))(header())
    assert booked is not None

    assert _book(booked_record(invoice(10001), NOW))(booked) is None
    credited = _book(booked_record(invoice(10007, net=Decimal("-950.00")), NOW))(booked)

    assert credited is not None
    assert credited.accounting["booked"]["invoiceNumber"] == 10001
    assert [(o["invoiceNumber"], o["netAmount"]) for o in credited.accounting["alsoBooked"]] == [(10007, "-950.00")]
    assert _book(booked_record(invoice(10007), NOW))(credited) is None


def test_a_booking_clears_the_missing_flag_and_never_touches_an_open_draft() -> None:
    flagged = _flag_missing(NOW, "gone")(header())
    assert flagged is not None
    assert flagged.accounting["missing"] == {"since": NOW.isoformat(), "reason": "gone", "checkedAt": NOW.isoformat()}
    later = NOW + timedelta(days=1)
    again = _flag_missing(later, "again")(flagged)
    assert again is not None  # flagged once: `since` and the reason stay, only the last look moves
    assert again.accounting["missing"] == {"since": NOW.isoformat(), "reason": "gone", "checkedAt": later.isoformat()}

    booked = _book(booked_record(invoice(10001), NOW))(flagged)

    assert booked is not None
    assert "missing" not in booked.accounting
    assert _book(booked_record(invoice(10001), NOW))(header(OPEN)) is None


def test_syncing_another_tenant_needs_the_operator_right() -> None:
    reseller = Principal("k1", "acme", "key", frozenset({"reseller"}), 100, 60)
    operator = Principal("k2", "platform", "key", frozenset({"reseller", "operator"}), 100, 60)

    assert tenant_for(reseller, None) == "acme"
    assert tenant_for(reseller, "acme") == "acme"
    assert tenant_for(operator, "acme") == "acme"
    with pytest.raises(Denied) as refused:
        tenant_for(reseller, "globex")
    assert refused.value.code == "access_denied"
    assert refused.value.errors[0].field == "reseller"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ACCOUNTING_SYNC_SCHEDULE),
        ("", ACCOUNTING_SYNC_SCHEDULE),
        ("0 */20 * * * *", "0 */20 * * * *"),
        ("0 30 7 * * MON-FRI", "0 30 7 * * MON-FRI"),
        ("0 0 6 1,15 jan,Jul Sun", "0 0 6 1,15 jan,Jul Sun"),
        ("*/10 0-30/5 8-17 * * 1-5", "*/10 0-30/5 8-17 * * 1-5"),
    ],
)
def test_the_timer_schedule_comes_from_the_setting(value: str | None, expected: str) -> None:
    env = {} if value is None else {"ACCOUNTING_SYNC_SCHEDULE": value}
    assert sync_schedule(env) == expected


@pytest.mark.parametrize(
    "value",
    ["*/5 * * * *", "0 61 * * * *", "0 0 0 32 * *", "25:00:00", "00:00:00", "01:00:00", "hourly", "0 0 6 * * MONX"],
)
def test_a_malformed_schedule_is_logged_and_the_hourly_default_used(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        schedule = sync_schedule({"ACCOUNTING_SYNC_SCHEDULE": value})

    assert schedule == ACCOUNTING_SYNC_SCHEDULE
    assert "ACCOUNTING_SYNC_SCHEDULE must be an NCRONTAB expression with six fields" in caplog.text


def test_a_big_run_result_is_cut_to_fit_the_state_row_and_says_what_it_left_out() -> None:
    booked = [BookedDraft(n, 10000 + n, "2026-11-01", "1234567.89") for n in range(1, 2001)]
    result = SyncResult("acme", "timer", NOW, NOW, 2000, booked=tuple(booked), still_waiting=0)

    text = fitted(result.as_dict())

    assert len(text) <= 30_000
    stored = SyncOut.model_validate(json.loads(text))
    assert stored.waiting == 2000
    assert len(stored.booked) + stored.omitted["booked"] == 2000
    assert stored.booked[0].invoiceNumber == 10001
    assert fitted({"waiting": 1, "booked": []}) == '{"waiting": 1, "booked": []}'  # small: as it is


def test_the_pdf_shows_the_booked_total_formatted_like_every_other_amount() -> None:
    """pdf.py `_booked_rows`: the booked total is printed as e-conomic's raw decimal string ("11875.00")
    while the draft's own totals a few lines below use `_money` ("11,875.00"): the same sum reads
    two ways on one page."""
    totals = Totals(time=Decimal("9500.00"), surcharges=Decimal("0.00"))
    exported = replace(header(), totals=totals)
    booked_invoice = {
        "bookedInvoiceNumber": 10001,
        "date": "2026-11-01",
        "currency": "DKK",
        "netAmount": Decimal("9500.00"),
        "vatAmount": Decimal("2375.00"),
        "grossAmount": Decimal("11875.00"),
        "references": {"other": "IB-17"},
    }
    booked = _book(booked_record(booked_invoice, NOW))(exported)
    assert booked is not None

    pdf = render(Draft(booked, ()), created=NOW)

    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "9,500.00" in text  # the draft's own total
    assert "11,875.00" in text, text
    assert pdf_name(booked) == "invoice-10001-draft-17.pdf"
    assert pdf_name(exported) == "concept-draft-17.pdf"
