"""Plain-text output for the command line: the customer report of `python -m shared.manage economic customers`."""

from __future__ import annotations

from collections.abc import Sequence

from shared.accounting.schemas import CustomerReport, CustomerRow, LinkedRow


def _line(row: CustomerRow) -> str:
    number = f"e-conomic {row.customerNumber}" if row.customerNumber is not None else "e-conomic -"
    ours = f"customer {row.customerId}" if row.customerId is not None else "customer -"
    parts = [number, ours, row.name or "(no name)", row.email or "(no e-mail)", row.currency or "(no currency)"]
    text = "  ".join(parts)
    if row.barred:
        text += "  [barred]"
    if isinstance(row, LinkedRow):
        before = row.previousCustomerNumber
        text += f"  (was e-conomic {before})" if before is not None else "  (was not linked)"
    if row.differences:
        text += "  | " + "; ".join(f"{d.field}: ours {d.ours!r}, e-conomic {d.economic!r}" for d in row.differences)
    return text


def format_report(report: CustomerReport) -> str:
    """A plain-text listing for the command line: one line per customer per category."""
    lines: list[str] = []
    sections: list[tuple[str, Sequence[CustomerRow]]] = [
        ("Linked", report.linked),
        ("Differs", report.differs),
        ("New in e-conomic", report.new),
        ("Not linked", report.unlinked),
        ("Missing in e-conomic", report.missing),
        ("Would import" if report.dryRun else "Imported", report.imported),
        ("Would update" if report.dryRun else "Updated", report.updated),
        ("Would link" if report.dryRun else "Linked now", report.linkedNow),
    ]
    for title, rows in sections:
        lines.append(f"{title} ({len(rows)}):")
        lines += [f"  {_line(row)}" for row in rows]
    lines.append(f"Skipped ({len(report.skipped)}):")
    for s in report.skipped:
        number = s.customerNumber if s.customerNumber is not None else "-"
        ours = f"customer {s.customerId}" if s.customerId is not None else "customer -"
        lines.append(f"  e-conomic {number}  {ours}  {s.action}: {s.reason}")
    lines.append(report.summary)
    if report.dryRun:
        lines.append("Dry run: nothing was changed.")
    return "\n".join(lines) + "\n"
