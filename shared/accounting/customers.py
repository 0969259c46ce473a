"""Customers from e-conomic into the billing directory: compare, import, update and link.

Matching is only by e-conomic customer number (our `Customer.accounting_system_id`), never by name,
so nothing is ever created twice. A report sorts every customer into one category:

- `linked`: ours, linked to an existing e-conomic customer with the same name, e-mail and currency;
- `differs`: linked, but name, e-mail or currency differ (each difference listed);
- `new`: e-conomic customers that no customer of ours is linked to;
- `unlinked`: ours without an e-conomic number;
- `missing`: ours, linked to a number e-conomic does not have.

`apply` links first (`link` pairs), then imports (`importNew`), then updates (`updateLinked`), all on
one in-memory copy of the directory, and stores every changed customer at once. `true` means "every
one that can be done": the others are reported under `skipped`. An explicit list (or any link pair)
means "exactly these": every problem is collected and the whole request is refused (422), nothing
written. A dry run reports what would happen and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shared.accounting.ports import EconomicCustomers
from shared.accounting.schemas import (
    CustomerCounts,
    CustomerReport,
    CustomerRow,
    CustomerSyncIn,
    Difference,
    LinkedRow,
    LinkIn,
    SkippedRow,
)
from shared.errors import BadGateway, FieldError, ServiceUnavailable, Unprocessable
from shared.export.service import Failures, _economic_refused
from shared.invoicing.api import Currency, CustomerIn, Name
from shared.invoicing.directory import Customer, DirectoryService, Entry
from shared.secrets import SecretInvalid, SecretMissing
from shared.validation import EMAIL

_SEPARATORS = re.compile(r"[;,]")


# -- e-conomic's customers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Remote:
    """One e-conomic customer, read defensively (a field of the wrong type counts as missing)."""

    number: int
    name: str | None
    currency: str | None
    email: str | None
    """As e-conomic holds it: possibly several addresses separated by `;` or `,`."""
    barred: bool

    @staticmethod
    def of(number: int, raw: Mapping[str, Any]) -> Remote:
        def text(key: str) -> str | None:
            value = raw.get(key)
            return value.strip() if isinstance(value, str) and value.strip() else None

        return Remote(number, text("name"), text("currency"), text("email"), raw.get("barred") is True)


def email_addresses(text: str | None) -> list[str]:
    """The valid addresses in an e-conomic `email` field, in order."""
    parts = (part.strip() for part in _SEPARATORS.split(text or ""))
    return [part for part in parts if EMAIL.fullmatch(part)]


def first_email(text: str | None) -> str | None:
    addresses = email_addresses(text)
    return addresses[0] if addresses else None


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


# -- the service -------------------------------------------------------------------------------------


class CustomerSync:
    def __init__(
        self,
        directory: DirectoryService,
        economic: Callable[[str], EconomicCustomers],
        failures: Failures,
        drafted_customers: Callable[[str], set[int]],
    ) -> None:
        """`drafted_customers(tenant)`: our customer ids with open or exported invoice drafts."""
        self._directory = directory
        self._economic = economic
        self._failures = failures
        self._drafted = drafted_customers

    def compare(self, tenant: str) -> CustomerReport:
        """The categories as they are now; changes nothing."""
        remote = self._remote(tenant)
        return _Plan(self._directory.load(tenant).customers, {}, remote, lambda: set()).report(None)

    def apply(self, tenant: str, request: CustomerSyncIn) -> CustomerReport:
        """Links, imports and updates as asked, then reports the categories as they are afterwards
        (or would be, for a dry run). Raises `Unprocessable` (nothing written) for any problem with an
        explicit list or a link pair."""
        remote = self._remote(tenant)
        directory = self._directory.load(tenant)
        contracts: dict[int, list[int]] = {}
        for contract in sorted(directory.contracts.values(), key=lambda c: c.contract_id):
            contracts.setdefault(contract.customer_id, []).append(contract.contract_id)
        drafted: list[set[int]] = []

        def drafted_once() -> set[int]:
            if not drafted:
                drafted.append(self._drafted(tenant))
            return drafted[0]

        plan = _Plan(directory.customers, contracts, remote, drafted_once)
        plan.link(request.link)
        plan.import_new(request.importNew)
        plan.update_linked(request.updateLinked)
        if plan.problems:
            raise Unprocessable(
                f"The customer sync cannot run: {len(plan.problems)} problem(s) found; nothing was changed.",
                plan.problems,
            )
        if plan.changed and not request.dryRun:
            entries: list[tuple[str, Entry]] = [(f"customer {cid}", c) for cid, c in sorted(plan.changed.items())]
            problems = self._directory.import_entries(tenant, entries)
            if problems:  # customers reference nothing, so this is not expected
                raise Unprocessable(
                    "The customers could not be stored.", [FieldError("customers", p) for p in problems]
                )
        return plan.report(request.dryRun)

    def _remote(self, tenant: str) -> dict[int, Remote]:
        try:
            economic = self._economic(tenant)
        except (SecretMissing, SecretInvalid) as error:
            raise _economic_refused(tenant, error) from None
        try:
            raw = economic.customers()
        except self._failures.auth as error:
            raise _economic_refused(tenant, error) from None
        except self._failures.transient as error:
            raise ServiceUnavailable(
                f"e-conomic cannot be reached right now ({error}); retry shortly.", headers={"Retry-After": "30"}
            ) from None
        except self._failures.rejected as error:
            raise BadGateway(f"e-conomic refused to list its customers: {error}") from None
        except self._failures.unusable as error:
            raise BadGateway(f"e-conomic's list of customers could not be read: {error}") from None
        return {number: Remote.of(number, c) for number, c in raw.items() if isinstance(c, Mapping)}


# -- the plan: one request on a copy of the directory ----------------------------------------------------

_NAME: TypeAdapter[str] = TypeAdapter(Name)
_CURRENCY: TypeAdapter[str] = TypeAdapter(Currency)
_LABELS = {"customerId": "customer number", "name": "name", "billingEmail": "e-mail", "currency": "currency"}


def _rule(error: ValidationError) -> str:
    return "; ".join(str(e["msg"]) for e in error.errors(include_url=False))


def _who(ids: Iterable[int]) -> str:
    listed = sorted(ids)
    return ("our customer " if len(listed) == 1 else "our customers ") + ", ".join(str(i) for i in listed)


class _Plan:
    def __init__(
        self,
        customers: Mapping[int, Customer],
        contracts: Mapping[int, Sequence[int]],
        remote: Mapping[int, Remote],
        drafted: Callable[[], set[int]],
    ) -> None:
        self.customers = dict(customers)
        self.contracts = contracts
        self.remote = remote
        self.drafted = drafted
        self.changed: dict[int, Customer] = {}
        self.problems: list[FieldError] = []
        self.skipped: list[SkippedRow] = []
        self.imported: list[int] = []
        self.updated: list[tuple[int, list[Difference]]] = []
        self.linked_now: list[tuple[int, int | None]] = []

    def _store(self, customer: Customer) -> None:
        self.customers[customer.customer_id] = customer
        self.changed[customer.customer_id] = customer

    def _holders(self) -> dict[int, list[int]]:
        """Our customer ids by the e-conomic number they are linked to."""
        holders: dict[int, list[int]] = {}
        for cid, c in sorted(self.customers.items()):
            if c.accounting_system_id is not None:
                holders.setdefault(c.accounting_system_id, []).append(cid)
        return holders

    # -- link ------------------------------------------------------------------------------------

    def link(self, pairs: Sequence[LinkIn]) -> None:
        paired = {p.customerId for p in pairs}
        # Customers not named by a pair keep their number; those named get the pair's.
        holders = {
            n: [cid for cid in ids if cid not in paired] for n, ids in self._holders().items() if set(ids) - paired
        }
        first_customer: dict[int, int] = {}
        first_number: dict[int, int] = {}
        valid: list[tuple[Customer, int]] = []
        for i, pair in enumerate(pairs):
            errors: list[FieldError] = []
            cid, number = pair.customerId, pair.customerNumber
            customer = self.customers.get(cid)
            if customer is None:
                errors.append(FieldError(f"link[{i}].customerId", f"customer {cid} does not exist"))
            elif cid in first_customer:
                errors.append(
                    FieldError(f"link[{i}].customerId", f"customer {cid} is also in link[{first_customer[cid]}]")
                )
            if number not in self.remote:
                errors.append(FieldError(f"link[{i}].customerNumber", f"e-conomic has no customer {number}"))
            elif number in first_number:
                errors.append(
                    FieldError(
                        f"link[{i}].customerNumber",
                        f"e-conomic customer {number} is also in link[{first_number[number]}]",
                    )
                )
            elif number in holders:
                errors.append(
                    FieldError(
                        f"link[{i}].customerNumber",
                        f"e-conomic customer {number} is already linked to {_who(holders[number])}",
                    )
                )
            first_customer.setdefault(cid, i)
            first_number.setdefault(number, i)
            self.problems += errors
            if not errors and customer is not None and customer.accounting_system_id != number:
                valid.append((customer, number))
        for customer, number in valid:
            self._store(replace(customer, accounting_system_id=number))
            self.linked_now.append((customer.customer_id, customer.accounting_system_id))

    # -- import ----------------------------------------------------------------------------------

    def import_new(self, selection: bool | list[int]) -> None:
        if selection is False or selection == []:
            return
        holders = self._holders()
        explicit = isinstance(selection, list)
        wanted: list[tuple[str, int]] = []
        if isinstance(selection, list):
            first = {n: i for i, n in reversed(list(enumerate(selection)))}
            wanted = [(f"importNew[{i}]", n) for n, i in sorted(first.items(), key=lambda item: item[1])]
        else:
            wanted = [("importNew", n) for n in sorted(self.remote) if n not in holders]
        for field, number in wanted:
            remote = self.remote.get(number)
            if remote is None:
                self.problems.append(FieldError(field, f"e-conomic has no customer {number}"))
                continue
            if number in holders:
                self.problems.append(
                    FieldError(
                        field,
                        f"e-conomic customer {number} is not new: it is already linked to {_who(holders[number])} "
                        "(updateLinked takes its data)",
                    )
                )
                continue
            if not explicit and remote.barred:
                self._skip(number, None, "importNew", "is barred in e-conomic (name its number to import it anyway)")
                continue
            customer = self._importable(remote)
            if isinstance(customer, str):
                if explicit:
                    self.problems.append(
                        FieldError(field, f"e-conomic customer {number} cannot be imported: {customer}")
                    )
                else:
                    self._skip(number, None, "importNew", customer)
                continue
            self._store(customer)
            self.imported.append(customer.customer_id)

    def _importable(self, remote: Remote) -> Customer | str:
        """The customer an import creates, or why it cannot."""
        number = remote.number
        email = first_email(remote.email)
        if email is None:
            shown = f" ({remote.email!r})" if remote.email else ""
            return f"it has no valid e-mail address in e-conomic{shown}, and our customers need a billing e-mail"
        taken = self.customers.get(number)
        if taken is not None:
            linked = (
                f", linked to e-conomic customer {taken.accounting_system_id}"
                if taken.accounting_system_id is not None
                else ""
            )
            return (
                f"customer id {number} is already used by our customer {number} ({taken.name}{linked}); "
                f"if it is the same customer, link it instead (link customerId {number} to customerNumber {number})"
            )
        try:
            data = CustomerIn.model_validate(
                {
                    "customerId": number,
                    "name": remote.name or "",
                    "accountingSystemId": number,
                    "billingEmail": email,
                    "currency": remote.currency or "",
                }
            )
        except ValidationError as error:
            return "; ".join(
                f"its {_LABELS.get(str(e['loc'][0]), str(e['loc'][0]))} {e['input']!r} is refused here: {e['msg']}"
                for e in error.errors(include_url=False)
            )
        return Customer(data.customerId, data.name, data.accountingSystemId, data.billingEmail, data.currency)

    # -- update ----------------------------------------------------------------------------------

    def update_linked(self, selection: bool | list[int]) -> None:
        if selection is False or selection == []:
            return
        holders = self._holders()
        targets: list[int] = []
        if isinstance(selection, list):
            seen: set[int] = set()
            for i, number in enumerate(selection):
                if number in seen:
                    continue
                seen.add(number)
                field = f"updateLinked[{i}]"
                if number not in self.remote:
                    held = f" ({_who(holders[number])} is linked to it)" if number in holders else ""
                    self.problems.append(FieldError(field, f"e-conomic has no customer {number}{held}"))
                elif number not in holders:
                    self.problems.append(
                        FieldError(
                            field,
                            f"no customer of ours is linked to e-conomic customer {number}; import it (importNew) "
                            "or link it (link)",
                        )
                    )
                else:
                    targets += holders[number]
        else:
            targets = [cid for n, ids in sorted(holders.items()) if n in self.remote for cid in ids]
        for cid in targets:
            self._update(self.customers[cid])

    def _update(self, customer: Customer) -> None:
        number = customer.accounting_system_id
        assert number is not None
        remote = self.remote[number]
        name, email, currency = customer.name, customer.billing_email, customer.currency
        applied: list[Difference] = []

        def skip(reason: str) -> None:
            self._skip(number, customer.customer_id, "updateLinked", reason)

        for difference in differences(customer, remote):
            if difference.field == "name":
                try:
                    value = _NAME.validate_python(remote.name or "")
                except ValidationError as error:
                    skip(f"name not updated: e-conomic's name {remote.name!r} is refused here: {_rule(error)}")
                    continue
                name = value
            elif difference.field == "email":
                found = first_email(remote.email)
                if found is None:
                    skip(
                        f"e-mail not updated: e-conomic has no valid e-mail address ({remote.email!r}); "
                        f"{customer.billing_email} is kept"
                    )
                    continue
                value = email = found
            else:
                try:
                    value = _CURRENCY.validate_python(remote.currency or "")
                except ValidationError as error:
                    skip(
                        f"currency not updated: e-conomic's currency {remote.currency!r} is refused here: "
                        f"{_rule(error)}"
                    )
                    continue
                blocker = self._currency_blocker(customer)
                if blocker:
                    skip(f"currency not updated ({customer.currency} -> {value}): {blocker}")
                    continue
                currency = value
            applied.append(Difference(field=difference.field, ours=difference.ours, economic=value))
        if applied:
            self._store(replace(customer, name=name, billing_email=email, currency=currency))
            self.updated.append((customer.customer_id, applied))

    def _currency_blocker(self, customer: Customer) -> str:
        """Why the customer's currency must stay (empty: it may change)."""
        reasons: list[str] = []
        contracts = self.contracts.get(customer.customer_id, ())
        if contracts:
            shown = ", ".join(str(c) for c in contracts[:10]) + (
                f" and {len(contracts) - 10} more" if len(contracts) > 10 else ""
            )
            reasons.append(f"service contracts {shown} are priced in {customer.currency}")
        if customer.customer_id in self.drafted():
            reasons.append(f"open or exported invoice drafts are in {customer.currency}")
        return "; ".join(reasons)

    def _skip(self, number: int | None, customer_id: int | None, action: str, reason: str) -> None:
        self.skipped.append(SkippedRow(customerNumber=number, customerId=customer_id, action=action, reason=reason))

    # -- report ----------------------------------------------------------------------------------

    def report(self, dry_run: bool | None) -> CustomerReport:
        """The categories of the plan's customers; `dry_run` None: a comparison (no action asked)."""
        linked: list[CustomerRow] = []
        differs: list[CustomerRow] = []
        unlinked: list[CustomerRow] = []
        missing: list[CustomerRow] = []
        holders = self._holders()
        for _, customer in sorted(
            self.customers.items(), key=lambda item: (item[1].accounting_system_id or 0, item[0])
        ):
            number = customer.accounting_system_id
            remote = self.remote.get(number) if number is not None else None
            if number is None:
                unlinked.append(self._row(customer))
            elif remote is None:
                missing.append(self._row(customer))
            else:
                found = differences(customer, remote)
                (differs if found else linked).append(self._row(customer, found))
        new = [
            CustomerRow(
                customerNumber=r.number,
                customerId=None,
                name=r.name,
                email=r.email,
                currency=r.currency,
                barred=r.barred,
            )
            for n, r in sorted(self.remote.items())
            if n not in holders
        ]
        imported = [self._row(self.customers[cid]) for cid in self.imported]
        updated = [self._row(self.customers[cid], applied) for cid, applied in self.updated]
        linked_now = [
            LinkedRow(**self._row(self.customers[cid]).model_dump(), previousCustomerNumber=previous)
            for cid, previous in self.linked_now
        ]
        counts = CustomerCounts(
            linked=len(linked),
            differs=len(differs),
            new=len(new),
            unlinked=len(unlinked),
            missing=len(missing),
            imported=len(imported),
            updated=len(updated),
            linkedNow=len(linked_now),
            skipped=len(self.skipped),
        )
        return CustomerReport(
            linked=linked,
            differs=differs,
            new=new,
            unlinked=unlinked,
            missing=missing,
            imported=imported,
            updated=updated,
            linkedNow=linked_now,
            skipped=self.skipped,
            dryRun=bool(dry_run),
            counts=counts,
            summary=_summary(counts, dry_run),
        )

    def _row(self, customer: Customer, found: Sequence[Difference] = ()) -> CustomerRow:
        number = customer.accounting_system_id
        remote = self.remote.get(number) if number is not None else None
        return CustomerRow(
            customerNumber=number,
            customerId=customer.customer_id,
            name=customer.name,
            email=customer.billing_email,
            currency=customer.currency,
            barred=remote is not None and remote.barred,
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
