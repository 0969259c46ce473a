"""Benchmark: the concept PDF of a 2,000-note draft, in-process (no storage).

Drafts built in memory, each note with a surcharge line (4,000 lines):
- "max-length": every text at its limit (hint 1,000 characters, user name 256, customer name 256;
  shared/validation.py `Text`, `ShortText`), in words, and once more as unbroken words;
- "one-line": short texts, so every line is one printed line: the most rows per page.

Prints the median of a few renders, the pages and size, and the ratio to the aim of 2 s (issue 16:
before the budget, the max-length draft took 47.7 s and a 60-line hint answered 500).

    make bench                       # or: .venv/bin/python -m bench.pdf --runs 5
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pypdf

from shared.invoicing.directory import Customer
from shared.invoicing.ledger import OPEN, DraftHeader, Totals
from shared.invoicing.pdf import render
from shared.invoicing.planning import Line, Period
from shared.invoicing.service import Draft

AIM_SECONDS = 2.0
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def draft(notes: int, hint: str, user: str) -> Draft:
    lines: list[Line] = []
    for i in range(notes):
        day = date(2026, 10, 1) + timedelta(days=i % 31)
        lines.append(
            Line("time", f"n{i}", day, 2_000_000_000 + i, user, hint, 600, Decimal("10.00"), Decimal("9999.99"),
                 Decimal("99999.90"), "P1", 1, hint)
        )  # fmt: skip
        lines.append(
            Line("surcharge", f"n{i}", day, 2_000_000_000 + i, user, hint, 600, Decimal("10.00"), Decimal("25"),
                 Decimal("24999.98"), "P1", 1, hint)
        )  # fmt: skip
    totals = Totals(
        minutes=600 * notes,
        time=Decimal("99999.90") * notes,
        surcharges=Decimal("24999.98") * notes,
        notes=notes,
        lines=2 * notes,
    )
    customer = Customer(1, ("Customer Name " * 20)[:256], 2_000_000_000, "billing@example.com", "EUR")
    period = Period(2026, 10)
    return Draft(DraftHeader("bench", 17, OPEN, customer, period, period, NOW, NOW, totals), tuple(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    words = ("Replaced the failing disk in the mail server and checked the backups. " * 20)[:1000]
    cases = {
        "max-length, words": draft(args.notes, words, ("Łukasz Müller-Lüdenscheidt " * 10)[:256]),
        "max-length, no spaces": draft(args.notes, "x" * 1000, "u" * 256),
        "one-line": draft(args.notes, "Patched the mail server", "lukasz"),
    }
    print(f"concept PDF of a {args.notes:,}-note draft ({2 * args.notes:,} lines), median of {args.runs} renders")
    for name, case in cases.items():
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            pdf = render(case, created=NOW)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
        print(
            f"  {name:22} {median:6.2f} s  {pages:3d} pages  {len(pdf) / 1024:5.0f} KiB"
            f"   {median / AIM_SECONDS:5.2f} x the {AIM_SECONDS:.0f} s aim"
        )


if __name__ == "__main__":
    main()
