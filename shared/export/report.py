"""The one e-mail an export sends when it ends: what was exported, what failed and why, and who
gets it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from shared.email_address import is_address
from shared.errors import Unavailable
from shared.export.jobs import KEPT, MOVED, Job
from shared.export.ports import Mailer
from shared.invoicing.ledger import DraftHeader

log = logging.getLogger("invoice_bridge.export")

DOCUMENT_NAMES = {"draftInvoice": ("draft invoice", "draft invoices"), "order": ("order", "orders")}


def subject(job: Job) -> str:
    one, many = DOCUMENT_NAMES[job.document_type]
    count = len(job.documents)
    if job.state == "succeeded":
        noun = one if count == 1 else many
        return f"e-conomic export done: {count} {noun} created for {job.tenant}"
    kept = sum(1 for p in job.errors if p.field in (MOVED, KEPT))
    if kept:
        drafts = "draft" if kept == 1 else "drafts"
        return f"e-conomic export failed for {job.tenant}: rolled back, except {kept} {drafts} left in e-conomic"
    return f"e-conomic export failed for {job.tenant}: nothing was exported"


def body(job: Job, customers: Mapping[int, str]) -> str:
    """Plain text. `customers`: customer name per draft number, for the listing."""
    one, many = DOCUMENT_NAMES[job.document_type]
    lines = [
        f"Export job {job.job_id} for {job.tenant} ({'run by an operator' if job.admin_mode else 'requested'} "
        f"{job.created_at:%Y-%m-%d %H:%M} UTC).",
        f"Invoice date {job.invoice_date.isoformat()}; e-conomic {many}; "
        f"lines {'grouped by product, month and price' if job.group_lines else 'one per entry'}.",
        "",
    ]
    selected = len(job.drafts or ())
    omitted = job.total - selected
    if job.state == "succeeded" and not selected:
        lines.append(
            f"There was nothing to export: no open draft's period had ended by {job.invoice_date.isoformat()}."
        )
    elif job.state == "succeeded":
        lines.append(
            f"All {selected} selected drafts are in e-conomic as {many}, not booked"
            + (f" ({omitted} omitted as asked)." if omitted else ".")
        )
        if job.documents:
            lines += ["", f"Draft -> e-conomic {one}:"]
            lines += [
                f"  {d.draft:>8} -> {d.number:<8} {customers.get(d.draft, '')}".rstrip()
                for d in sorted(job.documents, key=lambda d: d.draft)
            ]
        lines += ["", "Book them in e-conomic when they are right; their invoice numbers come back to the drafts."]
    else:
        if any(p.field in (MOVED, KEPT) for p in job.errors):
            lines.append(
                "The export failed and was rolled back, except for drafts whose documents were booked, sent or "
                "upgraded in e-conomic while the job ran (economic.moved below), or could not be deleted there "
                "(economic.kept): those stay exported, and the accounting sync records their invoice numbers. "
                "Every other document this job had created was deleted again; those drafts are unchanged and "
                "can be exported again once the problems are fixed."
            )
        else:
            lines.append(
                "Nothing was exported: an export is all or nothing, and every document this job had created "
                "was deleted again. The drafts are unchanged and can be exported again once the problems are fixed."
            )
        if job.documents:
            lines += ["", f"Left in e-conomic, draft -> e-conomic {one}:"]
            lines += [
                f"  {d.draft:>8} -> {d.number:<8} {customers.get(d.draft, '')}".rstrip()
                for d in sorted(job.documents, key=lambda d: d.draft)
            ]
        if job.poisoned:
            lines.append("The job was given up after repeated failures; its message is in economic-export-poison.")
        lines += ["", "Problems:"]
        lines += [f"  - {p.field}: {p.message}" for p in job.errors] or ["  - (no reason recorded)"]
        if job.leftovers:
            lines += [
                "",
                f"These {many} could not be deleted from e-conomic; please delete them there by hand:",
            ]
            lines += [f"  draft {d.draft}: e-conomic {one} {d.number}" for d in job.leftovers]
    return "\n".join(lines) + "\n"


class Reporter:
    """Sends a job's report to whoever asked for it and to the tenant's accounting address."""

    def __init__(
        self,
        *,
        mailer: Callable[[], Mailer | None],
        accounting_email: Callable[[str], str | None],
    ) -> None:
        self._mailer = mailer
        self._accounting_email = accounting_email

    def send(self, job: Job, headers: Mapping[int, DraftHeader]) -> bool:
        """Whether the report went out (not: no recipients, no SMTP, or sending failed)."""
        recipients = list(job.notify)
        try:
            accounting = self._accounting_email(job.tenant) if job.tenant else None
        except Unavailable:
            accounting = None
        if accounting:
            recipients.append(accounting)
        recipients = _usable(job, recipients)
        mailer = self._mailer()
        if not recipients or mailer is None:
            log.info(
                "Export job %s: no report sent (%s)", job.job_id, "no recipients" if mailer else "SMTP not configured"
            )
            return False
        from shared.adapters.smtp import build_message

        names = {n: h.customer.name for n, h in headers.items()}
        try:
            message = build_message(sender=None, to=recipients, subject=subject(job), text=body(job, names))
            mailer.send(message)
        except Exception as error:  # the export itself is done; a lost report must not undo or repeat it
            log.warning("Export job %s: the report could not be sent: %s", job.job_id, error)
            return False
        return True


def _usable(job: Job, recipients: list[str]) -> list[str]:
    """The addresses the report can go to under the one e-mail rule (`shared.email_address`, the rule
    the SMTP adapter sends with). One stored before that rule held is logged and left out, so the others
    still get the report instead of nobody."""
    usable = []
    for address in (r.strip() for r in recipients):
        if is_address(address):
            usable.append(address)
        else:
            log.warning("Export job %s: the report is not sent to an unusable stored address", job.job_id)
    return usable
