"""What the e-conomic export needs from the composition root (its handlers' services)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.export.service import ExportService
    from shared.repositories.billing import TableTenantSettings


class ExportServices(Protocol):
    """What the export's handlers are handed by the composition root."""

    @property
    def export(self) -> ExportService: ...
    @property
    def tenant_settings(self) -> TableTenantSettings: ...
