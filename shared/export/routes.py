"""The e-conomic export's operations (start over HTTP, status) and the tenant settings it reads, each
with its handler. The queue side is `blueprints/economic.py` -> the export worker."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from shared.export.schemas import (
    STATUS_ROUTE,
    ExportIn,
    ExportStarted,
    JobOut,
    JobRef,
    SettingsIn,
    SettingsOut,
)
from shared.export.service import ExportService
from shared.invoicing.directory import TenantSettings
from shared.platform.keys import ADMIN_RIGHT, RESELLER_RIGHT
from shared.repositories.billing import TableTenantSettings
from shared.web.registry import Call, OperationSpec
from shared.web.types import ApiResponse, public_base_url


class ExportServices(Protocol):
    """What the export's handlers are handed by the composition root."""

    @property
    def export(self) -> ExportService: ...
    @property
    def tenant_settings(self) -> TableTenantSettings: ...


ECONOMIC_TAG = "e-conomic export"
DIRECTORY_TAG = "Billing directory"

Spec = OperationSpec[ExportServices]


def start_export(app: ExportServices, call: Call) -> ApiResponse:
    base = public_base_url(call.request.headers)
    return app.export.start(call.principal, call.data, generation=call.generation, base_url=base)


def may_export(app: ExportServices, call: Call) -> None:
    """Another tenant or adminMode needs the operator right: checked before a replay, too."""
    app.export.authorize(call.principal, call.data)


def get_export(app: ExportServices, call: Call) -> ApiResponse:
    return ApiResponse(200, app.export.status(call.principal, call.data.jobId).model_dump(mode="json"))


def _settings_out(settings: TenantSettings) -> ApiResponse:
    body = SettingsOut(
        accountingEmail=settings.accounting_email,
        defaultProductNumber=settings.default_product_number,
        paymentTermsNumber=settings.payment_terms_number,
        layoutNumber=settings.layout_number,
        documentType=settings.document_type,
    )
    return ApiResponse(200, body.model_dump(mode="json"))


def get_settings(app: ExportServices, call: Call) -> ApiResponse:
    return _settings_out(app.tenant_settings.get(call.principal.tenant))


_SETTING_FIELDS = {
    "accountingEmail": "accounting_email",
    "defaultProductNumber": "default_product_number",
    "paymentTermsNumber": "payment_terms_number",
    "layoutNumber": "layout_number",
    "documentType": "document_type",
}
"""Wire field -> `TenantSettings` field."""


def put_settings(app: ExportServices, call: Call) -> ApiResponse:
    data: SettingsIn = call.data
    # A field the body leaves out keeps its value, null clears it: a caller written when the settings
    # held only accountingEmail must not wipe the accounting defaults by setting the address.
    given = {name: getattr(data, name) for name in data.model_fields_set}
    current = app.tenant_settings.get(call.principal.tenant)
    new = replace(current, **{_SETTING_FIELDS[name]: value for name, value in given.items() if name in _SETTING_FIELDS})
    app.tenant_settings.put(call.principal.tenant, new)
    return _settings_out(new)


ECONOMIC_OPERATIONS: tuple[Spec, ...] = (
    Spec(
        "CreateEconomicInvoiceDrafts",
        "POST",
        "integration/economic/invoice/draft",
        right=RESELLER_RIGHT,
        summary="Export the open invoice drafts to e-conomic as draft invoices or orders (queued)",
        description="Checks everything first (422 `multiple` listing each problem), then queues the export and "
        "answers 202 with the job id and its status URL. All or nothing; the requester and the tenant's "
        "accounting address get an e-mail when it ends. Another tenant or adminMode needs the operator right.",
        handler=start_export,
        authorize=may_export,
        model=ExportIn,
        source="body_or_query",
        creates=True,
        tag=ECONOMIC_TAG,
        response_model=ExportStarted,
        success_status=202,
    ),
    Spec(
        "GetEconomicExport",
        "GET",
        STATUS_ROUTE,
        right=RESELLER_RIGHT,
        summary="Read an export job: success, total, exported, state, errors and the e-conomic numbers",
        handler=get_export,
        model=JobRef,
        source="query",
        tag=ECONOMIC_TAG,
        response_model=JobOut,
    ),
    Spec(
        "GetTenantSettings",
        "GET",
        "billing/settings",
        right=ADMIN_RIGHT,
        summary="Read the tenant's settings: accounting e-mail address and accounting defaults",
        handler=get_settings,
        source="query",
        tag=DIRECTORY_TAG,
        response_model=SettingsOut,
    ),
    Spec(
        "PutTenantSettings",
        "PUT",
        "billing/settings",
        right=ADMIN_RIGHT,
        summary="Set the tenant's settings: the accounting address that gets every export report, and the "
        "defaults the export uses where a contract, customer or request names none (fields left out keep their "
        "value; null clears one)",
        handler=put_settings,
        model=SettingsIn,
        tag=DIRECTORY_TAG,
        response_model=SettingsOut,
    ),
)
