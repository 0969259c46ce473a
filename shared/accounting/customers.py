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
from typing import Annotated, Any, Protocol

from pydantic import Field, PlainValidator, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from shared.api_types import ApiResponse
from shared.errors import BadGateway, FieldError, ServiceUnavailable, Unprocessable
from shared.export.ports import Failures
from shared.export.ports import economic_refused as _economic_refused
from shared.invoicing.api import Currency, CustomerIn, Name, _In, _Out
from shared.invoicing.directory import Customer, DirectoryService, Entry
from shared.secrets import SecretInvalid, SecretMissing
from shared.validation import EMAIL, Flag, PositiveId

MAX_LIST = 10_000
"""Most numbers (or link pairs) one request may name."""

_SEPARATORS = re.compile(r"[;,]")


class EconomicCustomers(Protocol):
    """The part of `shared.adapters.economic.EconomicClient` the customer sync uses."""

    def customers(self) -> dict[int, dict[str, Any]]:
        """Every e-conomic customer by `customerNumber` (the adapter pages through GET /customers)."""
        ...


# -- request ---------------------------------------------------------------------------------------


def _fail(rule: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", rule)


_FLAG: TypeAdapter[bool] = TypeAdapter(Flag)
_NUMBER: TypeAdapter[int] = TypeAdapter(PositiveId)


def _selection(value: Any) -> bool | list[int]:
    if isinstance(value, list):
        if len(value) > MAX_LIST:
            raise _fail(f"must name at most {MAX_LIST} customers")
        numbers: list[int] = []
        for index, item in enumerate(value):
            try:
                numbers.append(_NUMBER.validate_python(item))
            except ValidationError:
                raise _fail(f"item {index} must be an e-conomic customer number (a positive whole number)") from None
        return numbers
    try:
        return _FLAG.validate_python(value)
    except ValidationError:
        raise _fail("must be true, false or a list of e-conomic customer numbers") from None


Selection = Annotated[bool | list[int], PlainValidator(_selection, json_schema_input_type=bool | list[int])]
"""`true`: every one that can be done; `false`: none; a list: exactly these e-conomic customer numbers."""


class LinkIn(_In):
    customerId: PositiveId = Field(description="Our customer (must exist).")
    customerNumber: PositiveId = Field(description="The e-conomic customer number to link it to (must exist there).")


class CustomerSyncIn(_In):
    importNew: Selection = Field(
        False,
        description="true: import every importable new e-conomic customer (barred ones are skipped); or a list of "
        "e-conomic customer numbers to import (all or nothing). An imported customer gets the e-conomic number as "
        "customerId and accountingSystemId, its name, currency and first valid e-mail address.",
    )
    updateLinked: Selection = Field(
        False,
        description="true: every linked customer that differs takes e-conomic's name, e-mail and currency; or a list "
        "of e-conomic customer numbers. The currency changes only for customers without service contracts and "
        "invoice drafts.",
    )
    link: list[LinkIn] = Field(
        default_factory=list,
        max_length=MAX_LIST,
        description="Pairs {customerId, customerNumber}: sets our customer's accountingSystemId (all or nothing).",
    )
    dryRun: Flag = Field(False, description="true: report what would happen and change nothing.")


# -- report ----------------------------------------------------------------------------------------


class Difference(_Out):
    field: str = Field(description="name, email or currency.")
    ours: str | None = Field(description="Our value (before an update).")
    economic: str | None = Field(description="e-conomic's value (for email: the address we would take).")


class CustomerRow(_Out):
    customerNumber: int | None = Field(description="The e-conomic customer number (null: not linked).")
    customerId: int | None = Field(description="Our customer id (null: none of ours is linked to it).")
    name: str | None = Field(description="Our name; e-conomic's for customers that are not ours.")
    email: str | None = Field(description="Our billing e-mail; e-conomic's e-mail field for customers not ours.")
    currency: str | None = Field(description="Our currency; e-conomic's for customers not ours.")
    barred: bool = Field(description="Barred in e-conomic.")
    differences: list[Difference] = Field(
        default_factory=list, description="differs: what differs; updated: what was changed (ours -> economic)."
    )


class LinkedRow(CustomerRow):
    previousCustomerNumber: int | None = Field(description="The e-conomic number it was linked to before (null: none).")


class SkippedRow(_Out):
    customerNumber: int | None = Field(description="The e-conomic customer number.")
    customerId: int | None = Field(description="Our customer id (null for a customer not imported).")
    action: str = Field(description="importNew or updateLinked.")
    reason: str = Field(description="Why it was not done.")


class CustomerCounts(_Out):
    """Rows in each list of the report."""

    linked: int = Field(description="Rows in linked.")
    differs: int = Field(description="Rows in differs.")
    new: int = Field(description="Rows in new.")
    unlinked: int = Field(description="Rows in unlinked.")
    missing: int = Field(description="Rows in missing.")
    imported: int = Field(description="Rows in imported.")
    updated: int = Field(description="Rows in updated.")
    linkedNow: int = Field(description="Rows in linkedNow.")
    skipped: int = Field(description="Rows in skipped.")


class CustomerReport(_Out):
    linked: list[CustomerRow] = Field(description="Linked to an e-conomic customer with the same data.")
    differs: list[CustomerRow] = Field(description="Linked, but name, e-mail or currency differ.")
    new: list[CustomerRow] = Field(description="e-conomic customers no customer of ours is linked to.")
    unlinked: list[CustomerRow] = Field(description="Ours without an e-conomic customer number.")
    missing: list[CustomerRow] = Field(description="Ours, linked to a number e-conomic does not have.")
    imported: list[CustomerRow] = Field(description="Customers created from e-conomic by this request.")
    updated: list[CustomerRow] = Field(description="Customers that took e-conomic's data by this request.")
    linkedNow: list[LinkedRow] = Field(description="Customers linked (or re-linked) by this request.")
    skipped: list[SkippedRow] = Field(description="What was asked for (or would be) but cannot be done, and why.")
    dryRun: bool = Field(description="true: nothing was changed; the report shows what would be.")
    counts: CustomerCounts = Field(description="Number of rows in each list.")
    summary: str = Field(description="One sentence saying what happened.")


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


# -- HTTP and CLI ------------------------------------------------------------------------------------

Handler = Callable[[Any], ApiResponse]


def customer_sync_handlers(sync: CustomerSync) -> dict[str, Handler]:
    """Handlers by operationId; each gets `shared.http_api.Call` (tenant from the key)."""

    def compare(call: Any) -> ApiResponse:
        return ApiResponse(200, sync.compare(str(call.principal.tenant)).model_dump(mode="json"))

    def apply(call: Any) -> ApiResponse:
        return ApiResponse(200, sync.apply(str(call.principal.tenant), call.data).model_dump(mode="json"))

    return {"CompareEconomicCustomers": compare, "SyncEconomicCustomers": apply}


def _line(row: CustomerRow) -> str:
    number = f"e-conomic {row.customerNumber}" if row.customerNumber is not None else "e-conomic -"
    ours = f"customer {row.customerId}" if row.customerId is not None else "customer -"
    parts = [number, ours, row.name or "(no name)", row.email or "(no e-mail)", row.currency or "(no currency)"]
    text = "  ".join(parts)
    if row.barred:
        text += "  [barred]"
    if isinstance(row, LinkedRow):
        before = row.previousCustomerNumber
        text += f"  (was e-conomic {before})" if before is not None else "  (was not linked)"
    if row.differences:
        text += "  | " + "; ".join(f"{d.field}: ours {d.ours!r}, e-conomic {d.economic!r}" for d in row.differences)
    return text


def format_report(report: CustomerReport) -> str:
    """A plain-text listing for the command line: one line per customer per category."""
    lines: list[str] = []
    sections: list[tuple[str, Sequence[CustomerRow]]] = [
        ("Linked", report.linked),
        ("Differs", report.differs),
        ("New in e-conomic", report.new),
        ("Not linked", report.unlinked),
        ("Missing in e-conomic", report.missing),
        ("Would import" if report.dryRun else "Imported", report.imported),
        ("Would update" if report.dryRun else "Updated", report.updated),
        ("Would link" if report.dryRun else "Linked now", report.linkedNow),
    ]
    for title, rows in sections:
        lines.append(f"{title} ({len(rows)}):")
        lines += [f"  {_line(row)}" for row in rows]
    lines.append(f"Skipped ({len(report.skipped)}):")
    for s in report.skipped:
        number = s.customerNumber if s.customerNumber is not None else "-"
        ours = f"customer {s.customerId}" if s.customerId is not None else "customer -"
        lines.append(f"  e-conomic {number}  {ours}  {s.action}: {s.reason}")
    lines.append(report.summary)
    if report.dryRun:
        lines.append("Dry run: nothing was changed.")
    return "\n".join(lines) + "\n"
