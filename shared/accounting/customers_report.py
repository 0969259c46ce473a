"""What the customer sync reports (see `shared.accounting.customers` for the categories): e-conomic's
customers read defensively, what differs between one of ours and its e-conomic customer, and the report
of a directory against e-conomic's list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.accounting.schemas import CustomerCounts, CustomerReport, CustomerRow, Difference, LinkedRow, SkippedRow
from shared.email_address import addresses_in, first_address
from shared.invoicing.directory import Customer

# -- e-conomic's customers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Remote:
    """One e-conomic customer, read defensively (a field of the wrong type counts as missing)."""

    number: int
    name: str | None
    currency: str | None
    email: str | None
    """As e-conomic holds it: possibly several addresses separated by spaces (its schema), `;` or `,`."""
    barred: bool

    @staticmethod
    def of(number: int, raw: Mapping[str, Any]) -> Remote:
        def text(key: str) -> str | None:
            value = raw.get(key)
            return value.strip() if isinstance(value, str) and value.strip() else None

        return Remote(number, text("name"), text("currency"), text("email"), raw.get("barred") is True)


def email_addresses(text: str | None) -> list[str]:
    """The valid addresses in an e-conomic `email` field, in order. e-conomic's customer schema
    (economic-schemas/customers.customerNumber.get.schema.json, `email`): "you can specify multiple
    email addresses in this field, separated by a space"; `;` and `,` are what people type anyway.
    Valid: the one e-mail rule every stored address follows (`shared.email_address`)."""
    return addresses_in(text)


def first_email(text: str | None) -> str | None:
    return first_address(text)


def differences(ours: Customer, remote: Remote) -> list[Difference]:
    """Name, e-mail and currency that differ. Our e-mail matches when it is any of e-conomic's
    addresses (ignoring case); an update would take the first. A customer without any e-mail in
    e-conomic does not differ in it: the billing address is then ours alone."""
    found: list[Difference] = []
    if ours.name.strip() != (remote.name or ""):
        found.append(Difference(field="name", ours=ours.name, economic=remote.name))
    addresses = email_addresses(remote.email)
    if remote.email is not None and ours.billing_email.strip().casefold() not in {a.casefold() for a in addresses}:
        found.append(
            Difference(field="email", ours=ours.billing_email, economic=addresses[0] if addresses else remote.email)
        )
    if ours.currency.strip() != (remote.currency or ""):
        found.append(Difference(field="currency", ours=ours.currency, economic=remote.currency))
    return found


# -- the report ---------------------------------------------------------------------------------------


def holders_of(customers: Mapping[int, Customer]) -> dict[int, list[int]]:
    """Our customer ids by the e-conomic number they are linked to."""
    found: dict[int, list[int]] = {}
    for cid, c in sorted(customers.items()):
        if c.accounting_system_id is not None:
            found.setdefault(c.accounting_system_id, []).append(cid)
    return found


def report(
    customers: Mapping[int, Customer],
    remote: Mapping[int, Remote],
    *,
    imported: Sequence[int],
    updated: Sequence[tuple[int, list[Difference]]],
    linked_now: Sequence[tuple[int, int | None]],
    skipped: list[SkippedRow],
    dry_run: bool | None,
) -> CustomerReport:
    """The categories of `customers` against e-conomic's, with what a request did (`imported` ...
    `skipped`); `dry_run` None: a comparison (no action asked)."""
    linked: list[CustomerRow] = []
    differs: list[CustomerRow] = []
    unlinked: list[CustomerRow] = []
    missing: list[CustomerRow] = []
    linked_to = holders_of(customers)
    for _, customer in sorted(customers.items(), key=lambda item: (item[1].accounting_system_id or 0, item[0])):
        number = customer.accounting_system_id
        theirs = remote.get(number) if number is not None else None
        if number is None:
            unlinked.append(_row(remote, customer))
        elif theirs is None:
            missing.append(_row(remote, customer))
        else:
            found = differences(customer, theirs)
            (differs if found else linked).append(_row(remote, customer, found))
    new = [
        CustomerRow(
            customerNumber=r.number,
            customerId=None,
            name=r.name,
            email=r.email,
            currency=r.currency,
            barred=r.barred,
        )
        for n, r in sorted(remote.items())
        if n not in linked_to
    ]
    imported_rows = [_row(remote, customers[cid]) for cid in imported]
    updated_rows = [_row(remote, customers[cid], applied) for cid, applied in updated]
    linked_now_rows = [
        LinkedRow(**_row(remote, customers[cid]).model_dump(), previousCustomerNumber=previous)
        for cid, previous in linked_now
    ]
    counts = CustomerCounts(
        linked=len(linked),
        differs=len(differs),
        new=len(new),
        unlinked=len(unlinked),
        missing=len(missing),
        imported=len(imported_rows),
        updated=len(updated_rows),
        linkedNow=len(linked_now_rows),
        skipped=len(skipped),
    )
    return CustomerReport(
        linked=linked,
        differs=differs,
        new=new,
        unlinked=unlinked,
        missing=missing,
        imported=imported_rows,
        updated=updated_rows,
        linkedNow=linked_now_rows,
        skipped=skipped,
        dryRun=bool(dry_run),
        counts=counts,
        summary=_summary(counts, dry_run),
    )


def _row(remote: Mapping[int, Remote], customer: Customer, found: Sequence[Difference] = ()) -> CustomerRow:
    number = customer.accounting_system_id
    theirs = remote.get(number) if number is not None else None
    return CustomerRow(
        customerNumber=number,
        customerId=customer.customer_id,
        name=customer.name,
        email=customer.billing_email,
        currency=customer.currency,
        barred=theirs is not None and theirs.barred,
        differences=list(found),
    )


def _summary(counts: CustomerCounts, dry_run: bool | None) -> str:
    state = (
        f"{counts.linked} linked, {counts.differs} differing, {counts.new} new in e-conomic, "
        f"{counts.unlinked} not linked, {counts.missing} missing in e-conomic."
    )
    if dry_run is None:
        return state
    skipped = f"; {counts.skipped} skipped" if counts.skipped else ""
    if dry_run:
        return (
            f"Dry run: would import {counts.imported}, update {counts.updated} and link {counts.linkedNow} "
            f"customer(s){skipped}. Afterwards: {state}"
        )
    if not counts.imported + counts.updated + counts.linkedNow:
        return f"Nothing was changed{skipped}. Now: {state}"
    return (
        f"Imported {counts.imported}, updated {counts.updated} and linked {counts.linkedNow} customer(s){skipped}. "
        f"Now: {state}"
    )
