"""Benchmark: the specification report (issue 17) at its limits, in-process (no storage).

The largest request allowed: 100 drafts of 200 notes each (20,000 notes, `specification.MAX_NOTES`),
every hint at its 1,000-character limit and user names at 256. Prints, for the PDF (bounded by its
2,500 printed table lines) and the CSV (every row), the median of a few renders, the size, and the
PDF's ratio to the aim of 2 s; and the same for one draft of 2,000 one-line notes.

    make bench                       # or: .venv/bin/python -m bench.specification --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from shared.invoicing.directory import Customer
from shared.invoicing.ledger import OPEN, DraftHeader, Totals
from shared.invoicing.planning import Period
from shared.invoicing.specification import DraftSpecification, NoteRow
from shared.invoicing.specification_csv import render_csv
from shared.invoicing.specification_pdf import render_specification

AIM_SECONDS = 2.0
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def drafts(count: int, notes: int, hint: str, user: str) -> list[DraftSpecification]:
    customer = Customer(1, ("Customer Name " * 20)[:256], 2_000_000_000, "billing@example.com", "EUR")
    period = Period(2026, 10)
    start = datetime(2026, 10, 1, 8, 0, tzinfo=BERLIN)
    result = []
    for d in range(count):
        rows = tuple(
            NoteRow(f"n{d}-{i}", start + timedelta(hours=i), start + timedelta(hours=i, minutes=75), user,
                    2_000_000_000 + i, 12, 60, 15, 60, Decimal("9999.99"), Decimal("9999.99"), Decimal("25"),
                    Decimal("2500.00"), "P1", hint)
            for i in range(notes)
        )  # fmt: skip
        totals = Totals(minutes=60 * notes, time=Decimal("9999.99") * notes, notes=notes, lines=2 * notes)
        header = DraftHeader("bench", 100 + d, OPEN, customer, period, period, NOW, NOW, totals)
        result.append(DraftSpecification(header, rows))
    return result


def measure(label: str, render: Callable[[], bytes], runs: int, aim: float | None) -> None:
    times, size = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        size = len(render())
        times.append(time.perf_counter() - began)
    median = statistics.median(times)
    ratio = f", {median / aim:.2f} x the aim of {aim:.0f} s" if aim else ""
    print(f"  {label:<44} {median:6.2f} s  {size / 1e6:7.2f} MB{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("Specification report (median of", args.runs, "renders):")
    big = drafts(100, 200, ("lorem ipsum dolor " * 60)[:1000], ("User Name " * 30)[:256])
    small = drafts(1, 2_000, "Patched the mail server", "anna")
    measure("PDF, 100 drafts x 200 max-length notes", lambda: render_specification(big, created=NOW), args.runs,
            AIM_SECONDS)  # fmt: skip
    measure("CSV, 100 drafts x 200 max-length notes", lambda: render_csv(big), args.runs, None)
    measure("PDF, 1 draft x 2,000 one-line notes", lambda: render_specification(small, created=NOW), args.runs,
            AIM_SECONDS)  # fmt: skip
    measure("CSV, 1 draft x 2,000 one-line notes", lambda: render_csv(small), args.runs, None)


if __name__ == "__main__":
    main()
