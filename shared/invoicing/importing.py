"""Reading a billing directory file for `python -m shared.manage billing import`.

JSON: `{"customers": [...], "contracts": [...], "tickets": [...]}`, each entry with the same fields
as the HTTP PUT bodies plus its id (`customerId`, `contractId`, `ticketId`).
CSV: a header row with a `type` column (customer, contract or ticket), an `id` column and the same
field names; empty cells are absent fields. Examples in `examples/`.
"""

from __future__ import annotations

import codecs
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
from shared.json_depth import NESTING_RULE, too_deep
from shared.validation import validate

_MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "customer": (CustomerIn, "customerId"),
    "contract": (ContractIn, "contractId"),
    "ticket": (TicketIn, "ticketId"),
}
_SECTIONS = {"customers": "customer", "contracts": "contract", "tickets": "ticket"}


Row = tuple[str, str, dict[str, Any]]
"""Where an entry came from (`customers[2]`, `line 5`), its type and its fields."""


class FileProblem(Exception):
    """What makes (part of) a file unreadable, with where: reported like a bad row."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(f"{label}: {message}")
        self.label = label


def read_directory_file(path: Path, tz: ZoneInfo) -> tuple[list[tuple[str, Entry]], list[str]]:
    """Entries with a label saying where each came from, and the problems found (field rules, and
    what makes the file unreadable); references are checked by `DirectoryService.import_entries`."""
    entries: list[tuple[str, Entry]] = []
    problems: list[str] = []
    try:
        text = _text(path)
        rows = _csv_rows(text, problems) if path.suffix.lower() == ".csv" else _json_rows(text)
    except FileProblem as problem:
        return [], [str(problem)]
    for label, kind, data in rows:
        if kind not in _MODELS:
            problems.append(f"{label}: type must be customer, contract or ticket")
            continue
        model, _ = _MODELS[kind]
        try:
            entries.append((label, entry_from(validate(model, data, tz))))  # type: ignore[arg-type]
        except DomainError as error:
            problems += [f"{label}: {e.field} {e.message}" for e in error.errors] or [f"{label}: {error.message}"]
    return entries, problems


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise FileProblem("file", f"cannot be read: {error.strerror or error}") from None
    bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
    try:
        return raw[len(bom) :].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = len(bom) + error.start
        raise FileProblem("file", f"is not UTF-8: byte 0x{raw[offset]:02x} at byte offset {offset}") from None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads keeps the last of two equal keys without a word: a section given twice would
    silently lose the first one's entries."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _json_rows(text: str) -> list[Row]:
    if too_deep(text):
        raise FileProblem("file", NESTING_RULE)
    try:
        document = json.loads(text, parse_float=Decimal, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise FileProblem("file", f"is not valid JSON: {error.msg} (line {error.lineno})") from None
    except _DuplicateKey as error:
        raise FileProblem("file", f'has the key "{error}" twice in one object; each key may appear once') from None
    except ValueError:  # a number of over 4300 digits (Python's limit on reading ints)
        raise FileProblem("file", "has a number too long to read (over 4300 digits)") from None
    if not isinstance(document, dict) or not set(document) <= set(_SECTIONS):
        raise FileProblem("file", "must be a JSON object with customers, contracts and/or tickets")
    rows = []
    for section, kind in _SECTIONS.items():
        items = document.get(section, [])
        for index, item in enumerate(items if isinstance(items, list) else [items]):
            rows.append((f"{section}[{index}]", kind, item if isinstance(item, dict) else {}))
    return rows


def _csv_rows(text: str, problems: list[str]) -> list[Row]:
    """The rows up to the first one the csv module cannot read (a field over its 128 kB limit, say),
    which goes to `problems` naming its line: where the rows after it begin cannot be told reliably."""
    reader = csv.reader(io.StringIO(text))
    rows: list[Row] = []
    line = 1  # the header; rows count from 2 (blank lines are skipped, as csv.DictReader does)
    try:
        header = [name.strip() for name in next(reader, [])]
        line = 2
        for values in reader:
            if not values:
                continue
            cells = {k: v.strip() for k, v in zip(header, values, strict=False) if k and v.strip()}
            kind = cells.pop("type", "").lower()
            if "id" in cells and kind in _MODELS:
                cells[_MODELS[kind][1]] = cells.pop("id")
            rows.append((f"line {line}", kind, cells))
            line += 1
    except csv.Error as error:
        problems.append(f"line {line}: cannot be read as CSV: {error}")
    return rows
