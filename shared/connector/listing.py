"""The listing over the index (`WorkRepository.entries`, `totals`): a page costs its page, a date
window costs its window, not the tenant's history.

- Newest or oldest start first (`OrderColumns` 6, the default) with no filter but the kinds and
  `IsInvoice`: the counts and hours come from the connections' totals, the page from the index read
  from the right end, `Skip` index rows of a few columns skipped, then the page's records by key.
- Anything else with a date window: the index rows of the window (a few columns each), filtered,
  summed and ordered in memory exactly as the scan does, then the page's records by key (or, for a
  `Search`, every candidate's record of the window, since the texts are not in the index).
- Without a window, any other order or filter reads the index of the whole history (rows of a few
  columns, not the records), and a `Search` or `TakeAll` the records themselves (the old scan).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from shared.connector.ports import WorkRepository
from shared.connector.schemas import MAX_PAGE_SIZE, ORDER_COLUMNS, ListAssignmentsIn
from shared.platform.keys import Principal
from shared.work import IndexEntry, WorkQuery, WorkRecord


@dataclass(frozen=True)
class Listing:
    count: int
    """Every work record of the tenant, whatever the filters."""
    filtered: int
    minutes: int
    own_minutes: int
    page: list[WorkRecord]


SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    "CreationDate": lambda r: r.created_at,
    "AlterationDate": lambda r: r.created_at,
    "TicketId": lambda r: (r.ticket_id is not None, r.ticket_id or 0),
    "UserName": lambda r: r.user_name.casefold(),
    "Minutes": lambda r: r.minutes,
    "MinAssignmentTime": lambda r: r.date_from,
    "MaxAssignmentTime": lambda r: r.date_to,
}


def order(items: list[Any], data: ListAssignmentsIn) -> None:
    """Records or index entries in the listing's order: the column, ties by creation time, then id."""
    items.sort(key=lambda r: r.record_id)
    items.sort(key=lambda r: r.created_at)
    items.sort(key=SORT_KEYS[ORDER_COLUMNS[data.OrderColumns]], reverse=not data.OrderByAsc)


def haystack(r: WorkRecord) -> str:
    parts = [r.record_id, r.book_text, r.note_text, r.hint, r.user_name, r.ticket_id, r.service_contract_id]
    return "\n".join(str(p) for p in parts if p is not None).casefold()


def _only_kinds_and_billability(query: WorkQuery) -> bool:
    return WorkQuery(kinds=query.kinds, no_invoice=query.no_invoice) == query


def indexed_listing(
    work: WorkRepository,
    who: Principal,
    data: ListAssignmentsIn,
    query: WorkQuery,
    wanted_users: set[str],
    search: str | None,
) -> Listing:
    tenant = who.tenant
    totals = work.totals(tenant)
    count = sum(t.count for t in totals)
    newest_first = not data.OrderByAsc
    by_start = ORDER_COLUMNS[data.OrderColumns] == "MinAssignmentTime"
    if by_start and not data.TakeAll and not wanted_users and not search and _only_kinds_and_billability(query):
        chosen = [
            t
            for t in totals
            if t.kind in query.kinds and (query.no_invoice is None or t.no_invoice == query.no_invoice)
        ]
        end = data.Skip + data.PageSize
        wanted = list(islice(work.entries(tenant, query, newest_first=newest_first, limit=end), data.Skip, end))
        return Listing(
            count=count,
            filtered=sum(t.count for t in chosen),
            minutes=sum(t.minutes for t in chosen),
            own_minutes=sum(t.minutes for t in chosen if t.key_id == who.key_id),
            page=work.get_many(tenant, [e.record_id for e in wanted]),
        )

    entries: list[IndexEntry] = list(work.entries(tenant, query, newest_first=newest_first))
    if wanted_users:
        entries = [e for e in entries if e.user_name.casefold() in wanted_users]
    records: dict[str, WorkRecord] = {}
    if search:
        records = {r.record_id: r for r in work.get_many(tenant, [e.record_id for e in entries])}
        entries = [e for e in entries if e.record_id in records and search in haystack(records[e.record_id])]
    order(entries, data)
    chosen_entries = entries[:MAX_PAGE_SIZE] if data.TakeAll else entries[data.Skip : data.Skip + data.PageSize]
    if search:
        page = [records[e.record_id] for e in chosen_entries]
    else:
        page = work.get_many(tenant, [e.record_id for e in chosen_entries])
    return Listing(
        count=count,
        filtered=len(entries),
        minutes=sum(e.minutes for e in entries),
        own_minutes=sum(e.minutes for e in entries if e.key_id == who.key_id),
        page=page,
    )
