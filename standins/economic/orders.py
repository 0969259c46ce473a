"""How an agreement numbers its drafts and how its orders move on (sent, upgraded, archived): what an
accountant does in e-conomic's web app, mixed into `Agreement`. Each rule names its source; where the
sources are silent the agreement has a switch, so tests can hold our code to both answers."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from standins.economic.wire import Kind

Numbering = Literal["highest+1", "lowest-free"]
"""How a new draft invoice or order is numbered. e-conomic documents no rule: `draftInvoiceNumber` and
`orderNumber` are only "a reference number" (e-conomic/slate@8abdb42 source/includes/_orders.md and
_invoices.md; economic-schemas/*.drafts.get.schema.json). Published client tests see a number used
again after a delete (the reference material's README beside the repository: "Numbers are reused after
a delete"), and nothing says gaps are filled (issue 15, item 18: do not assume "lowest free").
- `highest+1` (the default): one above the highest number in use, so deleting the newest draft frees
  its number for the next one (the reuse the client tests saw) but a gap lower down stays a gap;
- `lowest-free`: the lowest number not in use, gaps filled first (what the stand-in used to assume)."""

_DRAFT_ONLY = ("lastUpdated", "soap", "templates", "attachment")


class Host(Protocol):
    """What an agreement uses of the stand-in that holds it (`EconomicStandin`)."""

    @property
    def lock(self) -> threading.RLock: ...
    @property
    def base_url(self) -> str: ...
    @property
    def schema_dir(self) -> Path: ...
    @property
    def rate_limit(self) -> int: ...
    @property
    def rate_window(self) -> int: ...
    @property
    def clock(self) -> Callable[[], float]: ...


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Orders:
    """Numbering and the order flow; `Agreement` supplies the stores and switches below."""

    _standin: Host
    invoice_drafts: dict[int, dict[str, Any]]
    order_drafts: dict[int, dict[str, Any]]
    orders_sent: dict[int, dict[str, Any]]
    orders_archived: dict[int, dict[str, Any]]
    numbering: Numbering
    upgrade_keeps_reference: bool
    archive_upgraded_drafts: bool

    def _url(self, path: str) -> str:
        raise NotImplementedError

    def next_number(self, kind: Kind) -> int:
        """The number the agreement gives its next draft invoice (or order), by `numbering`. Order
        numbers are one series with the sent and archived orders: a sent order keeps its number
        (e-conomic/slate@8abdb42 _orders.md, `/orders/sent/:orderNumber`), so a new order never takes it."""
        with self._standin.lock:
            if kind == "draftInvoice":
                taken: set[int] = set(self.invoice_drafts)
            else:
                taken = set(self.order_drafts) | set(self.orders_sent) | set(self.orders_archived)
            if self.numbering == "lowest-free":
                return next(n for n in itertools.count(1) if n not in taken)
            return max(taken, default=0) + 1

    def send_order(self, order_number: int) -> dict[str, Any]:
        """e-conomic registers the order as sent (the web app does it when the order is sent to the
        customer): it moves from `/orders/drafts` to `/orders/sent`, keeping its number; returns the
        sent order. An order already sent is returned as it is. KeyError: no such order.
        (e-conomic/slate@8abdb42 _orders.md: "/sent – Registered as sent. Locked for changes.")"""
        with self._standin.lock:
            sent = self.orders_sent.get(order_number)
            if sent is None:
                order = self.order_drafts.pop(order_number, None)
                if order is None:
                    raise KeyError(f"no order {order_number}")
                sent = self._filed(order, f"/orders/sent/{order_number}")
                self.orders_sent[order_number] = sent
            return copy.deepcopy(sent)

    def upgrade_order(self, order_number: int) -> dict[str, Any]:
        """e-conomic upgrades the order to a draft invoice; returns the new draft. KeyError: no such order.

        - The order leaves `/orders/drafts` (or `/orders/sent`); a SENT order is archived in
          `/orders/archived`, keeping its number and content (e-conomic/slate@8abdb42 _orders.md,
          upgrade-instructions: "An order residing in /orders/sent, will be archived in /orders/archived
          upon upgrading it to invoice draft"; `GET /orders/archived`: "an order that was first
          registered as sent and then upgraded to invoice draft"; Tech Talk, "Orders are now available on
          the REST API": "If upgraded to invoice draft or deleted the archived copy is persisted").
          Whether an order upgraded straight from `/orders/drafts` is archived too is not documented:
          `archive_upgraded_drafts` (default False, as the docs' definition of archived reads).
        - The draft invoice carries the order's content (date, currency, customer, recipient, notes,
          lines, amounts...) and takes the next draft invoice number (`numbering`). Whether it keeps the
          order's `references.other` is not documented (the schemas have the field on both, no text says
          it is carried over): `upgrade_keeps_reference` (default True)."""
        with self._standin.lock:
            sent = order_number in self.orders_sent
            order = self.order_drafts.pop(order_number, None) or self.orders_sent.pop(order_number, None)
            if order is None:
                raise KeyError(f"no order {order_number}")
            if sent or self.archive_upgraded_drafts:
                self.orders_archived[order_number] = self._filed(order, f"/orders/archived/{order_number}")
            number = self.next_number("draftInvoice")
            draft: dict[str, Any] = {"draftInvoiceNumber": number}
            draft.update(
                (k, copy.deepcopy(v)) for k, v in order.items() if k not in ("orderNumber", "pdf", "self", *_DRAFT_ONLY)
            )
            if not self.upgrade_keeps_reference:
                references = {k: v for k, v in (draft.get("references") or {}).items() if k != "other"}
                draft.pop("references", None)
                if references:
                    draft["references"] = references
            self.invoice_drafts[number] = self._filed(draft, f"/invoices/drafts/{number}")
            return copy.deepcopy(self.invoice_drafts[number])

    def _filed(self, document: dict[str, Any], path: str) -> dict[str, Any]:
        filed = copy.deepcopy(document)
        self_link = self._url(path)
        filed["lastUpdated"] = _now_text()
        filed["pdf"] = {"download": f"{self_link}/pdf"}
        filed["self"] = self_link
        return filed
