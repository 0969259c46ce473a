"""One request of the customer sync on a copy of the directory: link, import and update, in that order
(the rules are in `shared.accounting.customers`). Nothing here writes: the sync stores `changed`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from pydantic import TypeAdapter, ValidationError

from shared.accounting.customers_report import Remote, differences, first_email, holders_of, report
from shared.accounting.schemas import CustomerReport, Difference, LinkIn, SkippedRow
from shared.errors import FieldError
from shared.invoicing.directory import Customer
from shared.invoicing.schemas import Currency, CustomerIn, Name

_NAME: TypeAdapter[str] = TypeAdapter(Name)
_CURRENCY: TypeAdapter[str] = TypeAdapter(Currency)
_LABELS = {"customerId": "customer number", "name": "name", "billingEmail": "e-mail", "currency": "currency"}


def _rule(error: ValidationError) -> str:
    return "; ".join(str(e["msg"]) for e in error.errors(include_url=False))


def _who(ids: Iterable[int]) -> str:
    listed = sorted(ids)
    return ("our customer " if len(listed) == 1 else "our customers ") + ", ".join(str(i) for i in listed)


class CustomerPlan:
    """One request on an in-memory copy of the directory: `link`, then `import_new`, then `update_linked`.
    Collects `problems` (the request is then refused), `skipped` rows and the `changed` customers to store."""

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
        return holders_of(self.customers)

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
        return report(
            self.customers,
            self.remote,
            imported=self.imported,
            updated=self.updated,
            linked_now=self.linked_now,
            skipped=self.skipped,
            dry_run=dry_run,
        )
