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

from collections.abc import Callable, Mapping

from shared.accounting.customers_plan import CustomerPlan
from shared.accounting.customers_report import Remote
from shared.accounting.ports import EconomicCustomers
from shared.accounting.schemas import CustomerReport, CustomerSyncIn
from shared.errors import (
    AccountingAuthFailed,
    AccountingError,
    AccountingRefused,
    AccountingUnusable,
    FieldError,
    Rejected,
    Unavailable,
    integration_refused,
)
from shared.invoicing.directory import Entry
from shared.invoicing.directory_service import DirectoryService
from shared.platform.secrets import SecretError, SecretInvalid, SecretMissing

# -- the service -------------------------------------------------------------------------------------


class CustomerSync:
    def __init__(
        self,
        directory: DirectoryService,
        economic: Callable[[str], EconomicCustomers],
        drafted_customers: Callable[[str], set[int]],
    ) -> None:
        """`drafted_customers(tenant)`: our customer ids with open or exported invoice drafts."""
        self._directory = directory
        self._economic = economic
        self._drafted = drafted_customers

    def compare(self, tenant: str) -> CustomerReport:
        """The categories as they are now; changes nothing."""
        remote = self._remote(tenant)
        return CustomerPlan(self._directory.load(tenant).customers, {}, remote, lambda: set()).report(None)

    def apply(self, tenant: str, request: CustomerSyncIn) -> CustomerReport:
        """Links, imports and updates as asked, then reports the categories as they are afterwards
        (or would be, for a dry run). Raises `Rejected` (nothing written) for any problem with an
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

        plan = CustomerPlan(directory.customers, contracts, remote, drafted_once)
        plan.link(request.link)
        plan.import_new(request.importNew)
        plan.update_linked(request.updateLinked)
        if plan.problems:
            raise Rejected(
                f"The customer sync cannot run: {len(plan.problems)} problem(s) found; nothing was changed.",
                plan.problems,
            )
        if plan.changed and not request.dryRun:
            entries: list[tuple[str, Entry]] = [(f"customer {cid}", c) for cid, c in sorted(plan.changed.items())]
            problems = self._directory.import_entries(tenant, entries)
            if problems:  # customers reference nothing, so this is not expected
                raise Rejected("The customers could not be stored.", [FieldError("customers", p) for p in problems])
        return plan.report(request.dryRun)

    def _remote(self, tenant: str) -> dict[int, Remote]:
        try:
            economic = self._economic(tenant)
        except (SecretMissing, SecretInvalid) as error:
            raise integration_refused(tenant, error) from None
        try:
            raw = economic.customers()
        except AccountingAuthFailed as error:
            raise integration_refused(tenant, error) from None
        except SecretError:
            raise
        except Unavailable as error:
            raise Unavailable(
                f"e-conomic cannot be reached right now ({error}); retry shortly.", retry_after=30
            ) from None
        except AccountingRefused as error:
            raise AccountingUnusable(f"e-conomic refused to list its customers: {error}") from None
        except AccountingError as error:
            raise AccountingUnusable(f"e-conomic's list of customers could not be read: {error}") from None
        return {number: Remote.of(number, c) for number, c in raw.items() if isinstance(c, Mapping)}
