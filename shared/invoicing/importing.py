"""Reading a billing directory file for `python -m shared.manage billing import`.

JSON: `{"customers": [...], "contracts": [...], "tickets": [...]}`, each entry with the same fields
as the HTTP PUT bodies plus its id (`customerId`, `contractId`, `ticketId`).
CSV: a header row with a `type` column (customer, contract or ticket), an `id` column and the same
field names; empty cells are absent fields. Examples in `examples/`.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from shared.errors import DomainError
from shared.invoicing.directory import Entry
from shared.invoicing.schemas import ContractIn, CustomerIn, TicketIn, entry_from
from shared.validation import validate

_MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "customer": (CustomerIn, "customerId"),
    "contract": (ContractIn, "contractId"),
    "ticket": (TicketIn, "ticketId"),
}
_SECTIONS = {"customers": "customer", "contracts": "contract", "tickets": "ticket"}


def read_directory_file(path: Path, tz: ZoneInfo) -> tuple[list[tuple[str, Entry]], list[str]]:
    """Entries with a label saying where each came from, and the problems found (field rules);
    references are checked by `DirectoryService.import_entries`."""
    text = path.read_text(encoding="utf-8-sig")
    rows = _csv_rows(text) if path.suffix.lower() == ".csv" else _json_rows(text)
    entries: list[tuple[str, Entry]] = []
    problems: list[str] = []
    for label, kind, data in rows:
        if "_error" in data:
            problems.append(f"{label}: {data['_error']}")
            continue
        if kind not in _MODELS:
            problems.append(f"{label}: type must be customer, contract or ticket")
            continue
        model, _ = _MODELS[kind]
        try:
            entries.append((label, entry_from(validate(model, data, tz))))  # type: ignore[arg-type]
        except DomainError as error:
            problems += [f"{label}: {e.field} {e.message}" for e in error.errors] or [f"{label}: {error.message}"]
    return entries, problems


def _json_rows(text: str) -> list[tuple[str, str, dict[str, Any]]]:
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        return [("file", "", {"_error": f"is not valid JSON: {error.msg} (line {error.lineno})"})]
    if not isinstance(document, dict) or not set(document) <= set(_SECTIONS):
        return [("file", "", {"_error": "must be a JSON object with customers, contracts and/or tickets"})]
    rows = []
    for section, kind in _SECTIONS.items():
        items = document.get(section, [])
        for index, item in enumerate(items if isinstance(items, list) else [items]):
            rows.append((f"{section}[{index}]", kind, item if isinstance(item, dict) else {}))
    return rows


def _csv_rows(text: str) -> list[tuple[str, str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for line, row in enumerate(reader, start=2):
        cells = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()}
        kind = cells.pop("type", "").lower()
        if "id" in cells and kind in _MODELS:
            cells[_MODELS[kind][1]] = cells.pop("id")
        rows.append((f"line {line}", kind, cells))
    return rows
