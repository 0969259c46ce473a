"""What the accounting sync needs from the composition root (its handlers' services)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.accounting.customers import CustomerSync
    from shared.accounting.invoices import InvoiceSync


class AccountingServices(Protocol):
    """What the accounting handlers are handed by the composition root."""

    @property
    def invoice_sync(self) -> InvoiceSync: ...
    @property
    def customer_sync(self) -> CustomerSync: ...
    def now(self) -> datetime: ...
    def tenant_exists(self, tenant: str) -> bool: ...
