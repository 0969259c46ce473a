"""e-conomic's side of a draft: what the export and the accounting sync record on its header.

Stored as one JSON object (`Accounting` on the header row). Code reads it through the typed fields
below; as a read-only `Mapping` it is exactly that stored object, which is what the drafts' JSON
answers carry (`accounting`) and what the stored rows hold, so no stored row needs migrating.
Keys this version does not know are kept as they were (`other`), so an older or newer writer's
fields survive a write.

- `system`: the accounting system the draft went to ("e-conomic").
- `exportJob`: the export job that claimed the draft (`shared.export`), kept after it finished.
- `documentType`, `documentNumber`, `invoiceDate`, `exportedAt`, `reference`: the e-conomic document
  the export created (`IB-<tenant>-<draft>` in `references.other`).
- `orphan`: a document an earlier attempt left behind, still to be deleted by the next export.
- `booked`: the booked invoice (number, date, dueDate, currency, net/vat/gross, recordedAt);
  `alsoBooked`: credit notes and the like booked against the same document.
- `upgradedTo`: the draft invoice an order became in e-conomic.
- `missing`: the document was deleted in e-conomic without being booked (since, reason, checkedAt).
- `reopened`: what a reopened draft had been (its document and the `missing` flag).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

_STORED = {
    "system": "system",
    "export_job": "exportJob",
    "document_type": "documentType",
    "document_number": "documentNumber",
    "invoice_date": "invoiceDate",
    "exported_at": "exportedAt",
    "reference": "reference",
    "orphan": "orphan",
    "booked": "booked",
    "also_booked": "alsoBooked",
    "upgraded_to": "upgradedTo",
    "missing": "missing",
    "reopened": "reopened",
}
_FIELD_OF = {stored: name for name, stored in _STORED.items()}


@dataclass(frozen=True, eq=False)
class AccountingState(Mapping[str, Any]):
    """Frozen: every change is a new state (`changed`), written with the header's ETag."""

    system: str | None = None
    export_job: str | None = None
    document_type: str | None = None
    document_number: int | None = None
    invoice_date: str | None = None
    exported_at: str | None = None
    reference: str | None = None
    orphan: Mapping[str, Any] | None = None
    booked: Mapping[str, Any] | None = None
    also_booked: tuple[Mapping[str, Any], ...] = ()
    upgraded_to: Mapping[str, Any] | None = None
    missing: Mapping[str, Any] | None = None
    reopened: Mapping[str, Any] | None = None
    other: Mapping[str, Any] = field(default_factory=dict)
    """Stored keys this version does not know, kept as they were."""

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> AccountingState:
        """The state a stored object (or a Mapping written as one) describes."""
        if isinstance(stored, AccountingState):
            return stored
        values: dict[str, Any] = {}
        other: dict[str, Any] = {}
        for key, value in (stored or {}).items():
            name = _FIELD_OF.get(key)
            if name is None:
                other[key] = value
            elif value is not None:
                values[name] = tuple(value) if name == "also_booked" else value
        return cls(**values, other=other)

    def changed(self, **changes: Any) -> AccountingState:
        """A copy with `changes` (field names; None removes a value)."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(changes)
        if current.get("also_booked") is None:
            current["also_booked"] = ()
        return AccountingState(**current)

    def without(self, *stored_keys: str) -> AccountingState:
        """A copy without these stored keys (`"orphan"`, `"missing"`, ...)."""
        return AccountingState.of({k: v for k, v in self.items() if k not in stored_keys})

    @functools.cached_property
    def _stored(self) -> dict[str, Any]:
        stored: dict[str, Any] = {}
        for name, key in _STORED.items():
            value = getattr(self, name)
            if value is None or (name == "also_booked" and not value):
                continue
            stored[key] = list(value) if name == "also_booked" else value
        return {**stored, **self.other}

    def as_dict(self) -> dict[str, Any]:
        """The stored JSON object."""
        return dict(self._stored)

    def __getitem__(self, key: str) -> Any:
        return self._stored[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stored)

    def __len__(self) -> int:
        return len(self._stored)

    def __repr__(self) -> str:
        return f"AccountingState({self._stored!r})"
