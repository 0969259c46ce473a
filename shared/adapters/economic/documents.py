"""The e-conomic endpoints the service uses (customers, layouts, products, drafts, booked invoices,
sent orders), as a mixin over the client's HTTP methods (`get`, `get_all`, `pages`, `post`, `delete`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Protocol

from shared.adapters.economic.errors import EconomicKeySpent, EconomicNotFound, EconomicUnavailable, EconomicUnusable
from shared.adapters.economic.wire import FILTER_UNSAFE, escape_filter_value

log = logging.getLogger("invoice_bridge.economic")

MAX_PAGE_SIZE = 1000

Kind = Literal["draftInvoice", "order"]

DRAFTS: dict[str, tuple[str, str]] = {
    "draftInvoice": ("/invoices/drafts", "draftInvoiceNumber"),
    "order": ("/orders/drafts", "orderNumber"),
}
BOOKED = "/invoices/booked"
SENT_ORDERS = "/orders/sent"
ARCHIVED_ORDERS = "/orders/archived"


class Http(Protocol):
    """The client's HTTP methods the endpoints are built on (see `EconomicClient`)."""

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]: ...

    def get_all(
        self, path: str, *, filter: str | None = None, sort: str | None = None, pagesize: int = MAX_PAGE_SIZE
    ) -> list[dict[str, Any]]: ...

    def pages(
        self, path: str, *, filter: str | None = None, sort: str | None = None, pagesize: int = MAX_PAGE_SIZE
    ) -> Iterator[list[dict[str, Any]]]: ...

    def post(self, path: str, body: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]: ...

    def delete(self, path: str, *, idempotency_key: str) -> dict[str, Any]: ...


