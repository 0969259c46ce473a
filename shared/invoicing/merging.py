"""Merge and reopen of invoice drafts: header-only changes (steps 4 and 5 of the protocol in
`shared.invoicing.service`), each one conditional write, or one transaction over every header."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from shared.errors import Conflict, FieldError, NotFound, Rejected
from shared.invoicing.accounting_state import AccountingState
from shared.invoicing.ledger import (
    EXPORTED,
    MERGED,
    OPEN,
    Draft,
    DraftHeader,
    Totals,
    not_open,
    status_text,
)
from shared.invoicing.ports import Ledger

if TYPE_CHECKING:
    from shared.invoicing.service import InvoicingService

MAX_MERGE = 100


def reopen_draft(
    service: InvoicingService, ledger: Ledger, clock: Callable[[], datetime], tenant: str, number: int
) -> Draft:
    """An exported draft the accounting sync flagged as deleted in e-conomic without being booked
    becomes open again, so it can be exported anew (or deleted). What it was is kept under
    `accounting.reopened`. Any other draft is refused: the flag is the sync's proof that e-conomic
    has no document for it, booked or not."""
    headers = service.repair(tenant)
    header = existing(headers, number)
    missing = header.accounting.missing if header.status == EXPORTED else None
    if not missing:
        raise Rejected(
            f"Invoice draft {number} cannot be reopened.",
            [
                FieldError(
                    "draftId",
                    f"draft {number} is {status_text(header)}; only an exported draft that the accounting "
                    "sync found deleted in e-conomic (accounting.missing) can be reopened",
                )
            ],
        )
    now = clock()
    kept = ("documentType", "documentNumber", "exportJob", "invoiceDate", "exportedAt")
    previous = {k: header.accounting[k] for k in kept if k in header.accounting}
    accounting = AccountingState(reopened={"at": now.isoformat(), **previous, "missing": dict(missing)})
    stored = ledger.put_header(replace(header, status=OPEN, accounting=accounting, updated_at=now), header.version)
    if stored is None:
        raise Conflict(f"Invoice draft {number} changed while it was being reopened; retry.")
    return service.draft_in(tenant, number, {**headers, number: stored})  # no second read of every header


def merge_drafts(
    service: InvoicingService, ledger: Ledger, clock: Callable[[], datetime], tenant: str, numbers: Sequence[int]
) -> Draft:
    wanted = sorted(set(numbers))
    if not 2 <= len(wanted) <= MAX_MERGE:
        raise Rejected(
            "Name at least two different drafts to merge.",
            [FieldError("draftIds", f"must name 2 to {MAX_MERGE} different drafts")],
        )
    headers = service.repair(tenant)
    errors = not_open(wanted, headers, "draftIds")
    if errors:
        raise Rejected("Only open drafts can be merged.", errors)
    chosen = [headers[n] for n in wanted]
    for header in chosen:
        service.ensure_not_exporting(header)
    customers = {h.customer.customer_id for h in chosen}
    if len(customers) > 1:
        listing = ", ".join(f"draft {h.number}: customer {h.customer.customer_id}" for h in chosen)
        raise Rejected(
            "Only drafts of the same customer can be merged.",
            [FieldError("draftIds", f"the drafts belong to different customers ({listing})")],
        )
    now = clock()
    target, sources = chosen[0], chosen[1:]
    merged_headers = {
        **headers,
        **{s.number: replace(s, status=MERGED, merged_into=target.number) for s in sources},
    }
    billed, manual = service.contents(tenant, target.number, merged_headers)
    new_target = replace(
        target,
        period_from=min(h.period_from for h in chosen),
        period_to=max(h.period_to for h in chosen),
        totals=Totals.of([billing for _, billing in billed], manual),
        merged_from=tuple(sorted({*target.merged_from, *(s.number for s in sources)})),
        updated_at=now,
    )
    absorbed = [replace(s, status=MERGED, merged_into=target.number, updated_at=now) for s in sources]
    if not ledger.replace_headers([new_target, *absorbed]):
        raise Conflict("One of the drafts changed while merging; retry.")
    # The notes did not change (they can only while a header they are billed in does): only
    # the new header's version has to be read back.
    return Draft(ledger.headers(tenant)[target.number], service.lines(billed, manual))


def existing(headers: dict[int, DraftHeader], number: int) -> DraftHeader:
    header = headers.get(number)
    if header is None:
        raise NotFound(f"No invoice draft {number}.", [FieldError("draftId", f"no draft {number}")])
    return header
