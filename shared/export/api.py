"""HTTP handlers of the e-conomic export and of the tenant's settings it reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.api_types import ApiResponse
from shared.export.schemas import SettingsOut
from shared.export.service import ExportService
from shared.invoicing.directory import TenantSettings

Handler = Callable[[Any], ApiResponse]


def export_handlers(export: ExportService, settings: Any) -> dict[str, Handler]:
    def start(call: Any) -> ApiResponse:
        from shared.openapi import public_base_url  # openapi imports the operations, which import this package

        base = public_base_url(call.request.headers)
        return export.start(call.principal, call.data, generation=call.generation, base_url=base)

    def status(call: Any) -> ApiResponse:
        return ApiResponse(200, export.status(call.principal, call.data.jobId).model_dump(mode="json"))

    def get_settings(call: Any) -> ApiResponse:
        current = settings.get(call.principal.tenant)
        return ApiResponse(200, SettingsOut(accountingEmail=current.accounting_email).model_dump(mode="json"))

    def put_settings(call: Any) -> ApiResponse:
        new = TenantSettings(accounting_email=call.data.accountingEmail)
        settings.put(call.principal.tenant, new)
        return ApiResponse(200, SettingsOut(accountingEmail=new.accounting_email).model_dump(mode="json"))

    return {
        "CreateEconomicInvoiceDrafts": start,
        "GetEconomicExport": status,
        "GetTenantSettings": get_settings,
        "PutTenantSettings": put_settings,
    }
