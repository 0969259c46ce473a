"""The specification as CSV: UTF-8 (no byte order mark), a header row, RFC 4180 quoting (Python's
`csv` module, CRLF line ends), one row per billed note and per other (manual) line, drafts in the order
asked. Columns, in this order:

| column | note rows | other rows |
|---|---|---|
| `draftId`, `customerId`, `customer` | the draft and its customer (as on the draft) | same |
| `kind` | `note` | `manual` |
| `noteId` | the position note (invoiceNoteId) | empty |
| `date` | start date, YYYY-MM-DD, in the tenant's zone (DEFAULT_TIMEZONE) | empty |
| `start`, `end` | YYYY-MM-DD HH:MM, tenant's zone | empty |
| `user`, `ticketId`, `contractId` | who, which ticket, which service contract | empty |
| `minutes` | worked minutes: the span less the pause | empty |
| `pause` | pause minutes | empty |
| `billableMinutes` | billed minutes (rounded up to the contract's increment) | empty |
| `hours` | billable hours, 2 decimals | empty |
| `rate` | hourly rate | empty |
| `quantity`, `unitPrice` | empty | the line's |
| `amount` | the time amount | the line's amount |
| `surchargePercent`, `surcharge` | the surcharge line's, when the note has one | empty |
| `productNumber` | e-conomic product number (empty: the tenant's default applies on export) | the line's |
| `text` | the note's hint | the line's description |

Decimals are plain strings with a dot ("1234.50"): no thousands separator, whatever the locale.

Formula injection (OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection): a
text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe,
so a spreadsheet shows it as text instead of running it. Only cells holding text someone typed
(names, ids, texts) are guarded; the numbers are written by us (a negative quantity stays "-1.00").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal

from shared.invoicing.specification import DraftSpecification
from shared.work import hours

COLUMNS = (
    "draftId",
    "customerId",
    "customer",
    "kind",
    "noteId",
    "date",
    "start",
    "end",
    "user",
    "ticketId",
    "contractId",
    "minutes",
    "pause",
    "billableMinutes",
    "hours",
    "rate",
    "quantity",
    "unitPrice",
    "amount",
    "surchargePercent",
    "surcharge",
    "productNumber",
    "text",
)
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def guarded(text: str) -> str:
    """`text` as a spreadsheet shows it as text: an apostrophe before a leading formula character."""
    return "'" + text if text.startswith(_TRIGGERS) else text


def _decimal(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def render_csv(drafts: Sequence[DraftSpecification]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for spec in drafts:
        header = spec.header
        draft = (str(header.number), str(header.customer.customer_id), guarded(header.customer.name))
        for n in spec.notes:
            writer.writerow(
                (
                    *draft,
                    "note",
                    guarded(n.note_id),
                    n.start.date().isoformat(),
                    n.start.strftime("%Y-%m-%d %H:%M"),
                    n.end.strftime("%Y-%m-%d %H:%M"),
                    guarded(n.user),
                    "" if n.ticket_id is None else str(n.ticket_id),
                    str(n.contract_id),
                    str(n.minutes),
                    str(n.pause),
                    str(n.billable_minutes),
                    f"{hours(n.billable_minutes):f}",
                    _decimal(n.rate),
                    "",
                    "",
                    _decimal(n.amount),
                    _decimal(n.surcharge_percent),
                    _decimal(n.surcharge),
                    guarded(n.product_number),
                    guarded(n.text),
                )
            )
        for o in spec.other:
            writer.writerow(
                (
                    *draft,
                    "manual",
                    *("",) * 12,
                    _decimal(o.quantity),
                    _decimal(o.unit_price),
                    _decimal(o.amount),
                    "",
                    "",
                    guarded(o.product_number),
                    guarded(o.description),
                )
            )
    return out.getvalue().encode("utf-8")