class Documents:
    """The endpoints; mixed into `EconomicClient`, which supplies `Http`."""

    # --- what the export uses -------------------------------------------------------------------

    def customers(self: Http) -> dict[int, dict[str, Any]]:
        return {c["customerNumber"]: c for c in self.get_all("/customers") if isinstance(c.get("customerNumber"), int)}

    def customer_groups(self: Http) -> dict[int, dict[str, Any]]:
        groups = self.get_all("/customer-groups")
        return {g["customerGroupNumber"]: g for g in groups if isinstance(g.get("customerGroupNumber"), int)}

    def layouts(self: Http) -> dict[int, dict[str, Any]]:
        """Layouts a document can use (those marked `deleted` are left out)."""
        layouts = self.get_all("/layouts")
        return {
            layout["layoutNumber"]: layout
            for layout in layouts
            if isinstance(layout.get("layoutNumber"), int) and not layout.get("deleted")
        }

    def payment_terms(self: Http) -> dict[int, dict[str, Any]]:
        """Every payment term by number, with its `paymentTermsType` and `daysOfCredit`: a document's
        `paymentTerms` is read-only there (economic-schemas/invoices.drafts.post.schema.json), so the
        type is learnt here (payment-terms.get.schema.json)."""
        terms = self.get_all("/payment-terms")
        return {t["paymentTermsNumber"]: t for t in terms if isinstance(t.get("paymentTermsNumber"), int)}

    def products(self: Http) -> dict[str, dict[str, Any]]:
        return {str(p["productNumber"]): p for p in self.get_all("/products") if p.get("productNumber") is not None}

    def find_drafts(self: Http, kind: Kind, reference: str) -> list[dict[str, Any]]:
        """Drafts whose `references.other` is exactly `reference` (e-conomic's filter ignores case;
        this does not). Listings carry no `lines`: use `get_draft` for the whole document."""
        path, _ = _drafts(kind)
        return _exactly(self.get_all(path, filter=reference_filter(reference)), reference)

    def find_drafts_from(self: Http, kind: Kind, prefix: str) -> list[dict[str, Any]]:
        """Drafts whose `references.other` starts with `prefix` (exactly: e-conomic's filter ignores
        case, this does not), page by page: one paged look-up instead of one `find_drafts` per reference.
        Listings carry no `lines`; a document listed twice is returned once.

        NOT exact while drafts come and go: the pages are sorted by document number (sortable, and the
        default sorting, of both collections: e-conomic/slate@8abdb42 source/includes/_invoices.md and
        _orders.md, "Sortable properties" / "Default sorting"; `sort`: _introduction.md, "Sorting"), so
        a draft added meanwhile only pushes later ones forward (listed twice, kept once); but one deleted
        meanwhile from an earlier page pulls later ones back, and the one crossing the page boundary
        (`skippages`, _introduction.md "Pagination") is never listed. A caller that must not miss a
        document asks `find_drafts` for each reference this did not find."""
        path, field = _drafts(kind)
        found = self.get_all(path, filter=prefix_filter(prefix), sort=field)
        unique: dict[object, dict[str, Any]] = {}
        for doc in found:
            if str((doc.get("references") or {}).get("other") or "").startswith(prefix):
                unique.setdefault(doc.get(field, id(doc)), doc)
        return list(unique.values())

    def get_draft(self: Http, kind: Kind, number: int) -> dict[str, Any] | None:
        path, _ = _drafts(kind)
        try:
            return self.get(f"{path}/{_positive(number)}")
        except EconomicNotFound:
            return None

    def create_draft(self: Http, kind: Kind, body: Mapping[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """The created document (201), or the first answer again when `idempotency_key` was used before."""
        path, _ = _drafts(kind)
        return self.post(path, body, idempotency_key=idempotency_key)

    def delete_draft(
        self: Http, kind: Kind, number: int, *, idempotency_key: str, reference: str | None = None
    ) -> None:
        """Deletes one draft. A draft that is not there (404) counts as deleted: there is nothing to do.

        A DELETE whose answer was lost, or whose key is spent (`EconomicKeySpent`), is sent again only
        after the draft is read once more and still carries `reference` in `references.other`: e-conomic
        reuses numbers (the reference material's README; no numbering rule is documented), so by then the
        number may be another document's. The resend has a fresh key, the old one may replay an error
        for an hour. Without `reference` such a failure is raised as it is."""
        target = f"{_drafts(kind)[0]}/{_positive(number)}"
        key = idempotency_key
        for again in range(1, 4):
            try:
                self.delete(target, idempotency_key=key)
                return
            except EconomicNotFound:
                log.info("e-conomic: %s %d was already gone", kind, number)
                return
            except EconomicUnavailable as error:
                lost = isinstance(error, EconomicKeySpent) or error.status is None
                if reference is None or not lost or again == 3:
                    raise
            document = Documents.get_draft(self, kind, number)
            if document is None or (document.get("references") or {}).get("other") != reference:
                log.info("e-conomic: %s %d is gone or no longer ours; not deleted again", kind, number)
                return
            key = f"{idempotency_key}-again-{again}"

    # --- what the accounting sync uses ---------------------------------------------------------

    def booked_pages(self: Http, filter: str, *, pagesize: int = MAX_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Booked invoices matching `filter`, by ascending `bookedInvoiceNumber`, a page at a time.
        Listings carry no lines: number, date, amounts, customer and `references` are all there."""
        return self.pages(BOOKED, filter=filter, sort="bookedInvoiceNumber", pagesize=pagesize)

    def find_booked(self: Http, reference: str) -> list[dict[str, Any]]:
        """Booked invoices whose `references.other` is exactly `reference`."""
        return _exactly(self.get_all(BOOKED, filter=reference_filter(reference)), reference)

    def list_drafts(self: Http, kind: Kind) -> list[dict[str, Any]]:
        """Every draft invoice (or order) of the agreement, without lines."""
        path, _ = _drafts(kind)
        return self.get_all(path)

    def find_sent_orders(self: Http, reference: str) -> list[dict[str, Any]]:
        """Sent orders whose `references.other` is exactly `reference`."""
        return _exactly(self.get_all(SENT_ORDERS, filter=reference_filter(reference)), reference)

    def find_archived_orders(self: Http, reference: str) -> list[dict[str, Any]]:
        """Archived orders whose `references.other` is exactly `reference`: sent orders that were
        upgraded to an invoice draft, or deleted (e-conomic/slate@8abdb42 _orders.md, `GET
        /orders/archived`; Tech Talk "Orders are now available on the REST API")."""
        return _exactly(self.get_all(ARCHIVED_ORDERS, filter=reference_filter(reference)), reference)

    def sent_orders(self: Http) -> list[dict[str, Any]]:
        """Orders registered as sent (`/orders/sent`): locked, waiting to be upgraded to an invoice."""
        return self.get_all(SENT_ORDERS)


def reference_filter(reference: str) -> str | None:
    """The `filter` that finds documents whose `references.other` is `reference` (the caller keeps the
    exact matches: e-conomic compares strings without case, e-conomic/slate@8abdb42 _introduction.md).

    A reference with `[` or `]` is never put into a filter: e-conomic does not honour the `$[`/`$]`
    escapes its 2019 docs list (issue 15 item 16: a filter with them matches nothing), and what an
    unescaped bracket does is documented nowhere. So such a reference is asked for by its longest piece
    without brackets, `$like:` (a contains match when it has no `*`, per the same docs), and matched
    exactly here; with no such piece, by the whole collection."""
    if not FILTER_UNSAFE.intersection(reference):
        return f"references.other$eq:{escape_filter_value(reference)}"
    longest = max(re.split(r"[\[\]]", reference), key=len)
    return f"references.other$like:{escape_filter_value(longest)}" if longest else None


def prefix_filter(prefix: str) -> str | None:
    """The `filter` that finds documents whose `references.other` starts with `prefix`: `$like:` with a
    trailing `*` (e-conomic/slate@8abdb42 source/includes/_introduction.md, "Substring matching": "The
    `$like:` filter supports both using wildcards (*) and not using wildcards"; strings compare without
    case, so the caller keeps the exact matches). A prefix with `[` or `]` is asked for by its longest
    piece without brackets as a contains match (see `reference_filter`); with no such piece, by the
    whole collection."""
    if not FILTER_UNSAFE.intersection(prefix):
        return f"references.other$like:{escape_filter_value(prefix)}*"
    longest = max(re.split(r"[\[\]]", prefix), key=len)
    return f"references.other$like:{escape_filter_value(longest)}" if longest else None


def _exactly(found: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    """The documents whose `references.other` is exactly `reference`. A document of an `$eq` answer
    without `references` is taken as e-conomic's match; of a wider one (`$like`, none), it is not."""
    filtered_exactly = not FILTER_UNSAFE.intersection(reference)
    default = reference if filtered_exactly else None
    return [d for d in found if (d.get("references") or {}).get("other", default) == reference]


def _drafts(kind: str) -> tuple[str, str]:
    try:
        return DRAFTS[kind]
    except KeyError:
        raise ValueError(f"unknown document kind {kind!r}: draftInvoice or order") from None


def _positive(number: int) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"not a document number: {number!r}")
    return number


def document_number(kind: Kind, document: Mapping[str, Any]) -> int:
    """`draftInvoiceNumber` of a draft invoice, `orderNumber` of an order."""
    _, field = _drafts(kind)
    number = document.get(field)
    if isinstance(number, bool) or not isinstance(number, int):
        raise EconomicUnusable(f"e-conomic's {kind} document has no {field}")
    return number
